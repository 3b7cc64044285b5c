using Engine.Gpu;
using Engine.Numerics;

namespace Engine.Kernels;

/// <summary>
/// The memory-bound forward and backward kernels of the nanochat GPT's training step besides the
/// products and attention: RMSNorm's backward, ReLU² and its backward, rotary embeddings (the
/// backward is the same rotation the other way), the fused softcap and cross-entropy of the head
/// (loss and logit gradient in one pass, no probability matrix), and the AdamW update. Activations
/// are bf16 with fp32 arithmetic; optimizer state and master weights are fp32.
/// </summary>
public static class TrainingKernels
{
    /// <summary>Threads per group for the elementwise kernels.</summary>
    public const int GroupSize = 256;

    /// <summary>Threads per group of the cross-entropy kernel: one group per row of logits.</summary>
    public const int CrossEntropyGroupSize = 256;

    private const float Log2E = 1.44269504088896341f;
    private const float Ln2 = 0.693147180559945309f;

    private static float Lo(uint pair) => TensorCore.UnpackBFloat16(pair, false);

    private static float Hi(uint pair) => TensorCore.UnpackBFloat16(pair, true);

    private static float Dot(Bf16x8 a, Bf16x8 b) =>
        Lo(a.P0) * Lo(b.P0) + Hi(a.P0) * Hi(b.P0) + Lo(a.P1) * Lo(b.P1) + Hi(a.P1) * Hi(b.P1)
        + Lo(a.P2) * Lo(b.P2) + Hi(a.P2) * Hi(b.P2) + Lo(a.P3) * Lo(b.P3) + Hi(a.P3) * Hi(b.P3);

    /// <summary>r·dy − c·x per pair, rounded to bf16.</summary>
    private static uint NormGradPair(uint dy, uint x, float r, float c) =>
        TensorCore.PackBFloat162(r * Lo(dy) - c * Lo(x), r * Hi(dy) - c * Hi(x));

    [Kernel]
    internal static void RmsNormBackwardKernel(ArrayView<Bf16x8> x, ArrayView<Bf16x8> dy, ArrayView<float> rstd, ArrayView<Bf16x8> dx, int packsPerRow)
    {
        // One warp per row, as the forward: dx = r·dy − x·r³·mean(dy∘x), with r the saved 1/rms.
        int row = Grid.IdxX * (Group.DimX / Warp.WarpSize) + Warp.WarpIdx;
        if (row >= rstd.Length)
        {
            return;
        }
        ArrayView<Bf16x8> xs = x.SubView(row * packsPerRow, packsPerRow), dys = dy.SubView(row * packsPerRow, packsPerRow);
        ArrayView<Bf16x8> dxs = dx.SubView(row * packsPerRow, packsPerRow);
        float dot = 0f;
        for (int i = Warp.LaneIdx; i < packsPerRow; i += Warp.WarpSize)
        {
            dot += Dot(xs[i], dys[i]);
        }
        dot = Warp.Sum(dot);
        float r = rstd[row];
        float c = r * r * r * dot / (packsPerRow * 8);
        for (int i = Warp.LaneIdx; i < packsPerRow; i += Warp.WarpSize)
        {
            Bf16x8 g = dys[i], v = xs[i], o;
            o.P0 = NormGradPair(g.P0, v.P0, r, c);
            o.P1 = NormGradPair(g.P1, v.P1, r, c);
            o.P2 = NormGradPair(g.P2, v.P2, r, c);
            o.P3 = NormGradPair(g.P3, v.P3, r, c);
            dxs[i] = o;
        }
    }

    private static uint ReluSquaredPair(uint x)
    {
        float a = MathF.Max(Lo(x), 0f), b = MathF.Max(Hi(x), 0f);
        return TensorCore.PackBFloat162(a * a, b * b);
    }

    private static uint ReluSquaredGradPair(uint x, uint dy) =>
        TensorCore.PackBFloat162(2f * MathF.Max(Lo(x), 0f) * Lo(dy), 2f * MathF.Max(Hi(x), 0f) * Hi(dy));

    [Kernel]
    internal static void ReluSquaredKernel(ArrayView<Bf16x8> x, ArrayView<Bf16x8> y)
    {
        for (int i = Grid.GlobalIndexX; i < x.Length; i += Grid.GlobalDimX)
        {
            Bf16x8 v = x[i], o;
            o.P0 = ReluSquaredPair(v.P0);
            o.P1 = ReluSquaredPair(v.P1);
            o.P2 = ReluSquaredPair(v.P2);
            o.P3 = ReluSquaredPair(v.P3);
            y[i] = o;
        }
    }

    [Kernel]
    internal static void ReluSquaredBackwardKernel(ArrayView<Bf16x8> x, ArrayView<Bf16x8> dy, ArrayView<Bf16x8> dx)
    {
        for (int i = Grid.GlobalIndexX; i < x.Length; i += Grid.GlobalDimX)
        {
            Bf16x8 v = x[i], g = dy[i], o;
            o.P0 = ReluSquaredGradPair(v.P0, g.P0);
            o.P1 = ReluSquaredGradPair(v.P1, g.P1);
            o.P2 = ReluSquaredGradPair(v.P2, g.P2);
            o.P3 = ReluSquaredGradPair(v.P3, g.P3);
            dx[i] = o;
        }
    }

    [Kernel]
    internal static void RotaryKernel(ArrayView<BFloat16> x, ArrayView<float> cos, ArrayView<float> sin, ArrayView<BFloat16> y, int sequence, int heads, int halfDim, float direction)
    {
        // One thread per rotated pair (x1 = x[i], x2 = x[i + D/2]) of one (batch, token, head) row.
        int index = Grid.GlobalIndexX;
        int pairs = x.Length / 2;
        if (index >= pairs)
        {
            return;
        }
        int i = index % halfDim, row = index / halfDim; // row = (batch·T + t)·H + head
        int t = (row / heads) % sequence;
        float c = cos[t * halfDim + i], s = sin[t * halfDim + i] * direction;
        int at = row * 2 * halfDim + i;
        float x1 = (float)x[at], x2 = (float)x[at + halfDim];
        y[at] = (BFloat16)(x1 * c + x2 * s);
        y[at + halfDim] = (BFloat16)(x2 * c - x1 * s);
    }

    /// <summary>cap·tanh(z/cap) through ex2: 1 − 2/(e^(2z/cap) + 1), exact at the extremes (±cap) and accurate to a few ulp of cap near 0.</summary>
    private static float Softcap(float z, float cap)
    {
        if (cap <= 0f)
        {
            return z;
        }
        float e = FastMath.Ex2(2f * Log2E * z / cap);
        return cap - 2f * cap / (e + 1f);
    }

    [Kernel]
    internal static void CrossEntropyKernel(ArrayView<BFloat16> logits, ArrayView<int> targets, ArrayView<float> losses, ArrayView<BFloat16> dlogits, int vocab, float cap, float gradScale, int writeGradient)
    {
        // One group per row: each thread keeps a running max and sum over its strided share of the
        // vocabulary (online softmax), the group combines them through shared memory, then a second
        // sweep writes (softmax − onehot)·scale·(1 − (zc/cap)²) over the same row.
        ArrayView<float> maxes = SharedMemory.Allocate<float>(CrossEntropyGroupSize);
        ArrayView<float> sums = SharedMemory.Allocate<float>(CrossEntropyGroupSize);
        int row = Grid.IdxX, t = Group.IdxX;
        ArrayView<BFloat16> z = logits.SubView(row * vocab, vocab);
        int target = targets[row];
        float max = float.NegativeInfinity, sum = 0f;
        for (int j = t; j < vocab; j += CrossEntropyGroupSize)
        {
            float v = Softcap((float)z[j], cap) * Log2E;
            if (v > max)
            {
                sum = sum * FastMath.Ex2(max - v) + 1f;
                max = v;
            }
            else
            {
                sum += FastMath.Ex2(v - max);
            }
        }
        maxes[t] = max;
        sums[t] = sum;
        Group.Barrier();
        for (int stride = CrossEntropyGroupSize / 2; stride > 0; stride /= 2)
        {
            if (t < stride)
            {
                float m1 = maxes[t], m2 = maxes[t + stride];
                float m = FastMath.Max(m1, m2);
                float s1 = sums[t], s2 = sums[t + stride];
                // A side with no values (max −∞) adds nothing.
                sums[t] = (m1 == float.NegativeInfinity ? 0f : s1 * FastMath.Ex2(m1 - m)) + (m2 == float.NegativeInfinity ? 0f : s2 * FastMath.Ex2(m2 - m));
                maxes[t] = m;
            }
            Group.Barrier();
        }
        float rowMax = maxes[0], rowSum = sums[0];
        float lse2 = rowMax + FastMath.Lg2(rowSum); // log2 of Σ 2^(zc·log2e)
        // A negative target is ignored; one past the vocabulary cannot be reported from here, so its
        // loss and gradient are NaN, which the trainer stops on (naming the step).
        bool ignored = target < 0;
        bool invalid = target >= vocab;
        if (t == 0)
        {
            float loss = 0f;
            if (invalid)
            {
                loss = float.NaN;
            }
            else if (!ignored)
            {
                loss = (lse2 - Softcap((float)z[target], cap) * Log2E) * Ln2;
            }
            losses[row] = loss;
        }
        if (writeGradient == 0)
        {
            return;
        }
        ArrayView<BFloat16> dz = dlogits.SubView(row * vocab, vocab);
        for (int j = t; j < vocab; j += CrossEntropyGroupSize)
        {
            float zc = Softcap((float)z[j], cap);
            float p = FastMath.Ex2(zc * Log2E - lse2);
            float g = invalid ? float.NaN : ignored ? 0f : (p - (j == target ? 1f : 0f)) * gradScale;
            if (cap > 0f)
            {
                float u = zc / cap;
                g *= 1f - u * u;
            }
            dz[j] = (BFloat16)g;
        }
    }

    [Kernel]
    internal static void EmbeddingKernel(ArrayView<int> ids, ArrayView<Bf16x8> table, ArrayView<Bf16x8> output, int packsPerRow, int vocab)
    {
        // One thread per 16-byte pack of an output row.
        for (int i = Grid.GlobalIndexX; i < output.Length; i += Grid.GlobalDimX)
        {
            int row = i / packsPerRow, pack = i - row * packsPerRow;
            int id = ids[row];
            if ((uint)id < (uint)vocab)
            {
                output[i] = table[id * packsPerRow + pack];
            }
            else
            {
                // An id outside the vocabulary cannot be reported from the GPU: the row becomes NaN, so the
                // loss is NaN and the trainer's check stops the run (the launcher names the rule).
                Bf16x8 nan;
                nan.P0 = 0x7FC07FC0u;
                nan.P1 = 0x7FC07FC0u;
                nan.P2 = 0x7FC07FC0u;
                nan.P3 = 0x7FC07FC0u;
                output[i] = nan;
            }
        }
    }

    [Kernel]
    internal static void EmbeddingBackwardKernel(ArrayView<int> ids, ArrayView<uint> dOutput, ArrayView<float> dTable, int width, int vocab)
    {
        // One thread per pair of an output row's gradient, added atomically into the fp32 table gradient
        // (rows of a repeated token meet there).
        int half = width / 2;
        for (int i = Grid.GlobalIndexX; i < dOutput.Length; i += Grid.GlobalDimX)
        {
            int row = i / half, pair = i - row * half;
            int id = ids[row];
            if ((uint)id < (uint)vocab)
            {
                uint g = dOutput[i];
                Atomic.Add(ref dTable[id * width + 2 * pair], Lo(g));
                Atomic.Add(ref dTable[id * width + 2 * pair + 1], Hi(g));
            }
        }
    }

    [Kernel]
    internal static void ToBf16Kernel(ArrayView<float> source, ArrayView<BFloat16> destination)
    {
        // Pairs as one 32-bit store each; an odd count leaves one value, which the first thread converts.
        int count = destination.Length;
        ArrayView<uint> pairs = destination.SubView(0, count & ~1).Cast<uint>();
        for (int i = Grid.GlobalIndexX; i < pairs.Length; i += Grid.GlobalDimX)
        {
            pairs[i] = TensorCore.PackBFloat162(source[2 * i], source[2 * i + 1]);
        }
        if ((count & 1) != 0 && Grid.GlobalIndexX == 0)
        {
            destination[count - 1] = (BFloat16)source[count - 1];
        }
    }

    [Kernel]
    internal static void ToFloatKernel(ArrayView<BFloat16> source, ArrayView<float> destination)
    {
        int count = source.Length;
        ArrayView<uint> pairs = source.SubView(0, count & ~1).Cast<uint>();
        for (int i = Grid.GlobalIndexX; i < pairs.Length; i += Grid.GlobalDimX)
        {
            uint pair = pairs[i];
            destination[2 * i] = Lo(pair);
            destination[2 * i + 1] = Hi(pair);
        }
        if ((count & 1) != 0 && Grid.GlobalIndexX == 0)
        {
            destination[count - 1] = (float)source[count - 1];
        }
    }

    [Kernel]
    internal static void SumOfSquaresKernel(ArrayView<float> x, ArrayView<float> total)
    {
        // Per thread, then per warp with shuffles, then one atomic per warp (a few thousand at most).
        float sum = 0f;
        for (int i = Grid.GlobalIndexX; i < x.Length; i += Grid.GlobalDimX)
        {
            float v = x[i];
            sum += v * v;
        }
        sum = Warp.Sum(sum);
        if (Warp.LaneIdx == 0)
        {
            Atomic.Add(ref total[0], sum);
        }
    }

    [Kernel]
    internal static void AdamWKernel(ArrayView<float> parameters, ArrayView<float> gradients, ArrayView<float> m, ArrayView<float> v, AdamWStep step)
    {
        for (int i = Grid.GlobalIndexX; i < parameters.Length; i += Grid.GlobalDimX)
        {
            float g = gradients[i];
            float mi = step.Beta1 * m[i] + (1f - step.Beta1) * g;
            float vi = step.Beta2 * v[i] + (1f - step.Beta2) * g * g;
            m[i] = mi;
            v[i] = vi;
            float p = parameters[i] * (1f - step.LearningRate * step.WeightDecay);
            parameters[i] = p - step.LearningRate * (mi / step.Bias1) / (MathF.Sqrt(vi / step.Bias2) + step.Epsilon);
        }
    }

    /// <summary>
    /// The fewest bytes a kernel here must read and write (its roofline is this over the memory bandwidth):
    /// bf16 activations, fp32 statistics and optimizer state. <paramref name="elements"/> counts the
    /// kernel's main tensor; <paramref name="rows"/> its rows (norms, cross-entropy, embedding).
    /// </summary>
    /// <param name="kernel">"rmsnorm-backward", "relu2", "relu2-backward", "rotary", "cross-entropy", "embedding", "embedding-backward", "adamw", "to-bf16", "to-float" or "sum-of-squares".</param>
    /// <param name="elements">Values in the main tensor.</param>
    /// <param name="rows">Rows of it, where the kernel works by rows.</param>
    public static long BytesMoved(string kernel, long elements, long rows = 0) => kernel switch
    {
        "rmsnorm-backward" => 3 * elements * 2 + rows * 4,   // x, dy in; dx out; rstd
        "relu2" => 2 * elements * 2,
        "relu2-backward" => 3 * elements * 2,
        "rotary" => 2 * elements * 2,                        // the cos/sin tables stay in cache
        "cross-entropy" => 2 * elements * 2 + rows * 8,      // logits in, their gradient out; targets and losses
        "embedding" => 2 * elements * 2 + rows * 4,          // rows gathered, rows written, ids
        "embedding-backward" => elements * 2 + 2 * elements * 4 + rows * 4, // bf16 gradient in; fp32 table rows read and written
        "adamw" => 7 * elements * 4,                         // p, g, m, v in; p, m, v out
        "to-bf16" => elements * (4 + 2),
        "to-float" => elements * (2 + 4),
        "sum-of-squares" => elements * 4,
        _ => throw new ArgumentException($"Unknown kernel '{kernel}': expected one of the names in the documentation of BytesMoved.", nameof(kernel)),
    };

    private static KernelConfig Streaming(int items)
    {
        int groups = Math.Max(1, Math.Min((items + GroupSize - 1) / GroupSize, 16 * 1024));
        return KernelConfig.Linear(groups, GroupSize);
    }

    private static ArrayView<Bf16x8> Packs(ArrayView<BFloat16> view, string name)
    {
        if (view.Length % 8 != 0)
        {
            throw new ArgumentException($"{name} has {view.Length} elements; these kernels move 8 bf16 values at a time, so the length must be a multiple of 8.", name);
        }
        return view.Cast<Bf16x8>();
    }

    private static void SameLength<T, U>(ArrayView<T> a, string aName, ArrayView<U> b, string bName)
        where T : unmanaged
        where U : unmanaged
    {
        if (a.Length != b.Length)
        {
            throw new ArgumentException($"{bName} has {b.Length} elements and {aName} has {a.Length}; they must match.", bName);
        }
    }

    /// <summary>
    /// The gradient of <see cref="MemoryKernels.RmsNorm"/>: dx = r·dy − x·r³·mean(dy∘x) per row, from the
    /// input and the saved reciprocal RMS.
    /// </summary>
    /// <param name="accelerator">Where the views live.</param>
    /// <param name="x">The forward input, rows × width.</param>
    /// <param name="dy">The output gradient, same shape.</param>
    /// <param name="rstd">The forward pass's 1/rms, one per row.</param>
    /// <param name="dx">Written: the input gradient, same shape.</param>
    /// <param name="width">Values per row, a multiple of 8.</param>
    public static void RmsNormBackward(Accelerator accelerator, ArrayView<BFloat16> x, ArrayView<BFloat16> dy, ArrayView<float> rstd, ArrayView<BFloat16> dx, int width)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        if (width <= 0 || width % 8 != 0 || x.Length % width != 0)
        {
            throw new ArgumentException($"RMSNorm width {width} with {x.Length} values: the width must be a positive multiple of 8 dividing the length.", nameof(width));
        }
        SameLength(x, nameof(x), dy, nameof(dy));
        SameLength(x, nameof(x), dx, nameof(dx));
        int rows = x.Length / width;
        if (rstd.Length != rows)
        {
            throw new ArgumentException($"rstd has {rstd.Length} elements; x has {rows} rows of width {width}.", nameof(rstd));
        }
        int rowsPerGroup = GroupSize / accelerator.WarpSize;
        accelerator.LoadKernel<ArrayView<Bf16x8>, ArrayView<Bf16x8>, ArrayView<float>, ArrayView<Bf16x8>, int>(RmsNormBackwardKernel)(
            KernelConfig.Linear((rows + rowsPerGroup - 1) / rowsPerGroup, GroupSize), Packs(x, nameof(x)), Packs(dy, nameof(dy)), rstd, Packs(dx, nameof(dx)), width / 8);
    }

    /// <summary>y = relu(x)², the GPT's MLP activation.</summary>
    /// <param name="accelerator">Where the views live.</param>
    /// <param name="x">The input (a multiple of 8 values).</param>
    /// <param name="y">Written: the activation, same length.</param>
    public static void ReluSquared(Accelerator accelerator, ArrayView<BFloat16> x, ArrayView<BFloat16> y)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        SameLength(x, nameof(x), y, nameof(y));
        ArrayView<Bf16x8> px = Packs(x, nameof(x));
        accelerator.LoadKernel<ArrayView<Bf16x8>, ArrayView<Bf16x8>>(ReluSquaredKernel)(Streaming(px.Length), px, Packs(y, nameof(y)));
    }

    /// <summary>dx = 2·relu(x)·dy.</summary>
    /// <param name="accelerator">Where the views live.</param>
    /// <param name="x">The forward input.</param>
    /// <param name="dy">The output gradient, same length.</param>
    /// <param name="dx">Written: the input gradient, same length.</param>
    public static void ReluSquaredBackward(Accelerator accelerator, ArrayView<BFloat16> x, ArrayView<BFloat16> dy, ArrayView<BFloat16> dx)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        SameLength(x, nameof(x), dy, nameof(dy));
        SameLength(x, nameof(x), dx, nameof(dx));
        ArrayView<Bf16x8> px = Packs(x, nameof(x));
        accelerator.LoadKernel<ArrayView<Bf16x8>, ArrayView<Bf16x8>, ArrayView<Bf16x8>>(ReluSquaredBackwardKernel)(Streaming(px.Length), px, Packs(dy, nameof(dy)), Packs(dx, nameof(dx)));
    }

    /// <summary>
    /// nanochat's rotary embedding on [B, T, H, D] rows, halves rotated: y1 = x1·cos + x2·sin,
    /// y2 = −x1·sin + x2·cos with x1 the first D/2 values of a head and x2 the rest, cos and sin
    /// [T, D/2] in fp32. With <paramref name="backward"/> the rotation runs the other way (sin negated),
    /// which is its gradient: dx from dy.
    /// </summary>
    /// <param name="accelerator">Where the views live.</param>
    /// <param name="x">[B, T, H, D] values (or dy).</param>
    /// <param name="cos">[T, D/2] cosines.</param>
    /// <param name="sin">[T, D/2] sines.</param>
    /// <param name="y">Written: same shape as x (or dx). May not overlap x.</param>
    /// <param name="sequence">T.</param>
    /// <param name="heads">H.</param>
    /// <param name="headDim">D, even.</param>
    /// <param name="backward">Rotate by the negative angle (the backward pass).</param>
    public static void Rotary(Accelerator accelerator, ArrayView<BFloat16> x, ArrayView<float> cos, ArrayView<float> sin, ArrayView<BFloat16> y, int sequence, int heads, int headDim, bool backward = false)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        if (sequence <= 0 || heads <= 0 || headDim <= 0 || headDim % 2 != 0 || x.Length % ((long)sequence * heads * headDim) != 0)
        {
            throw new ArgumentException($"x has {x.Length} values, not a whole number of [T={sequence}, H={heads}, D={headDim}] blocks with D even.", nameof(x));
        }
        SameLength(x, nameof(x), y, nameof(y));
        if (cos.Length != sequence * headDim / 2 || sin.Length != cos.Length)
        {
            throw new ArgumentException($"cos has {cos.Length} and sin {sin.Length} values; [T={sequence}, D/2={headDim / 2}] needs {sequence * headDim / 2} each.", nameof(cos));
        }
        accelerator.LoadKernel<ArrayView<BFloat16>, ArrayView<float>, ArrayView<float>, ArrayView<BFloat16>, int, int, int, float>(RotaryKernel)(
            KernelConfig.Linear((x.Length / 2 + GroupSize - 1) / GroupSize, GroupSize), x, cos, sin, y, sequence, heads, headDim / 2, backward ? -1f : 1f);
    }

    /// <summary>
    /// The head's loss in one pass per row: zc = cap·tanh(z/cap) (no cap when <paramref name="softcap"/>
    /// is 0), loss = logsumexp(zc) − zc[target] in fp32, and, when <paramref name="dlogits"/> is given,
    /// dz = (softmax(zc) − onehot(target))·<paramref name="gradientScale"/>·(1 − (zc/cap)²). A negative
    /// target is ignored: loss 0, gradient 0. Pass 1/(targets not ignored) as the scale for a mean loss.
    /// A target at or past <paramref name="vocab"/> cannot be reported from the GPU: that row's loss and
    /// gradient are NaN, so the mean loss is NaN and the trainer's NaN check stops the run.
    /// </summary>
    /// <param name="accelerator">Where the views live.</param>
    /// <param name="logits">[rows, vocab] bf16 logits.</param>
    /// <param name="targets">[rows] target ids; negative to ignore a row.</param>
    /// <param name="losses">Written: [rows] per-row losses (natural log).</param>
    /// <param name="dlogits">Written unless null: [rows, vocab] gradients; may be <paramref name="logits"/> itself.</param>
    /// <param name="vocab">The vocabulary size (row length).</param>
    /// <param name="softcap">nanochat's 15, or 0 for none.</param>
    /// <param name="gradientScale">The loss's weight per row (1/N for a mean over N rows).</param>
    public static void CrossEntropy(Accelerator accelerator, ArrayView<BFloat16> logits, ArrayView<int> targets, ArrayView<float> losses, ArrayView<BFloat16>? dlogits, int vocab, float softcap, float gradientScale)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        if (vocab <= 0 || logits.Length % vocab != 0)
        {
            throw new ArgumentException($"logits has {logits.Length} values, not a whole number of rows of vocab {vocab}.", nameof(logits));
        }
        int rows = logits.Length / vocab;
        if (targets.Length != rows || losses.Length != rows)
        {
            throw new ArgumentException($"targets has {targets.Length} and losses {losses.Length} elements; logits has {rows} rows of {vocab}, and each needs one per row.", nameof(targets));
        }
        if (dlogits is { } d)
        {
            SameLength(logits, nameof(logits), d, nameof(dlogits));
        }
        if (softcap < 0 || !float.IsFinite(softcap))
        {
            throw new ArgumentOutOfRangeException(nameof(softcap), softcap, "The softcap is 0 (none) or a positive, finite value (nanochat's is 15).");
        }
        accelerator.LoadKernel<ArrayView<BFloat16>, ArrayView<int>, ArrayView<float>, ArrayView<BFloat16>, int, float, float, int>(CrossEntropyKernel)(
            KernelConfig.Linear(rows, CrossEntropyGroupSize), logits, targets, losses, dlogits ?? logits, vocab, softcap, gradientScale, dlogits is null ? 0 : 1);
    }

    /// <summary>
    /// output[r, :] = table[ids[r], :], the token embedding. An id outside [0, vocab) cannot be reported
    /// from the GPU: its row is written as NaN, so the loss is NaN and the trainer's NaN check stops the run.
    /// </summary>
    /// <param name="accelerator">Where the views live.</param>
    /// <param name="ids">[rows] token ids.</param>
    /// <param name="table">[vocab, width] bf16 embedding.</param>
    /// <param name="output">Written: [rows, width].</param>
    /// <param name="width">Values per row, a multiple of 8.</param>
    public static void Embedding(Accelerator accelerator, ArrayView<int> ids, ArrayView<BFloat16> table, ArrayView<BFloat16> output, int width)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        if (width <= 0 || width % 8 != 0 || table.Length % width != 0)
        {
            throw new ArgumentException($"Embedding width {width} with a table of {table.Length} values: the width must be a positive multiple of 8 dividing the table.", nameof(width));
        }
        if (output.Length != (long)ids.Length * width)
        {
            throw new ArgumentException($"output has {output.Length} values; {ids.Length} ids of width {width} need {(long)ids.Length * width}.", nameof(output));
        }
        ArrayView<Bf16x8> po = Packs(output, nameof(output));
        accelerator.LoadKernel<ArrayView<int>, ArrayView<Bf16x8>, ArrayView<Bf16x8>, int, int>(EmbeddingKernel)(
            Streaming(po.Length), ids, Packs(table, nameof(table)), po, width / 8, table.Length / width);
    }

    /// <summary>dTable[ids[r], :] += dOutput[r, :] in fp32 (atomically; ids outside the vocabulary add nothing).</summary>
    /// <param name="accelerator">Where the views live.</param>
    /// <param name="ids">[rows] token ids.</param>
    /// <param name="dOutput">[rows, width] bf16 gradient of the embedding's output.</param>
    /// <param name="dTable">[vocab, width] fp32 gradient of the table, accumulated into.</param>
    /// <param name="width">Values per row, even.</param>
    public static void EmbeddingBackward(Accelerator accelerator, ArrayView<int> ids, ArrayView<BFloat16> dOutput, ArrayView<float> dTable, int width)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        if (width <= 0 || width % 2 != 0 || dTable.Length % width != 0)
        {
            throw new ArgumentException($"Embedding width {width} with a gradient table of {dTable.Length} values: the width must be a positive even number dividing the table.", nameof(width));
        }
        if (dOutput.Length != (long)ids.Length * width)
        {
            throw new ArgumentException($"dOutput has {dOutput.Length} values; {ids.Length} ids of width {width} need {(long)ids.Length * width}.", nameof(dOutput));
        }
        ArrayView<uint> pairs = dOutput.Cast<uint>();
        accelerator.LoadKernel<ArrayView<int>, ArrayView<uint>, ArrayView<float>, int, int>(EmbeddingBackwardKernel)(
            Streaming(pairs.Length), ids, pairs, dTable, width, dTable.Length / width);
    }

    /// <summary>fp32 to bf16, rounding to nearest even, NaN kept (master weights to operand copies; Engine's GPU backend's casts).</summary>
    /// <param name="accelerator">Where the views live.</param>
    /// <param name="source">fp32 values, any count.</param>
    /// <param name="destination">Written: the same count of bf16 values, starting 4-byte aligned (an even element of a buffer).</param>
    public static void ToBf16(Accelerator accelerator, ArrayView<float> source, ArrayView<BFloat16> destination)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        SameLength(source, nameof(source), destination, nameof(destination));
        if (source.Length > 0)
        {
            accelerator.LoadKernel<ArrayView<float>, ArrayView<BFloat16>>(ToBf16Kernel)(Streaming(Math.Max(1, source.Length / 2)), source, destination);
        }
    }

    /// <summary>bf16 to fp32 (exact).</summary>
    /// <param name="accelerator">Where the views live.</param>
    /// <param name="source">bf16 values, any count, starting 4-byte aligned (an even element of a buffer).</param>
    /// <param name="destination">Written: the same count of fp32 values.</param>
    public static void ToFloat(Accelerator accelerator, ArrayView<BFloat16> source, ArrayView<float> destination)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        SameLength(source, nameof(source), destination, nameof(destination));
        if (source.Length > 0)
        {
            accelerator.LoadKernel<ArrayView<BFloat16>, ArrayView<float>>(ToFloatKernel)(Streaming(Math.Max(1, source.Length / 2)), source, destination);
        }
    }

    /// <summary>
    /// total[0] += Σ x², in fp32 on the device (gradient norms for clipping and logging; zero total first
    /// for a fresh sum, or leave it to sum several tensors). The order of the additions varies run to run.
    /// </summary>
    /// <param name="accelerator">Where the views live.</param>
    /// <param name="x">The values.</param>
    /// <param name="total">One float, accumulated into.</param>
    public static void SumOfSquares(Accelerator accelerator, ArrayView<float> x, ArrayView<float> total)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        if (total.Length != 1)
        {
            throw new ArgumentException($"total has {total.Length} elements; the sum goes into exactly one.", nameof(total));
        }
        accelerator.LoadKernel<ArrayView<float>, ArrayView<float>>(SumOfSquaresKernel)(Streaming(Math.Max(1, x.Length / 8)), x, total);
    }

    /// <summary>
    /// One AdamW step in place on fp32 parameters (PyTorch's AdamW: decoupled weight decay, bias
    /// correction): m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², p ← p·(1 − lr·wd) − lr·m̂/(√v̂ + ε).
    /// </summary>
    /// <param name="accelerator">Where the views live.</param>
    /// <param name="parameters">The fp32 master weights.</param>
    /// <param name="gradients">Their gradients.</param>
    /// <param name="m">First moments (zero at step 1).</param>
    /// <param name="v">Second moments (zero at step 1).</param>
    /// <param name="step">The step number (from 1), learning rate and hyperparameters.</param>
    public static void AdamW(Accelerator accelerator, ArrayView<float> parameters, ArrayView<float> gradients, ArrayView<float> m, ArrayView<float> v, AdamWSettings step)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        SameLength(parameters, nameof(parameters), gradients, nameof(gradients));
        SameLength(parameters, nameof(parameters), m, nameof(m));
        SameLength(parameters, nameof(parameters), v, nameof(v));
        if (step.Step < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(step), step.Step, "AdamW steps count from 1 (the bias correction divides by 1 − β^step).");
        }
        var args = new AdamWStep
        {
            LearningRate = step.LearningRate,
            Beta1 = step.Beta1,
            Beta2 = step.Beta2,
            Epsilon = step.Epsilon,
            WeightDecay = step.WeightDecay,
            Bias1 = (float)(1 - Math.Pow(step.Beta1, step.Step)),
            Bias2 = (float)(1 - Math.Pow(step.Beta2, step.Step)),
        };
        accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamWStep>(AdamWKernel)(Streaming(parameters.Length), parameters, gradients, m, v, args);
    }
}

/// <summary>One AdamW step's settings (PyTorch's names and defaults, nanochat's betas).</summary>
/// <param name="Step">The step number, from 1.</param>
/// <param name="LearningRate">The learning rate of this step (after the schedule).</param>
/// <param name="Beta1">First-moment decay.</param>
/// <param name="Beta2">Second-moment decay.</param>
/// <param name="Epsilon">Added to √v̂.</param>
/// <param name="WeightDecay">Decoupled weight decay (multiplied by the learning rate).</param>
public readonly record struct AdamWSettings(int Step, float LearningRate, float Beta1 = 0.8f, float Beta2 = 0.95f, float Epsilon = 1e-10f, float WeightDecay = 0f);

/// <summary>The AdamW kernel's scalar arguments, bias corrections precomputed.</summary>
internal struct AdamWStep
{
    public float LearningRate, Beta1, Beta2, Epsilon, WeightDecay, Bias1, Bias2;
}
