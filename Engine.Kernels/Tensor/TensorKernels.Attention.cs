using Engine.Gpu;

namespace Engine.Kernels;

// The row steps of fp32 attention (FloatAttention): the masked softmax of the score rows and the
// softmax gradient of the backward. A row is one query of one (batch, head): row = (b·H + h)·Tq + i.
public static partial class TensorKernels
{
    /// <summary>The first key query position <paramref name="position"/> may see (window &lt; 0: all before it).</summary>
    private static int FirstKey(int position, int window) => window < 0 ? 0 : Math.Max(0, position - window);

    [Kernel]
    internal static void AttentionSoftmaxKernel(ArrayView<float> scores, ArrayView<float> lse, int queries, int keys, int window, int recompute)
    {
        // Query i sits at absolute position i + (keys − queries) and sees keys [first, position]. The
        // forward turns scaled scores into probabilities and saves lse; the backward (recompute) rebuilds
        // the same probabilities from the saved lse. Masked entries become exact zeros.
        int row = Grid.IdxX;
        int position = row % queries + (keys - queries);
        int first = FirstKey(position, window), last = Math.Min(position, keys - 1);
        ArrayView<float> s = scores.SubView(row * keys, keys);
        if (recompute != 0)
        {
            float saved = lse[row];
            for (int j = Group.IdxX; j < keys; j += Group.DimX)
            {
                s[j] = j >= first && j <= last ? MathF.Exp(s[j] - saved) : 0f;
            }
            return;
        }
        MaxAndSum stats = RowMaxAndSum(s, first, last);
        float max = stats.Max, sum = stats.Sum, inv = 1f / sum;
        for (int j = Group.IdxX; j < keys; j += Group.DimX)
        {
            s[j] = j >= first && j <= last ? MathF.Exp(s[j] - max) * inv : 0f;
        }
        if (Group.IdxX == 0)
        {
            lse[row] = max + MathF.Log(sum);
        }
    }

    /// <summary>
    /// In place over rows of scaled scores (rows × keys, row = (b·H + h)·queries + i): the causal (and
    /// sliding-window) softmax, lse saved per row; with <paramref name="recompute"/> the probabilities are
    /// rebuilt from the saved lse instead (the backward).
    /// </summary>
    /// <param name="accelerator">Where the views live.</param>
    /// <param name="scores">rows × keys scores, overwritten with probabilities.</param>
    /// <param name="lse">One per row: written, or read when recomputing.</param>
    /// <param name="queries">Queries per (batch, head): the last <paramref name="queries"/> of the key positions.</param>
    /// <param name="keys">Keys per (batch, head).</param>
    /// <param name="window">How far back a query sees (negative: unlimited).</param>
    /// <param name="recompute">Rebuild from lse instead of computing it.</param>
    public static void AttentionSoftmax(Accelerator accelerator, ArrayView<float> scores, ArrayView<float> lse, int queries, int keys, int window, bool recompute)
    {
        if (queries <= 0 || keys < queries)
        {
            throw new ArgumentException($"Attention needs 0 < queries <= keys; got {queries} queries and {keys} keys.", nameof(queries));
        }
        int rows = RowsOf(scores.Length, keys, nameof(scores));
        if (lse.Length != rows || rows % queries != 0)
        {
            throw new ArgumentException($"lse has {lse.Length} elements and the scores {rows} rows; both must be (batch·heads)·{queries}.", nameof(lse));
        }
        accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, int, int, int, int>(AttentionSoftmaxKernel)(
            Rows(rows, RowSize(keys, accelerator.WarpSize)), scores, lse, queries, keys, window, recompute ? 1 : 0);
    }

    [Kernel]
    internal static void AttentionGradientKernel(ArrayView<float> dp, ArrayView<float> p, ArrayView<float> output, ArrayView<float> dOutput, AttentionRows shape, float scale)
    {
        int queries = shape.Queries, keys = shape.Keys, heads = shape.Heads, dim = shape.Dim;
        // dS = P ∘ (dP − rowsum(dO ∘ O))·scale, with O and dO rows of the (B, Tq, H, D) tensors.
        int row = Grid.IdxX;
        int z = row / queries, i = row - z * queries;
        int b = z / heads, h = z - b * heads;
        int at = ((b * queries + i) * heads + h) * dim;
        float dot = 0f;
        for (int d = Group.IdxX; d < dim; d += Group.DimX)
        {
            dot += dOutput[at + d] * output[at + d];
        }
        dot = Group.Sum(dot);
        ArrayView<float> dps = dp.SubView(row * keys, keys), ps = p.SubView(row * keys, keys);
        for (int j = Group.IdxX; j < keys; j += Group.DimX)
        {
            dps[j] = (dps[j] - dot) * ps[j] * scale;
        }
    }

    /// <summary>
    /// In place: dP (rows × keys, the gradient of the probabilities) becomes the gradient of the scaled
    /// scores, P∘(dP − Σ_d dO∘O)·scale, with O and dO the (B, queries, H, D) attention output and its gradient.
    /// </summary>
    public static void AttentionGradient(Accelerator accelerator, ArrayView<float> dp, ArrayView<float> p, ArrayView<float> output, ArrayView<float> dOutput,
        int queries, int keys, int heads, int dim, float scale)
    {
        SameLength(dp, nameof(dp), p, nameof(p));
        SameLength(output, nameof(output), dOutput, nameof(dOutput));
        int rows = RowsOf(dp.Length, keys, nameof(dp));
        if ((long)rows * dim != output.Length)
        {
            throw new ArgumentException($"The output has {output.Length} elements; {rows} query rows of {dim} need {(long)rows * dim}.", nameof(output));
        }
        if (rows == 0)
        {
            return;
        }
        accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionRows, float>(AttentionGradientKernel)(
            Rows(rows, RowSize(Math.Max(keys, dim), accelerator.WarpSize)), dp, p, output, dOutput,
            new AttentionRows { Queries = queries, Keys = keys, Heads = heads, Dim = dim }, scale);
    }
}

/// <summary>The sizes the attention gradient kernel walks its rows by.</summary>
internal struct AttentionRows
{
    public int Queries, Keys, Heads, Dim;
}
