using Engine.Gpu;
using Engine.Numerics;

namespace Engine.Kernels;

/// <summary>
/// The memory-bound kernels of a transformer step in bf16: a copy (the bandwidth roofline itself), the
/// residual add, and nanochat's parameter-free RMSNorm. Each moves 16 bytes per thread per access and
/// does its arithmetic in fp32. Their cost is bytes, so <see cref="BytesMoved"/> is their roofline model.
/// </summary>
public static class MemoryKernels
{
    /// <summary>Threads per group for every kernel here.</summary>
    public const int GroupSize = 256;

    /// <summary>nanochat's RMSNorm epsilon: float32 machine epsilon.</summary>
    public const float RmsNormEpsilon = 1.1920929e-07f;

    [Kernel]
    internal static void CopyKernel(ArrayView<Bf16x8> source, ArrayView<Bf16x8> destination)
    {
        for (int i = Grid.GlobalIndexX; i < source.Length; i += Grid.GlobalDimX)
        {
            destination[i] = source[i];
        }
    }

    private static uint AddPair(uint a, uint b) =>
        TensorCore.PackBFloat162(TensorCore.UnpackBFloat16(a, false) + TensorCore.UnpackBFloat16(b, false),
            TensorCore.UnpackBFloat16(a, true) + TensorCore.UnpackBFloat16(b, true));

    [Kernel]
    internal static void AddKernel(ArrayView<Bf16x8> a, ArrayView<Bf16x8> b, ArrayView<Bf16x8> sum)
    {
        for (int i = Grid.GlobalIndexX; i < a.Length; i += Grid.GlobalDimX)
        {
            Bf16x8 x = a[i];
            Bf16x8 y = b[i];
            Bf16x8 r;
            r.P0 = AddPair(x.P0, y.P0);
            r.P1 = AddPair(x.P1, y.P1);
            r.P2 = AddPair(x.P2, y.P2);
            r.P3 = AddPair(x.P3, y.P3);
            sum[i] = r;
        }
    }

    private static float Squares(uint p)
    {
        float lo = TensorCore.UnpackBFloat16(p, false), hi = TensorCore.UnpackBFloat16(p, true);
        return lo * lo + hi * hi;
    }

    private static uint ScalePair(uint p, float s) =>
        TensorCore.PackBFloat162(TensorCore.UnpackBFloat16(p, false) * s, TensorCore.UnpackBFloat16(p, true) * s);

    private static float Squares(Bf16x8 p) => Squares(p.P0) + Squares(p.P1) + Squares(p.P2) + Squares(p.P3);

    private static Bf16x8 Scale(Bf16x8 p, float s)
    {
        Bf16x8 r;
        r.P0 = ScalePair(p.P0, s);
        r.P1 = ScalePair(p.P1, s);
        r.P2 = ScalePair(p.P2, s);
        r.P3 = ScalePair(p.P3, s);
        return r;
    }

    [Kernel]
    internal static void RmsNormKernel<TPacks>(ArrayView<Bf16x8> x, ArrayView<Bf16x8> y, ArrayView<float> rstd, int packsPerRow, float epsilon)
        where TPacks : struct, IPackCount
    {
        // One warp per row: a row of nanochat's widths (768 to 2048 values, 96 to 256 packs) is a few
        // 512-byte sweeps of the warp, the sum needs only shuffles (no barrier), and the second pass
        // finds the row in L1. (A group per row left most threads idle and ran at half the copy's rate.)
        int row = Grid.IdxX * (Group.DimX / Warp.WarpSize) + Warp.WarpIdx;
        if (row >= rstd.Length)
        {
            return; // The whole warp leaves together: the row is the warp's.
        }
        ArrayView<Bf16x8> input = x.SubView(row * packsPerRow, packsPerRow);
        ArrayView<Bf16x8> output = y.SubView(row * packsPerRow, packsPerRow);
        if (packsPerRow <= TPacks.Count * Warp.WarpSize)
        {
            RmsNormInRegisters<TPacks>(input, output, rstd, row, packsPerRow, epsilon);
            return;
        }
        float squares = 0f;
        for (int i = Warp.LaneIdx; i < packsPerRow; i += Warp.WarpSize)
        {
            Bf16x8 p = input[i];
            squares += Squares(p);
        }
        float total = Warp.Sum(squares);
        float scale = 1f / MathF.Sqrt(total / (packsPerRow * 8) + epsilon);
        if (Warp.LaneIdx == 0)
        {
            rstd[row] = scale;
        }
        for (int i = Warp.LaneIdx; i < packsPerRow; i += Warp.WarpSize)
        {
            Bf16x8 p = input[i];
            output[i] = Scale(p, scale);
        }
    }

    /// <summary>
    /// The row read once: every lane issues all its loads before the first use (the constant-count loops
    /// unroll, so the packs stay in registers), which keeps enough bytes in flight per SM to reach the
    /// memory's bandwidth; the scaled row is written from the same registers.
    /// </summary>
    private static void RmsNormInRegisters<TPacks>(ArrayView<Bf16x8> input, ArrayView<Bf16x8> output, ArrayView<float> rstd, int row, int packsPerRow, float epsilon)
        where TPacks : struct, IPackCount
    {
        Bf16x8Registers packs = default;
        int lane = Warp.LaneIdx;
        for (int k = 0; k < TPacks.Count; k++)
        {
            int i = lane + k * Warp.WarpSize;
            if (i < packsPerRow)
            {
                packs[k] = input[i];
            }
        }
        float squares = 0f;
        for (int k = 0; k < TPacks.Count; k++)
        {
            Bf16x8 p = packs[k]; // Zero beyond the row: adds nothing.
            squares += Squares(p);
        }
        float total = Warp.Sum(squares);
        float scale = 1f / MathF.Sqrt(total / (packsPerRow * 8) + epsilon);
        if (lane == 0)
        {
            rstd[row] = scale;
        }
        for (int k = 0; k < TPacks.Count; k++)
        {
            int i = lane + k * Warp.WarpSize;
            if (i < packsPerRow)
            {
                Bf16x8 p = packs[k];
                output[i] = Scale(p, scale);
            }
        }
    }

    private static ArrayView<Bf16x8> Packs(ArrayView<BFloat16> view, string name)
    {
        if (view.Length % 8 != 0)
        {
            throw new ArgumentException($"{name} has {view.Length} elements; the bf16 memory kernels move 8 at a time, so the length must be a multiple of 8.", name);
        }
        return view.Cast<Bf16x8>();
    }

    private static KernelConfig Streaming(Accelerator accelerator, int packs)
    {
        // Enough groups to fill the machine a few times over; the grid-stride loop does the rest.
        int groups = Math.Max(1, Math.Min((packs + GroupSize - 1) / GroupSize, 16 * 1024));
        return KernelConfig.Linear(groups, GroupSize);
    }

    /// <summary>Copies <paramref name="source"/> into <paramref name="destination"/> (same length, a multiple of 8).</summary>
    /// <param name="accelerator">Where both views live.</param>
    /// <param name="source">The values to copy.</param>
    /// <param name="destination">Receives the values.</param>
    public static void Copy(Accelerator accelerator, ArrayView<BFloat16> source, ArrayView<BFloat16> destination)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        RequireSameLength(source, destination, nameof(destination));
        ArrayView<Bf16x8> s = Packs(source, nameof(source)), d = Packs(destination, nameof(destination));
        accelerator.LoadKernel<ArrayView<Bf16x8>, ArrayView<Bf16x8>>(CopyKernel)(Streaming(accelerator, s.Length), s, d);
    }

    /// <summary><paramref name="sum"/> = <paramref name="a"/> + <paramref name="b"/> in fp32, rounded to bf16 (the residual add).</summary>
    /// <param name="accelerator">Where the views live.</param>
    /// <param name="a">First addend.</param>
    /// <param name="b">Second addend, the same length.</param>
    /// <param name="sum">The result, the same length; may be <paramref name="a"/> itself.</param>
    public static void Add(Accelerator accelerator, ArrayView<BFloat16> a, ArrayView<BFloat16> b, ArrayView<BFloat16> sum)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        RequireSameLength(a, b, nameof(b));
        RequireSameLength(a, sum, nameof(sum));
        ArrayView<Bf16x8> pa = Packs(a, nameof(a)), pb = Packs(b, nameof(b)), ps = Packs(sum, nameof(sum));
        accelerator.LoadKernel<ArrayView<Bf16x8>, ArrayView<Bf16x8>, ArrayView<Bf16x8>>(AddKernel)(Streaming(accelerator, pa.Length), pa, pb, ps);
    }

    /// <summary>
    /// nanochat's RMSNorm without a weight: y = x / sqrt(mean(x²) + eps) per row of <paramref name="width"/>
    /// values, statistics in fp32, output rounded to bf16; the reciprocal RMS of each row goes to
    /// <paramref name="rstd"/> for the backward pass.
    /// </summary>
    /// <param name="accelerator">Where the views live.</param>
    /// <param name="x">Rows × width values, row-major.</param>
    /// <param name="y">The normalised rows, same shape.</param>
    /// <param name="rstd">One float per row.</param>
    /// <param name="width">Values per row, a multiple of 8.</param>
    /// <param name="epsilon">Added to the mean square; nanochat uses float32 machine epsilon.</param>
    public static void RmsNorm(Accelerator accelerator, ArrayView<BFloat16> x, ArrayView<BFloat16> y, ArrayView<float> rstd, int width, float epsilon = RmsNormEpsilon)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        if (width <= 0 || width % 8 != 0)
        {
            throw new ArgumentException($"RMSNorm width {width}: it must be a positive multiple of 8 (the kernel moves 8 bf16 values at a time).", nameof(width));
        }
        if (x.Length % width != 0)
        {
            throw new ArgumentException($"x has {x.Length} elements, not a whole number of rows of width {width}.", nameof(x));
        }
        RequireSameLength(x, y, nameof(y));
        int rows = x.Length / width;
        if (rstd.Length != rows)
        {
            throw new ArgumentException($"rstd has {rstd.Length} elements; x has {rows} rows of width {width}, and rstd needs one per row.", nameof(rstd));
        }
        ArrayView<Bf16x8> px = Packs(x, nameof(x)), py = Packs(y, nameof(y));
        int rowsPerGroup = GroupSize / accelerator.WarpSize;
        KernelConfig config = KernelConfig.Linear((rows + rowsPerGroup - 1) / rowsPerGroup, GroupSize);
        // The fewest registers that hold the row: narrow rows get the four-pack specialisation.
        if (width / 8 <= FourPacks.Count * accelerator.WarpSize)
        {
            accelerator.LoadKernel<ArrayView<Bf16x8>, ArrayView<Bf16x8>, ArrayView<float>, int, float>(RmsNormKernel<FourPacks>)(config, px, py, rstd, width / 8, epsilon);
        }
        else
        {
            accelerator.LoadKernel<ArrayView<Bf16x8>, ArrayView<Bf16x8>, ArrayView<float>, int, float>(RmsNormKernel<EightPacks>)(config, px, py, rstd, width / 8, epsilon);
        }
    }

    /// <summary>The bytes a kernel here must read and write at the least: its roofline is this over the memory bandwidth.</summary>
    /// <param name="kernel">"copy", "add" or "rmsnorm".</param>
    /// <param name="elements">bf16 values per operand.</param>
    /// <param name="rows">Rows (RMSNorm only).</param>
    public static long BytesMoved(string kernel, long elements, long rows = 0) => kernel switch
    {
        "copy" => 2 * elements * 2,
        "add" => 3 * elements * 2,
        "rmsnorm" => 2 * elements * 2 + rows * 4,
        _ => throw new ArgumentException($"Unknown kernel '{kernel}': expected copy, add or rmsnorm.", nameof(kernel)),
    };

    private static void RequireSameLength(ArrayView<BFloat16> a, ArrayView<BFloat16> b, string name)
    {
        if (a.Length != b.Length)
        {
            throw new ArgumentException($"{name} has {b.Length} elements, but the first operand has {a.Length}; they must match.", name);
        }
    }
}
