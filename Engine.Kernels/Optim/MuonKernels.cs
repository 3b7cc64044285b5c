using Engine.Gpu;
using Engine.Numerics;

namespace Engine.Kernels;

/// <summary>
/// Muon on the GPU for one weight matrix: Nesterov momentum in fp32, the update orthogonalised by
/// the quintic Newton–Schulz iteration in bf16 on the tensor-core GEMM (its polynomial steps ride on
/// the GEMM's fused α·AB + β·D epilogue), and the scaled update added to the fp32 weights. Nothing
/// comes back to the host: the Frobenius norm is reduced and applied on the device.
/// </summary>
public static class MuonKernels
{
    /// <summary>The quintic's coefficients (Muon's): X ← a·X + (b·A + c·A²)·X with A = X·Xᵀ.</summary>
    public const float NsA = 3.4445f, NsB = -4.7750f, NsC = 2.0315f;

    private const int GroupSize = 256;

    private static KernelConfig Streaming(int items) => KernelConfig.Linear(Math.Max(1, Math.Min((items + GroupSize - 1) / GroupSize, 4096)), GroupSize);

    [Kernel]
    internal static void ZeroKernel(ArrayView<float> value)
    {
        if (Grid.GlobalIndexX < value.Length)
        {
            value[Grid.GlobalIndexX] = 0f;
        }
    }

    [Kernel]
    internal static void MomentumKernel(ArrayView<float> gradient, ArrayView<float> buffer, ArrayView<float> direction, float momentum, int nesterov, ArrayView<float> sumOfSquares)
    {
        // nanochat's (and Engine's CPU Muon's) lerps: buf ← μ·buf + (1 − μ)·g; direction = (1 − μ)·g + μ·buf
        // (Nesterov) or buf; and Σ direction², one atomic per warp. The (1 − μ) matters beyond a scale: the
        // buffer is saved in checkpoints, and schedules change μ from step to step.
        float squares = 0f;
        for (int i = Grid.GlobalIndexX; i < gradient.Length; i += Grid.GlobalDimX)
        {
            float g = gradient[i];
            float b = momentum * buffer[i] + (1f - momentum) * g;
            buffer[i] = b;
            float d = nesterov != 0 ? (1f - momentum) * g + momentum * b : b;
            direction[i] = d;
            squares += d * d;
        }
        squares = Warp.Sum(squares);
        if (Warp.LaneIdx == 0)
        {
            Atomic.Add(ref sumOfSquares[0], squares);
        }
    }

    [Kernel]
    internal static void NormaliseKernel(ArrayView<float> direction, ArrayView<float> sumOfSquares, ArrayView<uint> x)
    {
        // X = direction / (‖direction‖ + 1e-7) in bf16, the norm read on the device.
        float scale = 1f / (MathF.Sqrt(sumOfSquares[0]) + 1e-7f);
        for (int i = Grid.GlobalIndexX; i < x.Length; i += Grid.GlobalDimX)
        {
            x[i] = TensorCore.PackBFloat162(direction[2 * i] * scale, direction[2 * i + 1] * scale);
        }
    }

    [Kernel]
    internal static void ApplyKernel(ArrayView<float> parameters, ArrayView<uint> update, float step)
    {
        // p += step·update (step carries −lr and the shape scale).
        for (int i = Grid.GlobalIndexX; i < update.Length; i += Grid.GlobalDimX)
        {
            uint u = update[i];
            parameters[2 * i] += step * TensorCore.UnpackBFloat16(u, false);
            parameters[2 * i + 1] += step * TensorCore.UnpackBFloat16(u, true);
        }
    }

    /// <summary>Floats <see cref="Step"/> needs as scratch for a rows × cols matrix.</summary>
    /// <param name="rows">Rows of the weight.</param>
    /// <param name="cols">Columns of the weight.</param>
    public static int FloatWorkspace(int rows, int cols) => rows * cols + 1;

    /// <summary>bf16 values <see cref="Step"/> needs as scratch: two iterates and the two small Gram-sized products.</summary>
    /// <param name="rows">Rows of the weight.</param>
    /// <param name="cols">Columns of the weight.</param>
    public static int Bf16Workspace(int rows, int cols)
    {
        int small = Math.Min(rows, cols);
        return 2 * rows * cols + 2 * small * small;
    }

    /// <summary>
    /// One Muon step on a rows × cols fp32 weight (rows and cols multiples of 128): momentum, the
    /// normalised direction orthogonalised by <paramref name="steps"/> Newton–Schulz iterations on its
    /// wide orientation, then p ← p − lr·√max(1, rows/cols)·update, as Engine's CPU Muon does.
    /// </summary>
    /// <param name="accelerator">Where the views live (a CUDA GPU, or the CPU accelerator at warp size 32).</param>
    /// <param name="parameters">The fp32 weight, updated in place.</param>
    /// <param name="gradient">Its fp32 gradient.</param>
    /// <param name="momentumBuffer">The fp32 momentum buffer, updated in place (zero before the first step).</param>
    /// <param name="rows">Rows of the weight.</param>
    /// <param name="cols">Columns of the weight.</param>
    /// <param name="learningRate">The step's learning rate.</param>
    /// <param name="momentum">μ (nanochat: 0.95).</param>
    /// <param name="nesterov">Nesterov momentum (nanochat: true).</param>
    /// <param name="floatWorkspace"><see cref="FloatWorkspace"/> floats of scratch.</param>
    /// <param name="bf16Workspace"><see cref="Bf16Workspace"/> bf16 values of scratch.</param>
    /// <param name="steps">Newton–Schulz iterations (nanochat: 5).</param>
    public static void Step(Accelerator accelerator, ArrayView<float> parameters, ArrayView<float> gradient, ArrayView<float> momentumBuffer, int rows, int cols,
        float learningRate, float momentum, bool nesterov, ArrayView<float> floatWorkspace, ArrayView<BFloat16> bf16Workspace, int steps = 5)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        int size = rows * cols;
        if (rows <= 0 || cols <= 0 || rows % 128 != 0 || cols % 128 != 0)
        {
            throw new ArgumentException($"Muon on the GPU takes weights whose sides are multiples of 128 (the GEMM's tile); this one is {rows} x {cols}.", nameof(rows));
        }
        Require(parameters.Length, size, nameof(parameters), rows, cols);
        Require(gradient.Length, size, nameof(gradient), rows, cols);
        Require(momentumBuffer.Length, size, nameof(momentumBuffer), rows, cols);
        Require(floatWorkspace.Length, FloatWorkspace(rows, cols), nameof(floatWorkspace), rows, cols);
        Require(bf16Workspace.Length, Bf16Workspace(rows, cols), nameof(bf16Workspace), rows, cols);
        ArrayView<float> direction = floatWorkspace.SubView(0, size), total = floatWorkspace.SubView(size, 1);
        accelerator.LoadKernel<ArrayView<float>>(ZeroKernel)(KernelConfig.Linear(1, 32), total);
        accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, float, int, ArrayView<float>>(MomentumKernel)(
            Streaming(size), gradient, momentumBuffer, direction, momentum, nesterov ? 1 : 0, total);
        ArrayView<BFloat16> x = bf16Workspace.SubView(0, size), next = bf16Workspace.SubView(size, size);
        int small = Math.Min(rows, cols);
        ArrayView<BFloat16> a = bf16Workspace.SubView(2 * size, small * small), b = bf16Workspace.SubView(2 * size + small * small, small * small);
        accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<uint>>(NormaliseKernel)(Streaming(size / 2), direction, total, x.Cast<uint>());
        bool tall = rows > cols;
        for (int i = 0; i < steps; i++)
        {
            if (!tall)
            {
                // Wide X (rows ≤ cols): A = X·Xᵀ; B = c·A·A + b·A (A is symmetric, so A·Aᵀ); X' = B·X + a·X.
                TensorCoreGemm.Bf16(accelerator, x, false, x, true, a, rows, rows, cols);
                TensorCoreGemm.Bf16(accelerator, a, false, a, true, b, rows, rows, rows, NsC, a, NsB);
                TensorCoreGemm.Bf16(accelerator, b, false, x, false, next, rows, cols, rows, 1f, x, NsA);
            }
            else
            {
                // Tall X: the same iteration on Xᵀ, written without transposing: A = Xᵀ·X; X' = X·B + a·X.
                TensorCoreGemm.Bf16(accelerator, x, true, x, false, a, cols, cols, rows);
                TensorCoreGemm.Bf16(accelerator, a, false, a, true, b, cols, cols, cols, NsC, a, NsB);
                TensorCoreGemm.Bf16(accelerator, x, false, b, false, next, rows, cols, cols, 1f, x, NsA);
            }
            (x, next) = (next, x);
        }
        float scale = MathF.Sqrt(Math.Max(1f, (float)rows / cols));
        accelerator.LoadKernel<ArrayView<float>, ArrayView<uint>, float>(ApplyKernel)(Streaming(size / 2), parameters, x.Cast<uint>(), -learningRate * scale);
    }

    /// <summary>Tensor-core FLOPs of one <see cref="Step"/>: per Newton–Schulz iteration on the wide side s × l, X·Xᵀ (2s²l), A·A (2s³) and B·X (2s²l).</summary>
    /// <param name="rows">Rows of the weight.</param>
    /// <param name="cols">Columns of the weight.</param>
    /// <param name="steps">Newton–Schulz iterations.</param>
    public static double Flops(int rows, int cols, int steps = 5)
    {
        double s = Math.Min(rows, cols), l = Math.Max(rows, cols);
        return steps * (4 * s * s * l + 2 * s * s * s);
    }

    private static void Require(int length, int expected, string name, int rows, int cols)
    {
        if (length != expected)
        {
            throw new ArgumentException($"{name} has {length} elements; a {rows} x {cols} weight needs {expected}.", name);
        }
    }
}
