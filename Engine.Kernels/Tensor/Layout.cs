namespace Engine.Kernels;

/// <summary>
/// How an elementwise kernel walks up to six dimensions: the sizes (outermost first) and, for two
/// operands A and B, their element strides and offsets. Broadcast dimensions have stride 0. Built on the
/// host by <see cref="Of"/>, which merges dimensions that are contiguous in every operand and pads the
/// front with size-1 dimensions; kernels then locate an element of the row-major index space with a fixed
/// chain of divisions, no loop and no local array.
/// </summary>
public struct StridedLayout
{
    /// <summary>The most dimensions a layout holds after merging.</summary>
    public const int MaxRank = 6;

    /// <summary>Sizes, outermost first.</summary>
    public int D0, D1, D2, D3, D4, D5;

    /// <summary>Strides of operand A.</summary>
    public int A0, A1, A2, A3, A4, A5;

    /// <summary>Strides of operand B.</summary>
    public int B0, B1, B2, B3, B4, B5;

    /// <summary>The offsets of the first element of A and of B.</summary>
    public int OffsetA, OffsetB;

    /// <summary>Elements in the index space.</summary>
    public readonly long Count => (long)D0 * D1 * D2 * D3 * D4 * D5;

    /// <summary>Where element <paramref name="i"/> (row-major over the sizes of <paramref name="l"/>) lies in A.</summary>
    public static int LocateA(StridedLayout l, int i) => Walk(l, i, l.OffsetA, l.A0, l.A1, l.A2, l.A3, l.A4, l.A5);

    /// <summary>Where element <paramref name="i"/> (row-major over the sizes of <paramref name="l"/>) lies in B.</summary>
    public static int LocateB(StridedLayout l, int i) => Walk(l, i, l.OffsetB, l.B0, l.B1, l.B2, l.B3, l.B4, l.B5);

    /// <summary>The offset of element <paramref name="i"/> for one operand's strides: a fixed chain of divisions, innermost first.</summary>
    private static int Walk(StridedLayout l, int i, int at, int s0, int s1, int s2, int s3, int s4, int s5)
    {
        at += i % l.D5 * s5;
        i /= l.D5;
        at += i % l.D4 * s4;
        i /= l.D4;
        at += i % l.D3 * s3;
        i /= l.D3;
        at += i % l.D2 * s2;
        i /= l.D2;
        at += i % l.D1 * s1;
        i /= l.D1;
        return at + i * s0;
    }

    /// <summary>
    /// The layout of an index space of <paramref name="sizes"/> over two operands with the given strides
    /// (0 where broadcast) and offsets. Size-1 dimensions are dropped and neighbours contiguous in both
    /// operands are merged; more than <see cref="MaxRank"/> dimensions left after that is refused.
    /// </summary>
    /// <param name="sizes">The index space, outermost first.</param>
    /// <param name="stridesA">A's stride per dimension.</param>
    /// <param name="offsetA">A's first element.</param>
    /// <param name="stridesB">B's stride per dimension.</param>
    /// <param name="offsetB">B's first element.</param>
    public static StridedLayout Of(ReadOnlySpan<int> sizes, ReadOnlySpan<int> stridesA, int offsetA, ReadOnlySpan<int> stridesB, int offsetB)
    {
        if (stridesA.Length != sizes.Length || stridesB.Length != sizes.Length)
        {
            throw new ArgumentException($"A layout of rank {sizes.Length} needs that many strides per operand; got {stridesA.Length} and {stridesB.Length}.");
        }
        Span<int> d = stackalloc int[sizes.Length], a = stackalloc int[sizes.Length], b = stackalloc int[sizes.Length];
        int rank = 0;
        for (int k = 0; k < sizes.Length; k++)
        {
            if (sizes[k] == 1)
            {
                continue;
            }
            if (rank > 0 && a[rank - 1] == stridesA[k] * sizes[k] && b[rank - 1] == stridesB[k] * sizes[k])
            {
                // The previous dimension steps over exactly this one in both operands: one dimension.
                d[rank - 1] *= sizes[k];
                a[rank - 1] = stridesA[k];
                b[rank - 1] = stridesB[k];
                continue;
            }
            d[rank] = sizes[k];
            a[rank] = stridesA[k];
            b[rank] = stridesB[k];
            rank++;
        }
        if (rank > MaxRank)
        {
            throw new NotSupportedException($"An elementwise operation over {rank} dimensions that cannot be merged; the GPU kernels handle at most {MaxRank}. Make an operand contiguous first.");
        }
        Span<int> dd = stackalloc int[MaxRank], aa = stackalloc int[MaxRank], bb = stackalloc int[MaxRank];
        dd.Fill(1);
        int pad = MaxRank - rank;
        for (int k = 0; k < rank; k++)
        {
            dd[pad + k] = d[k];
            aa[pad + k] = a[k];
            bb[pad + k] = b[k];
        }
        return new StridedLayout
        {
            D0 = dd[0], D1 = dd[1], D2 = dd[2], D3 = dd[3], D4 = dd[4], D5 = dd[5],
            A0 = aa[0], A1 = aa[1], A2 = aa[2], A3 = aa[3], A4 = aa[4], A5 = aa[5],
            B0 = bb[0], B1 = bb[1], B2 = bb[2], B3 = bb[3], B4 = bb[4], B5 = bb[5],
            OffsetA = offsetA,
            OffsetB = offsetB,
        };
    }
}
