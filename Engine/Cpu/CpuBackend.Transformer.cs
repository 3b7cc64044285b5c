using System.Numerics;
using System.Numerics.Tensors;

namespace Engine.Cpu;

// The fused transformer kernels of the CPU backend: matmul, embedding, RMSNorm, rotary, attention,
// cross-entropy, softmax. Each parallelises over independent rows or heads.
internal sealed partial class CpuBackend
{
    private static void For(int count, long workPerItem, Action<int> body)
    {
        if (count <= 1 || count * workPerItem < ParallelThreshold) { for (int i = 0; i < count; i++) body(i); return; }
        Parallel.For(0, count, i =>
        {
            bool outer = Sgemm.InParallelWorker;
            Sgemm.InParallelWorker = true;
            try { body(i); }
            finally { Sgemm.InParallelWorker = outer; }
        });
    }

    // ------------------------------------------------------------------ matmul

    public void MatMul(Tensor a, bool transA, Tensor b, bool transB, Tensor c, double alpha, double beta)
    {
        RequireFloat(c, "MatMul");
        if (c.DType == DType.Float32) MatMulT(a, transA, b, transB, c, (float)alpha, (float)beta);
        else MatMulT(a, transA, b, transB, c, alpha, beta);
    }

    private static void MatMulT<T>(Tensor a, bool transA, Tensor b, bool transB, Tensor c, T alpha, T beta)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Shapes as stored: a is (batch?, ra, ca), b is (batch?, rb, cb); op() transposes the last two.
        int ra = a.Dims[^2], ca = a.Dims[^1], rb = b.Dims[^2], cb = b.Dims[^1];
        int m = transA ? ca : ra, k = transA ? ra : ca, n = transB ? rb : cb;
        int batch = c.Rank == 3 ? c.Dims[0] : 1;
        var sa = a.Span<T>(); var sb = b.Span<T>(); var sc = c.Span<T>();
        long strideA = a.Rank == 3 ? (long)ra * ca : 0, strideB = b.Rank == 3 ? (long)rb * cb : 0, strideC = (long)m * n;
        for (int i = 0; i < batch; i++)
            Gemm.Multiply(transA, transB, m, n, k, alpha, sa[(int)(i * strideA)..], ca, sb[(int)(i * strideB)..], cb, beta, sc[(int)(i * strideC)..], n);
    }

    // ------------------------------------------------------------------ embedding

    public void Embedding(Tensor ids, Tensor weight, Tensor output)
    {
        int vocab = weight.Dims[0], dim = weight.Dims[1];
        var rows = ReadIds(ids, vocab);
        if (weight.DType == DType.Float32) Gather(rows, weight.Span<float>(), output.Span<float>(), dim);
        else Gather(rows, weight.Span<double>(), output.Span<double>(), dim);
    }

    private static void Gather<T>(int[] rows, ReadOnlySpan<T> w, Span<T> o, int dim)
    {
        for (int i = 0; i < rows.Length; i++) w.Slice(rows[i] * dim, dim).CopyTo(o.Slice(i * dim, dim));
    }

    public void EmbeddingBackward(Tensor ids, Tensor dOutput, Tensor dWeight)
    {
        int vocab = dWeight.Dims[0], dim = dWeight.Dims[1];
        var rows = ReadIds(ids, vocab);
        if (dWeight.DType == DType.Float32) Scatter(rows, dOutput.Span<float>(), dWeight.Span<float>(), dim);
        else Scatter(rows, dOutput.Span<double>(), dWeight.Span<double>(), dim);
    }

    private static void Scatter<T>(int[] rows, ReadOnlySpan<T> g, Span<T> dw, int dim) where T : IFloatingPointIeee754<T>
    {
        // Sequential on purpose: repeated ids would race, and the order fixes the rounding.
        for (int i = 0; i < rows.Length; i++)
        {
            var dst = dw.Slice(rows[i] * dim, dim);
            TensorPrimitives.Add(dst, g.Slice(i * dim, dim), dst);
        }
    }

    internal static int[] ReadIds(Tensor ids, int vocab)
    {
        var rows = new int[ids.Count];
        if (ids.DType == DType.Int64)
        {
            var s = ids.Span<long>();
            for (int i = 0; i < rows.Length; i++) rows[i] = CheckId(s[i], i, vocab);
        }
        else if (ids.DType == DType.Int32)
        {
            var s = ids.Span<int>();
            for (int i = 0; i < rows.Length; i++) rows[i] = CheckId(s[i], i, vocab);
        }
        else throw new ArgumentException($"Token ids must be an Int64 or Int32 tensor, not {ids.DType}.");
        return rows;
    }

    private static int CheckId(long id, int position, int vocab)
    {
        if ((ulong)id >= (ulong)vocab)
            throw new ArgumentOutOfRangeException(nameof(id), id, $"Token id {id} at position {position} is out of range for a vocabulary of {vocab} tokens (valid ids: 0 to {vocab - 1}). Check the tokenizer and the model's vocab_size agree.");
        return (int)id;
    }

    // ------------------------------------------------------------------ RMSNorm

    public void RmsNorm(Tensor x, Tensor y, Tensor rstd, double eps)
    {
        if (x.DType == DType.Float32) RmsNormT(x.Raw<float>(), x.Offset, y.Raw<float>(), rstd.Raw<float>(), x.Dims[^1], x.Count, (float)eps);
        else RmsNormT(x.Raw<double>(), x.Offset, y.Raw<double>(), rstd.Raw<double>(), x.Dims[^1], x.Count, eps);
    }

    private static void RmsNormT<T>(T[] x, int xOff, T[] y, T[] rstd, int dim, int count, T eps) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = dim == 0 ? 0 : count / dim;
        T invDim = T.One / T.CreateChecked(dim);
        For(rows, dim, r =>
        {
            var xr = new ReadOnlySpan<T>(x, xOff + r * dim, dim);
            T ms = TensorPrimitives.SumOfSquares(xr) * invDim;
            T s = T.One / T.Sqrt(ms + eps);
            rstd[r] = s;
            TensorPrimitives.Multiply(xr, s, new Span<T>(y, r * dim, dim));
        });
    }

    public void RmsNormBackward(Tensor y, Tensor rstd, Tensor dy, Tensor dx)
    {
        if (y.DType == DType.Float32) RmsNormBackwardT(y.Raw<float>(), rstd.Raw<float>(), dy.Raw<float>(), dx.Raw<float>(), y.Dims[^1], y.Count);
        else RmsNormBackwardT(y.Raw<double>(), rstd.Raw<double>(), dy.Raw<double>(), dx.Raw<double>(), y.Dims[^1], y.Count);
    }

    private static void RmsNormBackwardT<T>(T[] y, T[] rstd, T[] dy, T[] dx, int dim, int count) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // dx = r * (dy - y * mean(dy * y)), y = x * r the forward's output
        int rows = dim == 0 ? 0 : count / dim;
        T invDim = T.One / T.CreateChecked(dim);
        For(rows, dim, r =>
        {
            var yr = new ReadOnlySpan<T>(y, r * dim, dim);
            var dyr = new ReadOnlySpan<T>(dy, r * dim, dim);
            var dxr = new Span<T>(dx, r * dim, dim);
            T s = rstd[r];
            T c = TensorPrimitives.Dot(dyr, yr) * invDim;
            // dxr = (dyr - yr * c) * s
            TensorPrimitives.MultiplyAdd(yr, -c, dyr, dxr);
            TensorPrimitives.Multiply(dxr, s, dxr);
        });
    }

    // ------------------------------------------------------------------ rotary

    public void Rotary(Tensor x, Tensor cos, Tensor sin, Tensor y, bool inverse)
    {
        if (x.DType == DType.Float32) RotaryT(x, cos.Span<float>(), sin.Span<float>(), y, inverse, 0f);
        else RotaryT(x, cos.Span<double>(), sin.Span<double>(), y, inverse, 0.0);
    }

    private static void RotaryT<T>(Tensor x, ReadOnlySpan<T> cosTable, ReadOnlySpan<T> sinTable, Tensor y, bool inverse, T _)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Halves rotated: y1 = x1 cos + x2 sin, y2 = -x1 sin + x2 cos (inverse: sin -> -sin).
        int bsz = x.Dims[0], t = x.Dims[1], h = x.Dims[2], d = x.Dims[3], half = d / 2;
        var xs = x.Raw<T>(); var ys = y.Raw<T>();
        int xo = x.Offset;
        T[] cosA = cosTable.ToArray(), sinA = sinTable.ToArray();
        For(bsz * t, h * d, bt =>
        {
            int pos = bt % t;
            var c = new ReadOnlySpan<T>(cosA, pos * half, half);
            var s = new ReadOnlySpan<T>(sinA, pos * half, half);
            for (int head = 0; head < h; head++)
            {
                int baseI = bt * h * d + head * d;
                for (int i = 0; i < half; i++)
                {
                    T x1 = xs[xo + baseI + i], x2 = xs[xo + baseI + half + i];
                    T si = inverse ? -s[i] : s[i];
                    ys[baseI + i] = x1 * c[i] + x2 * si;
                    ys[baseI + half + i] = x2 * c[i] - x1 * si;
                }
            }
        });
    }

    // ------------------------------------------------------------------ attention

    public void Attention(Tensor q, Tensor k, Tensor v, Tensor output, Tensor lse, int window, double scale)
    {
        if (q.DType == DType.Float32) AttentionT(q, k, v, output, lse, window, (float)scale);
        else AttentionT(q, k, v, output, lse, window, scale);
    }

    /// <summary>First key a query at <paramref name="i"/> may see: i - window, clamped at 0 (window &lt; 0: 0).</summary>
    internal static int FirstKey(int i, int window) => window < 0 ? 0 : Math.Max(0, i - window);

    // Attention runs per (batch, head) as GEMMs on strided views of the (B, T, H, D) tensors: a head's
    // rows are D apart within a token and H·D apart across tokens, which is just a leading dimension.
    // Queries go in blocks of QueryBlock rows; each block multiplies only the key range some row of it
    // can see (causal: up to the block's last row; window: from its first row's window start), so the
    // work is about half of T×T for causal attention and O(T·window) for sliding windows. Masking
    // inside the range is applied to the scores. The backward recomputes P from the saved lse.

    /// <summary>Queries per block: small enough to skip most of the masked triangle, large enough for an efficient GEMM.</summary>
    private const int QueryBlock = 64;

    /// <summary>The keys [k0, k1) any query of block [i0, i1) (absolute positions) may see.</summary>
    private static (int K0, int K1) KeyRange(int i0, int i1, int window) => (FirstKey(i0, window), i1);

    private static void AttentionT<T>(Tensor q, Tensor k, Tensor v, Tensor output, Tensor lse, int window, T scale)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Queries are the last tq of the tk key positions (tq = tk in training; tq < tk when decoding
        // against a KV cache): query i sits at absolute position i + (tk − tq).
        int bsz = q.Dims[0], tq = q.Dims[1], h = q.Dims[2], d = q.Dims[3], tk = k.Dims[1], hk = k.Dims[2];
        int group = h / hk, ldq = h * d, ldk = hk * d, shift = tk - tq;
        var qs = q.Raw<T>(); var ks = k.Raw<T>(); var vs = v.Raw<T>();
        var os = output.Raw<T>(); var ls = lse.Raw<T>();
        For(bsz * h, (long)tq * tk * d, bh =>
        {
            int b = bh / h, head = bh % h, kh = head / group;
            int qBase = b * tq * ldq + head * d, kBase = b * tk * ldk + kh * d;
            var pool = System.Buffers.ArrayPool<T>.Shared;
            var p = pool.Rent(QueryBlock * tk);
            for (int i0 = 0; i0 < tq; i0 += QueryBlock)
            {
                int rows = Math.Min(QueryBlock, tq - i0);
                var (k0, k1) = KeyRange(i0 + shift, i0 + rows + shift, window);
                int width = k1 - k0, qOff = qBase + i0 * ldq;
                Gemm.Multiply(false, true, rows, width, d, scale, qs.AsSpan(qOff), ldq, ks.AsSpan(kBase + k0 * ldk), ldk, T.Zero, p, width);
                for (int r = 0; r < rows; r++)
                {
                    var row = p.AsSpan(r * width, width);
                    int pos = i0 + r + shift, j0 = FirstKey(pos, window) - k0, j1 = pos + 1 - k0;
                    var live = row[j0..j1];
                    T max = TensorPrimitives.Max<T>(live);
                    TensorPrimitives.Subtract(live, max, live);
                    TensorPrimitives.Exp<T>(live, live);
                    T sum = TensorPrimitives.Sum<T>(live);
                    TensorPrimitives.Multiply(live, T.One / sum, live);
                    row[..j0].Clear();
                    row[j1..].Clear();
                    ls[(b * h + head) * tq + i0 + r] = max + T.Log(sum);
                }
                Gemm.Multiply(false, false, rows, d, width, T.One, p, width, vs.AsSpan(kBase + k0 * ldk), ldk, T.Zero, os.AsSpan(qOff), ldq);
            }
            pool.Return(p);
        });
    }

    public void AttentionBackward(Tensor q, Tensor k, Tensor v, Tensor output, Tensor lse, Tensor dOutput, Tensor dq, Tensor dk, Tensor dv, int window, double scale)
    {
        if (q.DType == DType.Float32) AttentionBackwardT(q, k, v, output, lse, dOutput, dq, dk, dv, window, (float)scale);
        else AttentionBackwardT(q, k, v, output, lse, dOutput, dq, dk, dv, window, scale);
    }

    private static void AttentionBackwardT<T>(Tensor q, Tensor k, Tensor v, Tensor output, Tensor lse, Tensor dOutput,
        Tensor dq, Tensor dk, Tensor dv, int window, T scale) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int bsz = q.Dims[0], t = q.Dims[1], h = q.Dims[2], d = q.Dims[3], hk = k.Dims[2];
        int group = h / hk, ldq = h * d, ldk = hk * d;
        var qs = q.Raw<T>(); var ks = k.Raw<T>(); var vs = v.Raw<T>();
        var os = output.Raw<T>(); var ls = lse.Raw<T>(); var dos = dOutput.Raw<T>();
        var dqs = dq.Raw<T>(); var dks = dk.Raw<T>(); var dvs = dv.Raw<T>();
        // dk and dv accumulate over query blocks and over the group's heads: start from zero.
        dk.Span<T>().Clear();
        dv.Span<T>().Clear();
        // One task per (batch, kv head): the group's query heads all accumulate into the same dk/dv rows.
        For(bsz * hk, (long)group * t * t * d, bkh =>
        {
            int b = bkh / hk, kh = bkh % hk;
            int kBase = b * t * ldk + kh * d;
            var pool = System.Buffers.ArrayPool<T>.Shared;
            var p = pool.Rent(QueryBlock * t);
            var dp = pool.Rent(QueryBlock * t);
            var rowDot = pool.Rent(QueryBlock);
            for (int g = 0; g < group; g++)
            {
                int head = kh * group + g, qBase = b * t * ldq + head * d;
                for (int i0 = 0; i0 < t; i0 += QueryBlock)
                {
                    int rows = Math.Min(QueryBlock, t - i0), qOff = qBase + i0 * ldq;
                    var (k0, k1) = KeyRange(i0, i0 + rows, window);
                    int width = k1 - k0, kOff = kBase + k0 * ldk;
                    // P = exp(scale·QKᵀ − lse), masked
                    Gemm.Multiply(false, true, rows, width, d, scale, qs.AsSpan(qOff), ldq, ks.AsSpan(kOff), ldk, T.Zero, p, width);
                    for (int r = 0; r < rows; r++)
                    {
                        var row = p.AsSpan(r * width, width);
                        int pos = i0 + r, j0 = FirstKey(pos, window) - k0, j1 = pos + 1 - k0;
                        var live = row[j0..j1];
                        TensorPrimitives.Subtract(live, ls[(b * h + head) * t + pos], live);
                        TensorPrimitives.Exp<T>(live, live);
                        row[..j0].Clear();
                        row[j1..].Clear();
                        rowDot[r] = TensorPrimitives.Dot<T>(dos.AsSpan(qOff + r * ldq, d), os.AsSpan(qOff + r * ldq, d));
                    }
                    // dV += Pᵀ dO
                    Gemm.Multiply(true, false, width, d, rows, T.One, p, width, dos.AsSpan(qOff), ldq, T.One, dvs.AsSpan(kOff), ldk);
                    // dP = dO Vᵀ; dS = P ∘ (dP − rowDot) · scale, stored over dp
                    Gemm.Multiply(false, true, rows, width, d, T.One, dos.AsSpan(qOff), ldq, vs.AsSpan(kOff), ldk, T.Zero, dp, width);
                    for (int r = 0; r < rows; r++)
                    {
                        var dpr = dp.AsSpan(r * width, width);
                        TensorPrimitives.Subtract(dpr, rowDot[r], dpr);
                        TensorPrimitives.Multiply(dpr, p.AsSpan(r * width, width), dpr);
                        TensorPrimitives.Multiply(dpr, scale, dpr);
                    }
                    // dQ = dS K;  dK += dSᵀ Q
                    Gemm.Multiply(false, false, rows, d, width, T.One, dp, width, ks.AsSpan(kOff), ldk, T.Zero, dqs.AsSpan(qOff), ldq);
                    Gemm.Multiply(true, false, width, d, rows, T.One, dp, width, qs.AsSpan(qOff), ldq, T.One, dks.AsSpan(kOff), ldk);
                }
            }
            pool.Return(p);
            pool.Return(dp);
            pool.Return(rowDot);
        });
    }

    // ------------------------------------------------------------------ cross-entropy

    public void CrossEntropy(Tensor logits, Tensor targets, Tensor losses, Tensor lse, long ignoreIndex, double softcap)
    {
        if (logits.DType == DType.Float32) CrossEntropyT(logits, targets, losses, lse, ignoreIndex, (float)softcap);
        else CrossEntropyT(logits, targets, losses, lse, ignoreIndex, softcap);
    }

    internal static long[] ReadTargets(Tensor targets, int rows, int vocab, long ignoreIndex)
    {
        long[] tg = targets.DType switch
        {
            DType.Int64 => targets.Span<long>().ToArray(),
            DType.Int32 => Array.ConvertAll(targets.Span<int>().ToArray(), x => (long)x),
            _ => throw new ArgumentException($"Targets must be an Int64 or Int32 tensor, not {targets.DType}."),
        };
        for (int r = 0; r < rows; r++)
            if (tg[r] != ignoreIndex && (ulong)tg[r] >= (ulong)vocab)
                throw new ArgumentOutOfRangeException(nameof(targets), tg[r], $"Target {tg[r]} at row {r} is out of range for {vocab} classes (valid: 0 to {vocab - 1}, or {ignoreIndex} to ignore the row).");
        return tg;
    }

    /// <summary>A row of logits into <paramref name="destination"/>, capped (cap·tanh(z/cap)) when <paramref name="cap"/> &gt; 0.</summary>
    private static void CappedRow<T>(ReadOnlySpan<T> row, Span<T> destination, T cap) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (cap > T.Zero)
        {
            // The same three steps as the Softcap op, so the fused and the separate paths round alike.
            TensorPrimitives.Multiply(row, T.One / cap, destination);
            TensorPrimitives.Tanh<T>(destination, destination);
            TensorPrimitives.Multiply(destination, cap, destination);
        }
        else row.CopyTo(destination);
    }

    private static void CrossEntropyT<T>(Tensor logits, Tensor targets, Tensor losses, Tensor lse, long ignoreIndex, T cap)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int vocab = logits.Dims[^1], rows = logits.Count / Math.Max(vocab, 1);
        var tg = ReadTargets(targets, rows, vocab, ignoreIndex);
        var z = logits.Raw<T>(); int zo = logits.Offset;
        var lo = losses.Raw<T>(); var ll = lse.Raw<T>();
        For(rows, vocab, r =>
        {
            var scratch = System.Buffers.ArrayPool<T>.Shared.Rent(2 * vocab);
            var zc = scratch.AsSpan(0, vocab);
            var e = scratch.AsSpan(vocab, vocab);
            CappedRow(new ReadOnlySpan<T>(z, zo + r * vocab, vocab), zc, cap);
            T max = TensorPrimitives.Max<T>(zc);
            TensorPrimitives.Subtract(zc, max, e);
            TensorPrimitives.Exp<T>(e, e);
            T sum = TensorPrimitives.Sum<T>(e);
            T l = max + T.Log(sum);
            ll[r] = l;
            lo[r] = tg[r] == ignoreIndex ? T.Zero : l - zc[(int)tg[r]];
            System.Buffers.ArrayPool<T>.Shared.Return(scratch);
        });
    }

    public void CrossEntropyBackward(Tensor logits, Tensor targets, Tensor lse, Tensor dLogits, long ignoreIndex, double scale, double softcap)
    {
        if (logits.DType == DType.Float32) CrossEntropyBackwardT(logits, targets, lse, dLogits, ignoreIndex, (float)scale, (float)softcap);
        else CrossEntropyBackwardT(logits, targets, lse, dLogits, ignoreIndex, scale, softcap);
    }

    private static void CrossEntropyBackwardT<T>(Tensor logits, Tensor targets, Tensor lse, Tensor dLogits, long ignoreIndex, T scale, T cap)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int vocab = logits.Dims[^1], rows = logits.Count / Math.Max(vocab, 1);
        var tg = ReadTargets(targets, rows, vocab, ignoreIndex);
        var z = logits.Raw<T>(); int zo = logits.Offset;
        var ll = lse.Raw<T>(); var dz = dLogits.Raw<T>(); int dzo = dLogits.Offset;
        // dLogits may be the logits themselves (LinearCrossEntropy's chunks): every element is read before it is written.
        For(rows, vocab, r =>
        {
            var drow = new Span<T>(dz, dzo + r * vocab, vocab);
            if (tg[r] == ignoreIndex) { drow.Clear(); return; }
            var scratch = cap > T.Zero ? System.Buffers.ArrayPool<T>.Shared.Rent(vocab) : null;
            var zc = scratch is null ? new ReadOnlySpan<T>(z, zo + r * vocab, vocab) : scratch.AsSpan(0, vocab);
            if (scratch is not null) CappedRow(new ReadOnlySpan<T>(z, zo + r * vocab, vocab), scratch.AsSpan(0, vocab), cap);
            TensorPrimitives.Subtract(zc, ll[r], drow);
            TensorPrimitives.Exp(drow, drow);
            drow[(int)tg[r]] -= T.One;
            TensorPrimitives.Multiply(drow, scale, drow);
            if (scratch is not null)
            {
                // Through the cap: d(cap·tanh(z/cap))/dz = 1 − (zc/cap)².
                var d = scratch.AsSpan(0, vocab);
                TensorPrimitives.Multiply(d, d, d);
                TensorPrimitives.Multiply(d, -T.One / (cap * cap), d);
                TensorPrimitives.Add(d, T.One, d);
                TensorPrimitives.Multiply(drow, d, drow);
                System.Buffers.ArrayPool<T>.Shared.Return(scratch);
            }
        });
    }

    // ------------------------------------------------------------------ softmax

    public void Softmax(Tensor x, Tensor y)
    {
        if (x.DType == DType.Float32) SoftmaxT(x.Raw<float>(), y.Raw<float>(), x.Dims[^1], x.Count);
        else SoftmaxT(x.Raw<double>(), y.Raw<double>(), x.Dims[^1], x.Count);
    }

    private static void SoftmaxT<T>(T[] x, T[] y, int dim, int count) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = dim == 0 ? 0 : count / dim;
        For(rows, dim, r => TensorPrimitives.SoftMax(new ReadOnlySpan<T>(x, r * dim, dim), new Span<T>(y, r * dim, dim)));
    }

    public void SoftmaxBackward(Tensor y, Tensor dy, Tensor dx)
    {
        if (y.DType == DType.Float32) SoftmaxBackwardT(y.Raw<float>(), dy.Raw<float>(), dx.Raw<float>(), y.Dims[^1], y.Count);
        else SoftmaxBackwardT(y.Raw<double>(), dy.Raw<double>(), dx.Raw<double>(), y.Dims[^1], y.Count);
    }

    private static void SoftmaxBackwardT<T>(T[] y, T[] dy, T[] dx, int dim, int count) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = dim == 0 ? 0 : count / dim;
        For(rows, dim, r =>
        {
            var yr = new ReadOnlySpan<T>(y, r * dim, dim);
            var dyr = new ReadOnlySpan<T>(dy, r * dim, dim);
            var dxr = new Span<T>(dx, r * dim, dim);
            T dot = TensorPrimitives.Dot(yr, dyr);
            TensorPrimitives.Subtract(dyr, dot, dxr);
            TensorPrimitives.Multiply(dxr, yr, dxr);
        });
    }
}
