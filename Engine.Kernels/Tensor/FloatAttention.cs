using Engine.Gpu;

namespace Engine.Kernels;

/// <summary>The sizes of one fp32 attention call on (B, T, H, D) tensors.</summary>
/// <param name="Batch">B.</param>
/// <param name="Queries">Tq: the queries are the last Tq of the key positions.</param>
/// <param name="Keys">Tk ≥ Tq.</param>
/// <param name="Heads">H, query heads.</param>
/// <param name="KvHeads">Hkv, key/value heads, dividing H (grouped-query attention).</param>
/// <param name="Dim">D, the head width.</param>
/// <param name="Window">How far back a query sees; negative for unlimited.</param>
public readonly record struct FloatAttentionShape(int Batch, int Queries, int Keys, int Heads, int KvHeads, int Dim, int Window)
{
    /// <summary>Query heads per key head.</summary>
    public int Group => Heads / KvHeads;

    /// <summary>Elements of one score matrix set (B·H·Tq·Tk), the size of each workspace.</summary>
    public long ScoreElements => (long)Batch * Heads * Queries * Keys;

    internal void Validate()
    {
        if (Batch < 0 || Queries <= 0 || Keys < Queries || Heads <= 0 || KvHeads <= 0 || Heads % KvHeads != 0 || Dim <= 0)
        {
            throw new ArgumentException($"Attention shape {this}: needs 0 < queries <= keys, positive heads divisible by the key heads and a positive head width.");
        }
    }
}

/// <summary>
/// Attention in fp32 for any head width, as PyTorch's math path computes it: the score matrices are
/// materialised (S = scale·QKᵀ by <see cref="FloatGemm"/>, one batch entry per (batch, head), keys shared
/// by the group's heads through the operand layout), turned into probabilities in place by the masked row
/// softmax, and multiplied by V. The backward rebuilds P from the saved lse and runs the four products of
/// the gradient; dK and dV sum a group's heads one head at a time (no two batch entries of a launch write
/// the same rows). Memory is two B·H·Tq·Tk workspaces; the backend splits the batch to bound them.
/// This is the general path; the bf16 tensor-core kernels (<see cref="FlashAttention"/>) are the fast one.
/// </summary>
public static class FloatAttention
{
    // Operand layouts of the (B, T, H, D) tensors for batch entry z = b·H + h.
    private static GemmOperand QueryRows(FloatAttentionShape s) =>
        new(0, s.Heads * s.Dim, s.Queries * s.Heads * s.Dim, s.Heads, s.Dim);

    private static GemmOperand KeyRows(FloatAttentionShape s) =>
        new(0, s.KvHeads * s.Dim, s.Keys * s.KvHeads * s.Dim, s.Heads, s.Dim, s.Group);

    private static GemmOperand Scores(FloatAttentionShape s) =>
        new(0, s.Keys, s.Queries * s.Keys);

    // Layouts for batch entry z = b·Hkv + kh, picking query head kh·group + g.
    private static GemmOperand ScoresOfGroupMember(FloatAttentionShape s, int g) =>
        new(g * s.Queries * s.Keys, s.Keys, s.Heads * s.Queries * s.Keys, s.KvHeads, s.Group * s.Queries * s.Keys);

    private static GemmOperand QueryRowsOfGroupMember(FloatAttentionShape s, int g) =>
        new(g * s.Dim, s.Heads * s.Dim, s.Queries * s.Heads * s.Dim, s.KvHeads, s.Group * s.Dim);

    private static GemmOperand KeyRowsPerKvHead(FloatAttentionShape s) =>
        new(0, s.KvHeads * s.Dim, s.Keys * s.KvHeads * s.Dim, s.KvHeads, s.Dim);

    private static void Check(FloatAttentionShape s, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> output, ArrayView<float> lse, ArrayView<float> scores)
    {
        s.Validate();
        long qs = (long)s.Batch * s.Queries * s.Heads * s.Dim, ks = (long)s.Batch * s.Keys * s.KvHeads * s.Dim;
        if (q.Length != qs || output.Length != qs)
        {
            throw new ArgumentException($"q has {q.Length} and the output {output.Length} elements; shape {s} needs {qs} each.", nameof(q));
        }
        if (k.Length != ks || v.Length != ks)
        {
            throw new ArgumentException($"k has {k.Length} and v {v.Length} elements; shape {s} needs {ks} each.", nameof(k));
        }
        if (lse.Length != (long)s.Batch * s.Heads * s.Queries)
        {
            throw new ArgumentException($"lse has {lse.Length} elements; shape {s} needs B·H·Tq = {(long)s.Batch * s.Heads * s.Queries}.", nameof(lse));
        }
        if (scores.Length < s.ScoreElements)
        {
            throw new ArgumentException($"The score workspace has {scores.Length} elements; shape {s} needs B·H·Tq·Tk = {s.ScoreElements}.", nameof(scores));
        }
    }

    /// <summary>output = softmax(scale·QKᵀ, causal and windowed)·V; lse (B, H, Tq) saved for the backward.</summary>
    /// <param name="accelerator">Where the views live.</param>
    /// <param name="q">(B, Tq, H, D).</param>
    /// <param name="k">(B, Tk, Hkv, D).</param>
    /// <param name="v">(B, Tk, Hkv, D).</param>
    /// <param name="output">Written: (B, Tq, H, D).</param>
    /// <param name="lse">Written: (B, H, Tq), natural log of each row's softmax denominator (scores scaled).</param>
    /// <param name="shape">The sizes.</param>
    /// <param name="scale">The score scale, usually 1/√D.</param>
    /// <param name="scores">Workspace of at least B·H·Tq·Tk elements.</param>
    public static void Forward(Accelerator accelerator, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> output, ArrayView<float> lse,
        FloatAttentionShape shape, float scale, ArrayView<float> scores)
    {
        Check(shape, q, k, v, output, lse, scores);
        if (shape.Batch == 0)
        {
            return;
        }
        int z = shape.Batch * shape.Heads;
        FloatGemm.Multiply(accelerator, z, shape.Queries, shape.Keys, shape.Dim, scale, q, QueryRows(shape), false, k, KeyRows(shape), true, 0f, scores, Scores(shape));
        TensorKernels.AttentionSoftmax(accelerator, scores.SubView(0, (int)shape.ScoreElements), lse, shape.Queries, shape.Keys, shape.Window, recompute: false);
        FloatGemm.Multiply(accelerator, z, shape.Queries, shape.Dim, shape.Keys, 1f, scores, Scores(shape), false, v, KeyRows(shape), false, 0f, output, QueryRows(shape));
    }

    /// <summary>dq, dk and dv from the forward's inputs, output and lse and the output gradient.</summary>
    /// <param name="accelerator">Where the views live.</param>
    /// <param name="q">(B, Tq, H, D).</param>
    /// <param name="k">(B, Tk, Hkv, D).</param>
    /// <param name="v">(B, Tk, Hkv, D).</param>
    /// <param name="output">The forward's output.</param>
    /// <param name="lse">The forward's lse.</param>
    /// <param name="dOutput">The output gradient.</param>
    /// <param name="dq">Written: (B, Tq, H, D).</param>
    /// <param name="dk">Written: (B, Tk, Hkv, D).</param>
    /// <param name="dv">Written: (B, Tk, Hkv, D).</param>
    /// <param name="shape">The sizes.</param>
    /// <param name="scale">The forward's score scale.</param>
    /// <param name="p">Workspace of at least B·H·Tq·Tk elements (the probabilities).</param>
    /// <param name="dp">Workspace of at least B·H·Tq·Tk elements (their gradient).</param>
    public static void Backward(Accelerator accelerator, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> output, ArrayView<float> lse,
        ArrayView<float> dOutput, ArrayView<float> dq, ArrayView<float> dk, ArrayView<float> dv, FloatAttentionShape shape, float scale, ArrayView<float> p, ArrayView<float> dp)
    {
        Check(shape, q, k, v, output, lse, p);
        Check(shape, dq, dk, dv, dOutput, lse, dp);
        if (shape.Batch == 0)
        {
            return;
        }
        int z = shape.Batch * shape.Heads, zk = shape.Batch * shape.KvHeads;
        int scoreCount = (int)shape.ScoreElements;
        // P, rebuilt from lse.
        FloatGemm.Multiply(accelerator, z, shape.Queries, shape.Keys, shape.Dim, scale, q, QueryRows(shape), false, k, KeyRows(shape), true, 0f, p, Scores(shape));
        TensorKernels.AttentionSoftmax(accelerator, p.SubView(0, scoreCount), lse, shape.Queries, shape.Keys, shape.Window, recompute: true);
        // dP = dO·Vᵀ, then dS = P∘(dP − rowsum(dO∘O))·scale in place.
        FloatGemm.Multiply(accelerator, z, shape.Queries, shape.Keys, shape.Dim, 1f, dOutput, QueryRows(shape), false, v, KeyRows(shape), true, 0f, dp, Scores(shape));
        TensorKernels.AttentionGradient(accelerator, dp.SubView(0, scoreCount), p.SubView(0, scoreCount), output, dOutput, shape.Queries, shape.Keys, shape.Heads, shape.Dim, scale);
        // dQ = dS·K.
        FloatGemm.Multiply(accelerator, z, shape.Queries, shape.Dim, shape.Keys, 1f, dp, Scores(shape), false, k, KeyRows(shape), false, 0f, dq, QueryRows(shape));
        // dV = Σ_g Pᵀ·dO and dK = Σ_g dSᵀ·Q over the group's heads, one head per launch.
        for (int g = 0; g < shape.Group; g++)
        {
            float beta = g == 0 ? 0f : 1f;
            FloatGemm.Multiply(accelerator, zk, shape.Keys, shape.Dim, shape.Queries, 1f, p, ScoresOfGroupMember(shape, g), true,
                dOutput, QueryRowsOfGroupMember(shape, g), false, beta, dv, KeyRowsPerKvHead(shape));
            FloatGemm.Multiply(accelerator, zk, shape.Keys, shape.Dim, shape.Queries, 1f, dp, ScoresOfGroupMember(shape, g), true,
                q, QueryRowsOfGroupMember(shape, g), false, beta, dk, KeyRowsPerKvHead(shape));
        }
    }
}
