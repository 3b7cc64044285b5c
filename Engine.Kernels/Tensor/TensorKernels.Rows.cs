using Engine.Gpu;

namespace Engine.Kernels;

// The row kernels of the fp32 GPU backend: one group per row, the group's threads striding over it.
public static partial class TensorKernels
{
    [Kernel]
    internal static void RmsNormKernel(ArrayView<float> x, ArrayView<float> y, ArrayView<float> rstd, int width, float epsilon)
    {
        int row = Grid.IdxX;
        ArrayView<float> xs = x.SubView(row * width, width), ys = y.SubView(row * width, width);
        float squares = 0f;
        for (int i = Group.IdxX; i < width; i += Group.DimX)
        {
            float v = xs[i];
            squares += v * v;
        }
        squares = Group.Sum(squares);
        float s = 1f / MathF.Sqrt(squares * (1f / width) + epsilon);
        if (Group.IdxX == 0)
        {
            rstd[row] = s;
        }
        for (int i = Group.IdxX; i < width; i += Group.DimX)
        {
            ys[i] = xs[i] * s;
        }
    }

    /// <summary>y = x / rms(x) per row of <paramref name="width"/>; rstd gets 1/rms for the backward.</summary>
    public static void RmsNorm(Accelerator accelerator, ArrayView<float> x, ArrayView<float> y, ArrayView<float> rstd, int width, float epsilon)
    {
        SameLength(x, nameof(x), y, nameof(y));
        int rows = NormRows(x, rstd, width);
        if (rows == 0)
        {
            return;
        }
        accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float>(RmsNormKernel)(Rows(rows, RowSize(width, accelerator.WarpSize)), x, y, rstd, width, epsilon);
    }

    /// <summary>The rows of x, after checking rstd holds one value per row.</summary>
    private static int NormRows(ArrayView<float> x, ArrayView<float> rstd, int width)
    {
        int rows = RowsOf(x.Length, width, nameof(x));
        if (rstd.Length != rows)
        {
            throw new ArgumentException($"rstd has {rstd.Length} elements; x has {rows} rows of width {width}.", nameof(rstd));
        }
        return rows;
    }

    [Kernel]
    internal static void RmsNormBackwardKernel(ArrayView<float> y, ArrayView<float> rstd, ArrayView<float> dy, ArrayView<float> dx, int width)
    {
        // dx = (dy − y·c)·s with c = mean(dy∘y), s the saved 1/rms and y = x·s the forward's output.
        int row = Grid.IdxX;
        ArrayView<float> ys = y.SubView(row * width, width), dys = dy.SubView(row * width, width), dxs = dx.SubView(row * width, width);
        float dot = 0f;
        for (int i = Group.IdxX; i < width; i += Group.DimX)
        {
            dot += dys[i] * ys[i];
        }
        dot = Group.Sum(dot);
        float s = rstd[row];
        float c = dot * (1f / width);
        for (int i = Group.IdxX; i < width; i += Group.DimX)
        {
            dxs[i] = (ys[i] * -c + dys[i]) * s;
        }
    }

    /// <summary>
    /// RMSNorm's input gradient from its output y, the saved 1/rms and dy: the input itself is not needed,
    /// so a caller may free it after the forward (Engine's Gpt frees its residual stream that way).
    /// </summary>
    public static void RmsNormBackward(Accelerator accelerator, ArrayView<float> y, ArrayView<float> rstd, ArrayView<float> dy, ArrayView<float> dx, int width)
    {
        SameLength(y, nameof(y), dy, nameof(dy));
        SameLength(y, nameof(y), dx, nameof(dx));
        int rows = NormRows(y, rstd, width);
        if (rows == 0)
        {
            return;
        }
        accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(RmsNormBackwardKernel)(Rows(rows, RowSize(width, accelerator.WarpSize)), y, rstd, dy, dx, width);
    }

    /// <summary>A row's largest value and Σ e^(x − max), the two numbers every softmax of a row needs.</summary>
    internal struct MaxAndSum
    {
        public float Max, Sum;
    }

    /// <summary>Max and Σ e^(x − max) over z[first..last], computed by the whole group (every thread gets both).</summary>
    private static MaxAndSum RowMaxAndSum(ArrayView<float> z, int first, int last)
    {
        float max = float.NegativeInfinity;
        for (int i = first + Group.IdxX; i <= last; i += Group.DimX)
        {
            max = MathF.Max(max, z[i]);
        }
        max = Group.Max(max);
        float sum = 0f;
        for (int i = first + Group.IdxX; i <= last; i += Group.DimX)
        {
            sum += MathF.Exp(z[i] - max);
        }
        MaxAndSum result;
        result.Max = max;
        result.Sum = Group.Sum(sum);
        return result;
    }

    [Kernel]
    internal static void SoftmaxKernel(ArrayView<float> x, ArrayView<float> y, int width)
    {
        int row = Grid.IdxX;
        ArrayView<float> xs = x.SubView(row * width, width), ys = y.SubView(row * width, width);
        MaxAndSum stats = RowMaxAndSum(xs, 0, width - 1);
        float max = stats.Max, inv = 1f / stats.Sum;
        for (int i = Group.IdxX; i < width; i += Group.DimX)
        {
            ys[i] = MathF.Exp(xs[i] - max) * inv;
        }
    }

    /// <summary>Softmax over rows of <paramref name="width"/>.</summary>
    public static void Softmax(Accelerator accelerator, ArrayView<float> x, ArrayView<float> y, int width)
    {
        SameLength(x, nameof(x), y, nameof(y));
        int rows = RowsOf(x.Length, width, nameof(x));
        if (rows == 0)
        {
            return;
        }
        accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, int>(SoftmaxKernel)(Rows(rows, RowSize(width, accelerator.WarpSize)), x, y, width);
    }

    [Kernel]
    internal static void SoftmaxBackwardKernel(ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx, int width)
    {
        int row = Grid.IdxX;
        ArrayView<float> ys = y.SubView(row * width, width), dys = dy.SubView(row * width, width), dxs = dx.SubView(row * width, width);
        float dot = 0f;
        for (int i = Group.IdxX; i < width; i += Group.DimX)
        {
            dot += ys[i] * dys[i];
        }
        dot = Group.Sum(dot);
        for (int i = Group.IdxX; i < width; i += Group.DimX)
        {
            dxs[i] = (dys[i] - dot) * ys[i];
        }
    }

    /// <summary>dx = y∘(dy − Σ dy∘y) per row of <paramref name="width"/>.</summary>
    public static void SoftmaxBackward(Accelerator accelerator, ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx, int width)
    {
        SameLength(y, nameof(y), dy, nameof(dy));
        SameLength(y, nameof(y), dx, nameof(dx));
        int rows = RowsOf(y.Length, width, nameof(y));
        if (rows == 0)
        {
            return;
        }
        accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(SoftmaxBackwardKernel)(Rows(rows, RowSize(width, accelerator.WarpSize)), y, dy, dx, width);
    }

    /// <summary>cap·tanh(z/cap) as the Softcap op computes it, or z when cap is 0.</summary>
    private static float Capped(float z, float cap) => cap > 0f ? MathF.Tanh(z * (1f / cap)) * cap : z;

    /// <summary>Max and Σ e^(zc − max) over a row of capped logits (the logits themselves when cap is 0).</summary>
    private static MaxAndSum CappedRowMaxAndSum(ArrayView<float> z, float cap)
    {
        float max = float.NegativeInfinity;
        for (int i = Group.IdxX; i < z.Length; i += Group.DimX)
        {
            max = MathF.Max(max, Capped(z[i], cap));
        }
        max = Group.Max(max);
        float sum = 0f;
        for (int i = Group.IdxX; i < z.Length; i += Group.DimX)
        {
            sum += MathF.Exp(Capped(z[i], cap) - max);
        }
        MaxAndSum result;
        result.Max = max;
        result.Sum = Group.Sum(sum);
        return result;
    }

    [Kernel]
    internal static void CrossEntropyKernel(ArrayView<float> logits, ArrayView<int> targets, ArrayView<float> losses, ArrayView<float> lse, int vocab, int ignoreIndex, float cap)
    {
        int row = Grid.IdxX;
        ArrayView<float> z = logits.SubView(row * vocab, vocab);
        MaxAndSum stats = CappedRowMaxAndSum(z, cap);
        if (Group.IdxX == 0)
        {
            float l = stats.Max + MathF.Log(stats.Sum);
            int target = targets[row];
            lse[row] = l;
            // A target outside the vocabulary cannot be reported from here: its loss is NaN, which the
            // trainer stops on. Engine checks targets on the host before they reach the device.
            losses[row] = target == ignoreIndex ? 0f : (uint)target < (uint)vocab ? l - Capped(z[target], cap) : float.NaN;
        }
    }

    /// <summary>
    /// Per-row cross-entropy of fp32 logits, capped to cap·tanh(z/cap) on the fly when <paramref name="cap"/> &gt; 0
    /// (the capped logits are never stored); a row whose target is <paramref name="ignoreIndex"/> gets 0. Saves lse.
    /// </summary>
    public static void CrossEntropy(Accelerator accelerator, ArrayView<float> logits, ArrayView<int> targets, ArrayView<float> losses, ArrayView<float> lse, int vocab, int ignoreIndex, float cap = 0f)
    {
        int rows = RowsOf(logits.Length, vocab, nameof(logits));
        SameLength(targets, nameof(targets), losses, nameof(losses));
        SameLength(targets, nameof(targets), lse, nameof(lse));
        if (targets.Length != rows)
        {
            throw new ArgumentException($"targets has {targets.Length} elements; the logits have {rows} rows of {vocab}.", nameof(targets));
        }
        if (rows == 0)
        {
            return;
        }
        accelerator.LoadKernel<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int, float>(CrossEntropyKernel)(Rows(rows, RowSize(vocab, accelerator.WarpSize)), logits, targets, losses, lse, vocab, ignoreIndex, cap);
    }

    [Kernel]
    internal static void CrossEntropyBackwardKernel(ArrayView<float> logits, ArrayView<int> targets, ArrayView<float> lse, ArrayView<float> dlogits, int vocab, int ignoreIndex, float scale, float cap)
    {
        int row = Grid.IdxX;
        ArrayView<float> z = logits.SubView(row * vocab, vocab), dz = dlogits.SubView(row * vocab, vocab);
        int target = targets[row];
        bool ignored = target == ignoreIndex;
        bool invalid = !ignored && (uint)target >= (uint)vocab;
        float l = lse[row];
        for (int i = Group.IdxX; i < vocab; i += Group.DimX)
        {
            float zc = Capped(z[i], cap);
            float g = MathF.Exp(zc - l);
            if (i == target)
            {
                g -= 1f;
            }
            g *= scale;
            if (cap > 0f)
            {
                g *= zc * zc * (-1f / (cap * cap)) + 1f;   // through the cap: 1 − (zc/cap)²
            }
            dz[i] = ignored ? 0f : invalid ? float.NaN : g;
        }
    }

    /// <summary>dlogits = (softmax − onehot)·scale from the saved lse, through the cap when <paramref name="cap"/> &gt; 0; zero for ignored rows.</summary>
    public static void CrossEntropyBackward(Accelerator accelerator, ArrayView<float> logits, ArrayView<int> targets, ArrayView<float> lse, ArrayView<float> dlogits, int vocab, int ignoreIndex, float scale, float cap = 0f)
    {
        SameLength(logits, nameof(logits), dlogits, nameof(dlogits));
        int rows = RowsOf(logits.Length, vocab, nameof(logits));
        if (targets.Length != rows || lse.Length != rows)
        {
            throw new ArgumentException($"targets has {targets.Length} and lse {lse.Length} elements; the logits have {rows} rows of {vocab}.", nameof(targets));
        }
        if (rows == 0)
        {
            return;
        }
        accelerator.LoadKernel<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int, float, float>(CrossEntropyBackwardKernel)(Rows(rows, RowSize(vocab, accelerator.WarpSize)), logits, targets, lse, dlogits, vocab, ignoreIndex, scale, cap);
    }

    [Kernel]
    internal static void EmbeddingKernel(ArrayView<int> ids, ArrayView<float> table, ArrayView<float> output, int width, int vocab)
    {
        for (int i = Grid.GlobalIndexX; i < output.Length; i += Grid.GlobalDimX)
        {
            int row = i / width, column = i - row * width;
            int id = ids[row];
            // An id outside the vocabulary makes its row NaN (Engine checks ids on the host before upload).
            output[i] = (uint)id < (uint)vocab ? table[id * width + column] : float.NaN;
        }
    }

    /// <summary>output[i, :] = table[ids[i], :]; a row whose id is outside the vocabulary is NaN.</summary>
    public static void Embedding(Accelerator accelerator, ArrayView<int> ids, ArrayView<float> table, ArrayView<float> output, int width)
    {
        int vocab = GatherShape(ids, table, output, width, nameof(table), nameof(output));
        if (output.Length == 0)
        {
            return;
        }
        accelerator.LoadKernel<ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int>(EmbeddingKernel)(Streaming(output.Length), ids, table, output, width, vocab);
    }

    /// <summary>The vocabulary of a (vocab, width) table, after checking the rows picked by the ids fill the other view.</summary>
    private static int GatherShape(ArrayView<int> ids, ArrayView<float> table, ArrayView<float> rows, int width, string tableName, string rowsName)
    {
        int vocab = RowsOf(table.Length, width, tableName);
        if (rows.Length != (long)ids.Length * width)
        {
            throw new ArgumentException($"{rowsName} has {rows.Length} elements; {ids.Length} ids of width {width} need {(long)ids.Length * width}.", rowsName);
        }
        return vocab;
    }

    [Kernel]
    internal static void EmbeddingBackwardKernel(ArrayView<int> ids, ArrayView<float> dOutput, ArrayView<float> dTable, int width, int vocab)
    {
        for (int i = Grid.GlobalIndexX; i < dOutput.Length; i += Grid.GlobalDimX)
        {
            int row = i / width, column = i - row * width;
            int id = ids[row];
            if ((uint)id < (uint)vocab)
            {
                Atomic.Add(ref dTable[id * width + column], dOutput[i]);
            }
        }
    }

    /// <summary>dTable[ids[i], :] += dOutput[i, :], atomically (repeated ids meet there; the order of their additions varies).</summary>
    public static void EmbeddingBackward(Accelerator accelerator, ArrayView<int> ids, ArrayView<float> dOutput, ArrayView<float> dTable, int width)
    {
        int vocab = GatherShape(ids, dTable, dOutput, width, nameof(dTable), nameof(dOutput));
        if (dOutput.Length == 0)
        {
            return;
        }
        accelerator.LoadKernel<ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int>(EmbeddingBackwardKernel)(Streaming(dOutput.Length), ids, dOutput, dTable, width, vocab);
    }

    [Kernel]
    internal static void RotaryKernel(ArrayView<float> x, ArrayView<float> cos, ArrayView<float> sin, ArrayView<float> y, int sequence, int heads, int halfDim, float direction)
    {
        // One thread per rotated pair (x1 = x[i], x2 = x[i + D/2]) of one (batch, token, head) row.
        int pairs = x.Length / 2;
        for (int index = Grid.GlobalIndexX; index < pairs; index += Grid.GlobalDimX)
        {
            int i = index % halfDim, row = index / halfDim;
            int t = (row / heads) % sequence;
            float c = cos[t * halfDim + i], s = sin[t * halfDim + i] * direction;
            int at = row * 2 * halfDim + i;
            float x1 = x[at], x2 = x[at + halfDim];
            y[at] = x1 * c + x2 * s;
            y[at + halfDim] = x2 * c - x1 * s;
        }
    }

    /// <summary>
    /// nanochat's rotary embedding of (B, T, H, D) rows, halves rotated by cos/sin tables (T, D/2):
    /// y1 = x1·cos + x2·sin, y2 = x2·cos − x1·sin; <paramref name="inverse"/> rotates back (the backward).
    /// </summary>
    public static void Rotary(Accelerator accelerator, ArrayView<float> x, ArrayView<float> cos, ArrayView<float> sin, ArrayView<float> y, int sequence, int heads, int headDim, bool inverse)
    {
        SameLength(x, nameof(x), y, nameof(y));
        if (headDim <= 0 || headDim % 2 != 0 || x.Length % ((long)sequence * heads * headDim) != 0)
        {
            throw new ArgumentException($"x has {x.Length} elements: not (B, {sequence}, {heads}, {headDim}) with an even head width.", nameof(x));
        }
        int half = headDim / 2;
        if (cos.Length < sequence * half || sin.Length < sequence * half)
        {
            throw new ArgumentException($"The cos/sin tables have {cos.Length}/{sin.Length} elements; {sequence} positions of {half} need {sequence * half}.", nameof(cos));
        }
        if (x.Length == 0)
        {
            return;
        }
        accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, float>(RotaryKernel)(
            Streaming(x.Length / 2), x, cos, sin, y, sequence, heads, half, inverse ? -1f : 1f);
    }

    /// <summary>AdamW in place on fp32 (Engine's step arithmetic: bias corrections given, decoupled decay).</summary>
    public static void AdamW(Accelerator accelerator, ArrayView<float> parameters, ArrayView<float> gradients, ArrayView<float> m, ArrayView<float> v,
        float learningRate, float beta1, float beta2, float epsilon, float weightDecay, float biasCorrection1, float biasCorrection2)
    {
        SameLength(parameters, nameof(parameters), gradients, nameof(gradients));
        SameLength(parameters, nameof(parameters), m, nameof(m));
        SameLength(parameters, nameof(parameters), v, nameof(v));
        var args = new AdamWStep
        {
            LearningRate = learningRate,
            Beta1 = beta1,
            Beta2 = beta2,
            Epsilon = epsilon,
            WeightDecay = weightDecay,
            Bias1 = biasCorrection1,
            Bias2 = biasCorrection2,
        };
        if (parameters.Length == 0)
        {
            return;
        }
        accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamWStep>(TrainingKernels.AdamWKernel)(Streaming(parameters.Length), parameters, gradients, m, v, args);
    }
}
