using Engine.Autograd;

namespace Engine.NN;

/// <summary>
/// The transformer ops with their backward rules, in the spirit of torch.nn.functional. Each op
/// checks its inputs, runs its forward kernel on the tensors' device, and records how to push the
/// gradient back (next to the forward, so the two can be read together).
/// </summary>
public static class Functional
{
    private static void RequireFloat(Tensor t, string op, string name)
    {
        t.ThrowIfDisposed();
        if (t.DType is not (DType.Float32 or DType.Float64))
            throw new ArgumentException($"{op}: {name} must be float32 or float64, not {t.DType}.");
    }

    private static Tensor Kernel(Tensor t, List<Tensor> temps)
    {
        var (d, owned) = t.Dense();
        if (owned) temps.Add(d);
        return d;
    }

    private static void DisposeAll(List<Tensor> temps)
    {
        foreach (var t in temps) t.Dispose();
    }

    /// <summary>Rows of <paramref name="weight"/> (V, C) picked by integer <paramref name="ids"/> (any shape): output (…, C).</summary>
    public static Tensor Embedding(Tensor ids, Tensor weight)
    {
        RequireFloat(weight, "Embedding", "weight");
        if (weight.Rank != 2) throw new ArgumentException($"Embedding: weight must be (vocab, dim), got {ShapeUtil.Format(weight.Dims)}.");
        var idsOn = IntegersOn(weight.Device, ids, weight.Dims[0], null);
        bool uploaded = !ReferenceEquals(idsOn, ids);
        var temps = new List<Tensor>();
        var idsD = Kernel(idsOn, temps);
        var wD = Kernel(weight, temps);
        var output = Tensor.Empty([.. ids.Dims, weight.Dims[1]], weight.DType, weight.Device);
        weight.Device.Backend.Embedding(idsD, wD, output);
        DisposeAll(temps);
        bool record = GradMode.ShouldRecord(weight);
        if (uploaded && !record) idsOn.Dispose();
        return GradMode.Record(output, "embedding", [weight], g =>
        {
            var t2 = new List<Tensor>();
            var dw = Tensor.Zeros(weight.Dims, weight.DType, weight.Device);
            weight.Device.Backend.EmbeddingBackward(Kernel(idsOn, t2), Kernel(g, t2), dw);
            DisposeAll(t2);
            if (uploaded) idsOn.Dispose();
            return [dw];
        });
    }

    /// <summary>
    /// Token ids or targets on <paramref name="device"/>, the device of the computation: the tensor itself
    /// when it is there already, else (ids from the CPU, as data loaders make them) a copy uploaded after
    /// checking every value on the host, so a bad id gets the CPU's message (it names the id, its position and
    /// the vocabulary) instead of a NaN from the GPU. The caller disposes a copy.
    /// </summary>
    private static Tensor IntegersOn(Device device, Tensor ids, int classes, long? ignoreIndex)
    {
        if (ids.Device == device) return ids;
        if (ids.Device != Device.Cpu)
            throw new ArgumentException($"Token ids on {ids.Device} cannot be used by a model on {device}; pass them on the CPU or on {device}.");
        using (var dense = ids.IsContiguous ? null : ids.CopyTo(Device.Cpu))
        {
            if (ignoreIndex is null) Cpu.CpuBackend.ReadIds(dense ?? ids, classes);
            else Cpu.CpuBackend.ReadTargets(dense ?? ids, ids.Count, classes, ignoreIndex.Value);
        }
        return ids.CopyTo(device);
    }

    /// <summary>y = x Wᵀ for x (…, in) and a bias-free weight (out, in), as torch.nn.Linear stores it.</summary>
    /// <remarks>
    /// Its own op rather than MatMul(x, Wᵀ): the weight gradient is computed directly in W's layout,
    /// dW = gᵀ·x (out, in), instead of as the transpose of a (in, out) product that would then need
    /// a strided copy into W.Grad every step.
    /// </remarks>
    public static Tensor Linear(Tensor x, Tensor weight)
    {
        RequireFloat(x, "Linear", "x");
        RequireSameDevice("Linear", ("x", x), ("weight", weight));
        if (weight.Rank != 2 || x.Rank < 1 || x.Dims[^1] != weight.Dims[1])
            throw new ArgumentException($"Linear: input {ShapeUtil.Format(x.Dims)} does not match weight {ShapeUtil.Format(weight.Dims)} (the input's last dimension must equal the weight's second).");
        if (x.DType != weight.DType)
            throw new ArgumentException($"Linear: input is {x.DType} but the weight is {weight.DType}; convert one with To().");
        int inF = weight.Dims[1], outF = weight.Dims[0], rows = x.Count / Math.Max(inF, 1);
        var temps = new List<Tensor>();
        var x2 = Kernel(x, temps).ReshapeNoGrad(rows, inF);
        var w = Kernel(weight, temps);
        var y = Tensor.Empty([.. x.Dims[..^1], outF], x.DType, x.Device);
        using (var y2 = y.ReshapeNoGrad(rows, outF))
            x.Device.Backend.MatMul(x2, false, w, true, y2, 1.0, 0.0);          // y = x Wᵀ
        x2.Dispose();
        DisposeAll(temps);
        return GradMode.Record(y, "linear", [x, weight], g =>
        {
            var t2 = new List<Tensor>();
            var g2 = Kernel(g, t2).ReshapeNoGrad(rows, outF);
            Tensor? dx = null, dw = null;
            if (x.RequiresGrad)
            {
                dx = Tensor.Empty(x.Dims, x.DType, x.Device);
                using var dx2 = dx.ReshapeNoGrad(rows, inF);
                x.Device.Backend.MatMul(g2, false, Kernel(weight, t2), false, dx2, 1.0, 0.0);   // dx = g W
            }
            if (weight.RequiresGrad)
            {
                dw = Tensor.Empty(weight.Dims, weight.DType, weight.Device);
                using var xr = Kernel(x, t2).ReshapeNoGrad(rows, inF);
                x.Device.Backend.MatMul(g2, true, xr, false, dw, 1.0, 0.0);                     // dW = gᵀ x
            }
            g2.Dispose();
            DisposeAll(t2);
            return [dx, dw];
        });
    }

    /// <summary>Parameter-free RMSNorm over the last dimension: x / sqrt(mean(x²) + eps).</summary>
    public static Tensor RmsNorm(Tensor x, double eps = 1.1920928955078125e-07)
    {
        RequireFloat(x, "RmsNorm", "x");
        var temps = new List<Tensor>();
        var xd = Kernel(x, temps);
        var y = Tensor.Empty(x.Dims, x.DType, x.Device);
        var rstd = Tensor.Empty(x.Dims[..^1], x.DType, x.Device);
        x.Device.Backend.RmsNorm(xd, y, rstd, eps);
        DisposeAll(temps);
        return GradMode.Record(y, "rms_norm", [x], g =>
        {
            var t2 = new List<Tensor>();
            var dx = Tensor.Empty(x.Dims, x.DType, x.Device);
            // From the output (fresh and dense) and rstd: the input is not read, so it may be freed after the forward.
            x.Device.Backend.RmsNormBackward(y, rstd, Kernel(g, t2), dx);
            DisposeAll(t2);
            return [dx];
        });
    }

    /// <summary>
    /// Rotary position embedding of x (B, T, H, D) with tables cos and sin (T, D/2), rotating the two
    /// halves of each head: y1 = x1·cos + x2·sin, y2 = −x1·sin + x2·cos.
    /// </summary>
    public static Tensor Rotary(Tensor x, Tensor cos, Tensor sin)
    {
        RequireFloat(x, "Rotary", "x");
        RequireSameDevice("Rotary", ("x", x), ("cos", cos), ("sin", sin));
        if (x.Rank != 4 || x.Dims[3] % 2 != 0)
            throw new ArgumentException($"Rotary: x must be (batch, time, heads, head_dim) with an even head_dim, got {ShapeUtil.Format(x.Dims)}.");
        int t = x.Dims[1], half = x.Dims[3] / 2;
        if (cos.Rank != 2 || cos.Dims[0] < t || cos.Dims[1] != half || !ShapeUtil.SameShape(cos.Dims, sin.Dims))
            throw new ArgumentException($"Rotary: cos and sin must be (>= {t}, {half}) for x {ShapeUtil.Format(x.Dims)}, got {ShapeUtil.Format(cos.Dims)} and {ShapeUtil.Format(sin.Dims)}.");
        var temps = new List<Tensor>();
        var xd = Kernel(x, temps);
        var cd = Kernel(cos, temps); var sd = Kernel(sin, temps);
        var y = Tensor.Empty(x.Dims, x.DType, x.Device);
        x.Device.Backend.Rotary(xd, cd, sd, y, inverse: false);
        DisposeAll(temps);
        return GradMode.Record(y, "rotary", [x], g =>
        {
            var t2 = new List<Tensor>();
            var dx = Tensor.Empty(x.Dims, x.DType, x.Device);
            x.Device.Backend.Rotary(Kernel(g, t2), Kernel(cos, t2), Kernel(sin, t2), dx, inverse: true);
            DisposeAll(t2);
            return [dx];
        });
    }

    /// <summary>
    /// Causal scaled-dot-product attention with grouped-query heads: q (B, Tq, H, D), k and v
    /// (B, Tk, Hkv, D) with H a multiple of Hkv (query head h reads kv head h / (H / Hkv)).
    /// The queries are the last Tq of the Tk positions: Tq = Tk in training, Tq &lt; Tk when decoding
    /// against a KV cache (gradients need Tq = Tk). <paramref name="window"/> &gt;= 0 limits the query
    /// at position i to keys i − window … i; &lt; 0 is full causal.
    /// </summary>
    public static Tensor CausalAttention(Tensor q, Tensor k, Tensor v, int window = -1, double? scale = null)
    {
        RequireFloat(q, "CausalAttention", "q");
        RequireSameDevice("CausalAttention", ("q", q), ("k", k), ("v", v));
        if (q.Rank != 4 || k.Rank != 4 || v.Rank != 4)
            throw new ArgumentException($"CausalAttention: q, k, v must be (batch, time, heads, head_dim), got {ShapeUtil.Format(q.Dims)}, {ShapeUtil.Format(k.Dims)}, {ShapeUtil.Format(v.Dims)}.");
        if (!ShapeUtil.SameShape(k.Dims, v.Dims) || k.Dims[0] != q.Dims[0] || k.Dims[1] < q.Dims[1] || k.Dims[3] != q.Dims[3])
            throw new ArgumentException($"CausalAttention: k {ShapeUtil.Format(k.Dims)} and v {ShapeUtil.Format(v.Dims)} must match q {ShapeUtil.Format(q.Dims)} in batch and head_dim, and have at least q's time steps.");
        int h = q.Dims[2], hk = k.Dims[2];
        if (hk == 0 || h % hk != 0)
            throw new ArgumentException($"CausalAttention: the {h} query heads must be a multiple of the {hk} key/value heads.");
        bool decoding = k.Dims[1] != q.Dims[1];
        if (decoding && GradMode.ShouldRecord(q, k, v))
            throw new InvalidOperationException("CausalAttention: gradients need as many queries as keys; run cached decoding under GradMode.NoGrad().");
        double s = scale ?? 1.0 / Math.Sqrt(q.Dims[3]);
        var temps = new List<Tensor>();
        var qd = Kernel(q, temps); var kd = Kernel(k, temps); var vd = Kernel(v, temps);
        var output = Tensor.Empty(q.Dims, q.DType, q.Device);
        var lse = Tensor.Empty([q.Dims[0], h, q.Dims[1]], q.DType, q.Device);
        q.Device.Backend.Attention(qd, kd, vd, output, lse, window, s);
        DisposeAll(temps);
        if (decoding)
        {
            lse.Dispose();
            return output;
        }
        return GradMode.Record(output, "attention", [q, k, v], g =>
        {
            var t2 = new List<Tensor>();
            var dq = Tensor.Empty(q.Dims, q.DType, q.Device);
            var dk = Tensor.Empty(k.Dims, k.DType, k.Device);
            var dv = Tensor.Empty(v.Dims, v.DType, v.Device);
            q.Device.Backend.AttentionBackward(Kernel(q, t2), Kernel(k, t2), Kernel(v, t2), output, lse, Kernel(g, t2), dq, dk, dv, window, s);
            DisposeAll(t2);
            return [dq, dk, dv];
        });
    }

    /// <summary>
    /// Mean cross-entropy of logits (…, V) against integer targets (…), skipping targets equal to
    /// <paramref name="ignoreIndex"/>; the log-softmax is fused, so no probability matrix is kept. With
    /// <paramref name="softcap"/> &gt; 0 the logits are capped first (cap·tanh(z/cap), as
    /// <see cref="Tensor.Softcap"/>) inside the same pass, which saves two logit-sized tensors (the capped
    /// logits and their gradient): the GPT's head is the largest activation of a step.
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor targets, long ignoreIndex = -1, double softcap = 0)
    {
        RequireFloat(logits, "CrossEntropy", "logits");
        RequireCap(softcap);
        if (!logits.Dims.AsSpan(0, logits.Rank - 1).SequenceEqual(targets.Dims))
            throw new ArgumentException($"CrossEntropy: logits {ShapeUtil.Format(logits.Dims)} need targets of shape {ShapeUtil.Format(logits.Dims[..^1])}, got {ShapeUtil.Format(targets.Dims)}.");
        int valid = CountValid(targets, ignoreIndex);
        var targetsOn = IntegersOn(logits.Device, targets, logits.Dims[^1], ignoreIndex);
        bool uploaded = !ReferenceEquals(targetsOn, targets);
        var temps = new List<Tensor>();
        var zd = Kernel(logits, temps); var td = Kernel(targetsOn, temps);
        int rows = targets.Count;
        var losses = Tensor.Empty([rows], logits.DType, logits.Device);
        var lse = Tensor.Empty([rows], logits.DType, logits.Device);
        logits.Device.Backend.CrossEntropy(zd, td, losses, lse, ignoreIndex, softcap);
        DisposeAll(temps);
        if (uploaded && !GradMode.ShouldRecord(logits)) targetsOn.Dispose();
        var loss = Tensor.Empty([], logits.DType, logits.Device);
        logits.Device.Backend.SumTo(losses, loss);
        logits.Device.Backend.Unary(UnaryOp.Scale, loss, loss, 1.0 / Math.Max(valid, 1));
        losses.Dispose();
        return GradMode.Record(loss, "cross_entropy", [logits], g =>
        {
            var t2 = new List<Tensor>();
            var dz = Tensor.Empty(logits.Dims, logits.DType, logits.Device);
            logits.Device.Backend.CrossEntropyBackward(Kernel(logits, t2), Kernel(targetsOn, t2), lse, dz, ignoreIndex, g.Item() / Math.Max(valid, 1), softcap);
            DisposeAll(t2);
            if (uploaded) targetsOn.Dispose();
            return [dz];
        });
    }

    /// <summary>
    /// Mean cross-entropy of the logits x·Wᵀ (a model's head: x (N, C), <paramref name="weight"/> (V, C))
    /// against <paramref name="targets"/> (N), with the softcap of
    /// <see cref="CrossEntropy(Tensor, Tensor, long, double)"/>, without ever holding the N×V logits: rows go
    /// through in chunks (4 MiB of logits on the CPU, 1 GiB on a GPU), and when a gradient will be needed
    /// each chunk's logit gradient is made and multiplied into dx (N, C) and dW (V, C) right away, so the
    /// backward only scales those two. The same arithmetic as <c>CrossEntropy(Linear(x, weight), targets)</c>
    /// in the same number of products, in a fraction of the memory: for a d12 micro-batch of 8 rows of 2048
    /// tokens the logits alone are 4 GiB, and 16 rows of them would not fit one tensor.
    /// </summary>
    public static Tensor LinearCrossEntropy(Tensor x, Tensor weight, Tensor targets, long ignoreIndex = -1, double softcap = 0) =>
        LinearCrossEntropy(x, weight, targets, ignoreIndex, softcap, chunkRows: 0);

    /// <summary><see cref="LinearCrossEntropy(Tensor, Tensor, Tensor, long, double)"/> with chunks of <paramref name="chunkRows"/> rows (0: the device's size), for tests of the chunk seams.</summary>
    internal static Tensor LinearCrossEntropy(Tensor x, Tensor weight, Tensor targets, long ignoreIndex, double softcap, int chunkRows)
    {
        long[] ids = CheckLinearCrossEntropy("LinearCrossEntropy", x, weight, targets, ignoreIndex, softcap);
        int valid = ids.Count(t => t != ignoreIndex);
        bool record = GradMode.ShouldRecord(x, weight);
        Tensor? dx = record && x.RequiresGrad ? Tensor.Empty(x.Dims, x.DType, x.Device) : null;
        Tensor? dw = record && weight.RequiresGrad ? Tensor.Zeros(weight.Dims, weight.DType, weight.Device) : null;
        var total = Tensor.Zeros([], x.DType, x.Device);
        HeadChunks(x, weight, ids, ignoreIndex, softcap, chunkRows, 1.0 / Math.Max(valid, 1), total, null, dx, dw);
        x.Device.Backend.Unary(UnaryOp.Scale, total, total, 1.0 / Math.Max(valid, 1));
        if (!record) return total;
        // dx and dW were made for an incoming gradient of 1; the loss is a scalar, so the backward only scales
        // them, in place, and hands them to the backward's own scope, which frees each once it is used (dW
        // once added into the weight's gradient), as it would gradients it made itself. Until then, or if no
        // backward comes, the caller's scope owns them. So this graph can be differentiated once.
        bool consumed = false;
        return GradMode.Record(total, "linear_cross_entropy", [x, weight], g =>
        {
            if (consumed)
                throw new InvalidOperationException("LinearCrossEntropy: its gradients were made in the forward and handed to the first Backward(); compute the loss again for another backward.");
            consumed = true;
            double scale = g.Item();
            foreach (var t in new[] { dx, dw })
            {
                if (t is null) continue;
                if (scale != 1.0) t.Device.Backend.Unary(UnaryOp.Scale, t, t, scale);
                TensorScope.Keep(t);
                TensorScope.Register(t);
            }
            return [dx, dw];
        });
    }

    /// <summary>
    /// Each row's cross-entropy of the logits x·Wᵀ against its target, without gradients and without holding
    /// the logits (the chunks of <see cref="LinearCrossEntropy(Tensor, Tensor, Tensor, long, double)"/>): x (N, C), weight (V, C), targets (N);
    /// ignored rows get 0. What bits-per-byte needs from a model whose vocabulary makes B·T×V logits too big.
    /// </summary>
    public static Tensor LinearCrossEntropyPerToken(Tensor x, Tensor weight, Tensor targets, long ignoreIndex = -1, double softcap = 0) =>
        LinearCrossEntropyPerToken(x, weight, targets, ignoreIndex, softcap, chunkRows: 0);

    /// <summary><see cref="LinearCrossEntropyPerToken(Tensor, Tensor, Tensor, long, double)"/> with chunks of <paramref name="chunkRows"/> rows (0: the device's size).</summary>
    internal static Tensor LinearCrossEntropyPerToken(Tensor x, Tensor weight, Tensor targets, long ignoreIndex, double softcap, int chunkRows)
    {
        long[] ids = CheckLinearCrossEntropy("LinearCrossEntropyPerToken", x, weight, targets, ignoreIndex, softcap);
        var losses = Tensor.Empty([x.Dims[0]], x.DType, x.Device);
        HeadChunks(x, weight, ids, ignoreIndex, softcap, chunkRows, 0, null, losses, null, null);
        return losses;
    }

    /// <summary>Checks the operands of the head-and-loss ops; returns the targets, each checked, as host values.</summary>
    private static long[] CheckLinearCrossEntropy(string op, Tensor x, Tensor weight, Tensor targets, long ignoreIndex, double softcap)
    {
        RequireFloat(x, op, "x");
        RequireCap(softcap);
        RequireSameDevice(op, ("x", x), ("weight", weight));
        if (x.Rank != 2 || weight.Rank != 2 || x.Dims[1] != weight.Dims[1])
            throw new ArgumentException($"{op}: x {ShapeUtil.Format(x.Dims)} must be (N, C) and the weight {ShapeUtil.Format(weight.Dims)} (V, C) with the same C.");
        if (x.DType != weight.DType)
            throw new ArgumentException($"{op}: x is {x.DType} but the weight is {weight.DType}; convert one with To().");
        if (targets.Rank != 1 || targets.Dims[0] != x.Dims[0])
            throw new ArgumentException($"{op}: x {ShapeUtil.Format(x.Dims)} needs targets of shape [{x.Dims[0]}], got {ShapeUtil.Format(targets.Dims)}.");
        // Every target checked on the host first, so a bad one is named with its row in the whole batch.
        using var host = targets.CopyTo(Device.Cpu);
        return Cpu.CpuBackend.ReadTargets(host, x.Dims[0], weight.Dims[0], ignoreIndex);
    }

    /// <summary>
    /// The head and the loss over chunks of rows: per chunk, logits = x Wᵀ, their cross-entropy (summed into
    /// <paramref name="total"/> and/or copied into <paramref name="perToken"/>), and when <paramref name="dx"/> or
    /// <paramref name="dw"/> is given the logit gradient (scaled by <paramref name="gradScale"/>, written over
    /// the chunk's logits: each element needs only its own logit) multiplied into dx and added into dW.
    /// </summary>
    private static void HeadChunks(Tensor x, Tensor weight, long[] ids, long ignoreIndex, double softcap, int chunkRows, double gradScale,
        Tensor? total, Tensor? perToken, Tensor? dx, Tensor? dw)
    {
        int n = x.Dims[0], vocab = weight.Dims[0];
        var backend = x.Device.Backend;
        var temps = new List<Tensor>();
        var xd = Kernel(x, temps);
        var wd = Kernel(weight, temps);
        int chunk = chunkRows > 0 ? chunkRows : LinearCrossEntropyRows(x.Device, vocab, n);
        // The targets, checked on the host already, go to the device once; each chunk reads its rows of them.
        using var hostTargets = Tensor.FromArray(ids, n);
        using var targetsOn = x.Device == Device.Cpu ? null : hostTargets.CopyTo(x.Device);
        using (var logitsBuffer = Tensor.Empty([chunk, vocab], x.DType, x.Device))
        using (var lossesBuffer = Tensor.Empty([chunk], x.DType, x.Device))
        using (var lseBuffer = Tensor.Empty([chunk], x.DType, x.Device))
        using (var part = Tensor.Empty([], x.DType, x.Device))
        {
            for (int start = 0; start < n; start += chunk)
            {
                int rows = Math.Min(chunk, n - start);
                using var xs = xd.RowsNoGrad(start, rows);
                using var logits = logitsBuffer.RowsNoGrad(0, rows);
                using var losses = lossesBuffer.RowsNoGrad(0, rows);
                using var lse = lseBuffer.RowsNoGrad(0, rows);
                using var ts = (targetsOn ?? hostTargets).RowsNoGrad(start, rows);
                backend.MatMul(xs, false, wd, true, logits, 1.0, 0.0);                        // logits = x Wᵀ
                backend.CrossEntropy(logits, ts, losses, lse, ignoreIndex, softcap);
                if (total is not null)
                {
                    backend.SumTo(losses, part);
                    backend.AddInPlace(total, part, 1.0);
                }
                if (perToken is not null)
                {
                    using var slice = perToken.RowsNoGrad(start, rows);
                    backend.Copy(losses, slice);
                }
                if (dx is null && dw is null) continue;
                backend.CrossEntropyBackward(logits, ts, lse, logits, ignoreIndex, gradScale, softcap);
                if (dx is not null)
                {
                    using var dxs = dx.RowsNoGrad(start, rows);
                    backend.MatMul(logits, false, wd, false, dxs, 1.0, 0.0);                 // dx = dz W
                }
                if (dw is not null) backend.MatMul(logits, true, xs, false, dw, 1.0, 1.0);   // dW += dzᵀ x
            }
        }
        DisposeAll(temps);
    }

    /// <summary>
    /// Rows per chunk of <see cref="LinearCrossEntropy(Tensor, Tensor, Tensor, long, double)"/>: 2^20 logits on the CPU (4 MiB, so the product, the
    /// loss and its gradient meet them in cache), 2^28 on a GPU (1 GiB: products that fill it, and few
    /// chunks, since under autocast each of a chunk's three products casts the weight to bf16 again), in
    /// multiples of 128 rows where that many fit, the tile the tensor-core products need.
    /// </summary>
    private static int LinearCrossEntropyRows(Device device, int vocab, int rows)
    {
        long logits = device.Kind == DeviceKind.Cpu ? 1L << 20 : 1L << 28;
        long chunk = Math.Max(1, logits / Math.Max(vocab, 1));
        if (chunk >= 128) chunk -= chunk % 128;
        return (int)Math.Clamp(chunk, 1, Math.Max(rows, 1));
    }

    /// <summary>
    /// Cross-entropy of each row of logits (…, V) against its target (…), without gradients: the
    /// per-token losses that bits-per-byte and per-example evaluations need. Ignored rows get 0.
    /// </summary>
    public static Tensor CrossEntropyPerToken(Tensor logits, Tensor targets, long ignoreIndex = -1, double softcap = 0)
    {
        RequireFloat(logits, "CrossEntropyPerToken", "logits");
        RequireCap(softcap);
        if (!logits.Dims.AsSpan(0, logits.Rank - 1).SequenceEqual(targets.Dims))
            throw new ArgumentException($"CrossEntropyPerToken: logits {ShapeUtil.Format(logits.Dims)} need targets of shape {ShapeUtil.Format(logits.Dims[..^1])}, got {ShapeUtil.Format(targets.Dims)}.");
        var targetsOn = IntegersOn(logits.Device, targets, logits.Dims[^1], ignoreIndex);
        var temps = new List<Tensor>();
        if (!ReferenceEquals(targetsOn, targets)) temps.Add(targetsOn);
        var zd = Kernel(logits, temps); var td = Kernel(targetsOn, temps);
        var losses = Tensor.Empty(targets.Dims, logits.DType, logits.Device);
        using (var lse = Tensor.Empty([targets.Count], logits.DType, logits.Device))
        using (var flat = losses.ReshapeNoGrad(targets.Count))
            logits.Device.Backend.CrossEntropy(zd, td, flat, lse, ignoreIndex, softcap);
        DisposeAll(temps);
        return losses;
    }

    /// <summary>Every operand on the first one's device, or a message naming the one that is not and where each lives.</summary>
    private static void RequireSameDevice(string op, params ReadOnlySpan<(string Name, Tensor Tensor)> operands)
    {
        var device = operands[0].Tensor.Device;
        foreach (var (name, t) in operands)
            if (t.Device != device)
                throw new ArgumentException($"{op}: {name} is on {t.Device} but {operands[0].Name} is on {device}; move one with To(device).");
    }

    private static void RequireCap(double softcap)
    {
        if (!(softcap >= 0) || double.IsInfinity(softcap))
            throw new ArgumentOutOfRangeException(nameof(softcap), softcap, "The logit softcap must be a finite number >= 0 (0: no cap).");
    }

    private static int CountValid(Tensor targets, long ignoreIndex)
    {
        if (targets.Device != Device.Cpu)
        {
            using var host = targets.CopyTo(Device.Cpu);
            return CountValid(host, ignoreIndex);
        }
        if (!targets.IsContiguous)
        {
            using var dense = targets.CopyTo(Device.Cpu);
            return CountValid(dense, ignoreIndex);
        }
        int n = 0;
        if (targets.DType == DType.Int64) { foreach (var t in targets.Span<long>()) if (t != ignoreIndex) n++; }
        else if (targets.DType == DType.Int32) { foreach (var t in targets.Span<int>()) if (t != ignoreIndex) n++; }
        else throw new ArgumentException($"CrossEntropy: targets must be Int64 or Int32, not {targets.DType}.");
        return n;
    }

    /// <summary>Softmax over the last dimension.</summary>
    public static Tensor Softmax(Tensor x)
    {
        RequireFloat(x, "Softmax", "x");
        var temps = new List<Tensor>();
        var xd = Kernel(x, temps);
        var y = Tensor.Empty(x.Dims, x.DType, x.Device);
        x.Device.Backend.Softmax(xd, y);
        DisposeAll(temps);
        return GradMode.Record(y, "softmax", [x], g =>
        {
            var t2 = new List<Tensor>();
            var dx = Tensor.Empty(x.Dims, x.DType, x.Device);
            x.Device.Backend.SoftmaxBackward(y, Kernel(g, t2), dx);
            DisposeAll(t2);
            return [dx];
        });
    }
}
