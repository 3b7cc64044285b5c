namespace Engine.Cpu;

/// <summary>Copies between strided layouts, the one loop every view operation ends in.</summary>
internal static class StridedCopy
{
    /// <summary>Gathers a strided view into a contiguous destination (row-major order).</summary>
    public static void ToContiguous<T>(T[] src, int offset, int[] shape, int[] strides, Span<T> dst)
    {
        int count = ShapeUtil.Count(shape);
        if (count == 0) return;
        if (ShapeUtil.IsContiguous(shape, strides))
        {
            src.AsSpan(offset, count).CopyTo(dst);
            return;
        }
        int rank = shape.Length;
        int inner = shape[rank - 1], innerStride = strides[rank - 1];
        Span<int> index = stackalloc int[rank];
        int outer = count / inner;
        int o = 0;
        for (int r = 0; r < outer; r++)
        {
            int s = offset;
            for (int d = 0; d < rank - 1; d++) s += index[d] * strides[d];
            if (innerStride == 1) { src.AsSpan(s, inner).CopyTo(dst.Slice(o, inner)); o += inner; }
            else for (int i = 0; i < inner; i++, s += innerStride) dst[o++] = src[s];
            for (int d = rank - 2; d >= 0; d--)
            {
                if (++index[d] < shape[d]) break;
                index[d] = 0;
            }
        }
    }

    /// <summary>Scatters a contiguous source into a strided destination view.</summary>
    public static void FromContiguous<T>(ReadOnlySpan<T> src, T[] dst, int offset, int[] shape, int[] strides)
    {
        int count = ShapeUtil.Count(shape);
        if (count == 0) return;
        if (ShapeUtil.IsContiguous(shape, strides))
        {
            src[..count].CopyTo(dst.AsSpan(offset, count));
            return;
        }
        int rank = shape.Length;
        int inner = shape[rank - 1], innerStride = strides[rank - 1];
        Span<int> index = stackalloc int[rank];
        int outer = count / inner;
        int o = 0;
        for (int r = 0; r < outer; r++)
        {
            int s = offset;
            for (int d = 0; d < rank - 1; d++) s += index[d] * strides[d];
            for (int i = 0; i < inner; i++, s += innerStride) dst[s] = src[o++];
            for (int d = rank - 2; d >= 0; d--)
            {
                if (++index[d] < shape[d]) break;
                index[d] = 0;
            }
        }
    }
}
