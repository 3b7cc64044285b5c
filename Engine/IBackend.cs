namespace Engine;

/// <summary>Elementwise ops of two tensors (with NumPy broadcasting).</summary>
internal enum BinaryOp { Add, Sub, Mul, Div }

/// <summary>Elementwise ops of one tensor; some take a scalar argument.</summary>
internal enum UnaryOp { Scale, AddScalar, Exp, Log, Tanh, Sqrt, Relu, ReluSquared, Softcap, Square }

/// <summary>
/// The kernels a device provides. Ops (with their autograd rules) allocate outputs and call these;
/// the CPU backend implements them with SIMD loops and our SGEMM, the GPU backend with Engine.Kernels.
/// Unless stated, tensors passed in are contiguous and outputs are fully overwritten.
/// </summary>
internal interface IBackend
{
    /// <summary>dst = src, for any strided layouts of equal shape and dtype.</summary>
    void Copy(Tensor src, Tensor dst);

    /// <summary>dst = src converted to dst's dtype.</summary>
    void Cast(Tensor src, Tensor dst);

    /// <summary>dst = a op b with broadcasting; a and b may be strided.</summary>
    void Binary(BinaryOp op, Tensor a, Tensor b, Tensor dst);

    /// <summary>dst = f(x; arg).</summary>
    void Unary(UnaryOp op, Tensor x, Tensor dst, double arg);

    /// <summary>dx = dy * f'(x; arg) from y = f(x) for every op but Log and Square, which read x (the others may be given y for x).</summary>
    void UnaryBackward(UnaryOp op, Tensor x, Tensor y, Tensor dy, Tensor dx, double arg);

    /// <summary>dst += alpha * src (same shape).</summary>
    void AddInPlace(Tensor dst, Tensor src, double alpha);

    /// <summary>dst = x summed over the dimensions where dst's (broadcastable) shape has size 1 or is missing.</summary>
    void SumTo(Tensor x, Tensor dst);

    /// <summary>c = alpha * op(a) @ op(b) + beta * c over a batch (rank 3: batch, rows, cols; rank 2: one matrix; a rank-2 operand is shared by every batch).</summary>
    void MatMul(Tensor a, bool transA, Tensor b, bool transB, Tensor c, double alpha, double beta);

    /// <summary>out[i, :] = weight[ids[i], :].</summary>
    void Embedding(Tensor ids, Tensor weight, Tensor output);

    /// <summary>dWeight += scatter of dOutput rows to ids.</summary>
    void EmbeddingBackward(Tensor ids, Tensor dOutput, Tensor dWeight);

    /// <summary>y = x * rstd over the last dimension; rstd (one per row) is saved for the backward.</summary>
    void RmsNorm(Tensor x, Tensor y, Tensor rstd, double eps);

    /// <summary>
    /// dx = rstd·(dy − y·mean(dy∘y)) from the output y and the saved rstd, not the input (y = x·rstd, so
    /// the two forms are equal): the input can be freed before the backward (Gpt frees its residual stream).
    /// </summary>
    void RmsNormBackward(Tensor y, Tensor rstd, Tensor dy, Tensor dx);

    /// <summary>Rotary embedding of x (B, T, H, D) by cos/sin tables (T, D/2); inverse rotates back (the backward).</summary>
    void Rotary(Tensor x, Tensor cos, Tensor sin, Tensor y, bool inverse);

    /// <summary>
    /// Causal attention, q (B,Tq,H,D), k and v (B,Tk,Hkv,D) with Tq ≤ Tk (queries are the last Tq
    /// positions, as when decoding against a KV cache), output (B,Tq,H,D), lse (B,H,Tq); window &lt; 0 means unlimited.
    /// </summary>
    void Attention(Tensor q, Tensor k, Tensor v, Tensor output, Tensor lse, int window, double scale);

    /// <summary>The attention backward from the saved lse.</summary>
    void AttentionBackward(Tensor q, Tensor k, Tensor v, Tensor output, Tensor lse, Tensor dOutput, Tensor dq, Tensor dk, Tensor dv, int window, double scale);

    /// <summary>
    /// Per-row cross-entropy of logits (N, V) against targets (N); rows whose target is ignoreIndex get 0.
    /// With softcap &gt; 0 the logits are capped first, z → cap·tanh(z/cap), inside the same pass (the capped
    /// logits are never stored). Saves lse per row (of the capped logits).
    /// </summary>
    void CrossEntropy(Tensor logits, Tensor targets, Tensor losses, Tensor lse, long ignoreIndex, double softcap);

    /// <summary>dLogits = (softmax − onehot)·scale, times the cap's derivative 1 − (zc/cap)² when softcap &gt; 0; zero for ignored rows.</summary>
    void CrossEntropyBackward(Tensor logits, Tensor targets, Tensor lse, Tensor dLogits, long ignoreIndex, double scale, double softcap);

    /// <summary>Softmax over the last dimension.</summary>
    void Softmax(Tensor x, Tensor y);

    /// <summary>dx = y * (dy - sum(dy * y)) over the last dimension.</summary>
    void SoftmaxBackward(Tensor y, Tensor dy, Tensor dx);

    /// <summary>One AdamW update of p in place from gradient g and moments m, v (updated in place).</summary>
    void AdamW(Tensor p, Tensor g, Tensor m, Tensor v, Optim.AdamWStep step);

    /// <summary>
    /// One whole Muon update of a 2-D weight in a fused device path (momentum, Newton–Schulz, the scaled
    /// step), when the backend has one for this weight; false leaves the update to <see cref="Optim.Muon"/>'s
    /// generic ops. The CPU has none.
    /// </summary>
    bool TryMuonStep(Tensor p, Tensor g, Tensor momentumBuffer, double learningRate, double momentum, bool nesterov, int steps);
}
