using Engine.Gpu;
using Engine.Kernels;
using Engine.Optim;

namespace Engine.Accelerated;

/// <summary>
/// The GPU backend: every op of <see cref="IBackend"/> as Engine.Kernels launches on an
/// <see cref="Accelerator"/> (a CUDA GPU, or Engine.Gpu's CPU interpreter as the emulated device of the
/// tests). Tensors stay on the device between ops; the backend itself never reads values back to the
/// host. Compute is fp32 with the CPU backend's formulas, so both devices train the same model up to the
/// order of additions: the matrix products are <see cref="FloatGemm"/> and attention is
/// <see cref="FloatAttention"/> (the materialised-scores path). Under <see cref="Device.Autocast"/> the
/// products, training attention and Muon that fit the tensor-core tiles run in bf16 instead
/// (<see cref="TensorCoreGemm"/>, <see cref="FlashAttention"/>, <see cref="MuonKernels"/>).
/// </summary>
/// <remarks>
/// Decisions, for whoever extends this: fp32 first because it makes every op checkable against the CPU
/// backend to ~1e-6 and needs no loss scaling or master-weight copies; autocast keeps fp32 weights,
/// gradients and optimizer state and narrows only the operands of the products, as torch.autocast does.
/// Kernels launch on the accelerator's stream in order, so buffers reused by the caching allocator are
/// never overwritten while an earlier kernel still reads them. docs/gpu-backend.md has the rest.
/// </remarks>
internal sealed class AcceleratorBackend(Accelerator accelerator, Device device) : IBackend
{
    /// <summary>Products and attention calls that ran on tensor cores in bf16 (autocast); tests read it to know the fast path ran.</summary>
    internal long TensorCoreCalls;

    /// <summary>The most elements one attention score workspace may hold; larger batches run in slices (1 GiB of fp32).</summary>
    internal const long MaxScoreElements = 1L << 28;

    private static void RequireFloat32(Tensor t, string op)
    {
        if (t.DType != DType.Float32)
            throw new NotSupportedException($"{op} on the GPU backend needs float32 tensors, not {t.DType}; convert with To(DType.Float32) (float64 is for CPU gradient checks).");
    }

    private static ArrayView<float> F(Tensor t) => t.View<float>();

    public void Copy(Tensor src, Tensor dst)
    {
        if (src.DType != dst.DType)
            throw new ArgumentException($"Copy needs equal dtypes, got {src.DType} and {dst.DType}.");
        var layout = StridedLayout.Of(dst.Dims, src.StridesArray, src.Offset, dst.StridesArray, dst.Offset);
        CopyLayout(src, dst, layout);
    }

    private void CopyLayout(Tensor src, Tensor dst, StridedLayout layout)
    {
        switch (src.DType.SizeOf())
        {
            case 8: TensorKernels.Copy(accelerator, src.Buffer<ulong>(), dst.Buffer<ulong>(), layout); break;
            case 4: TensorKernels.Copy(accelerator, src.Buffer<uint>(), dst.Buffer<uint>(), layout); break;
            default: TensorKernels.Copy(accelerator, src.Buffer<ushort>(), dst.Buffer<ushort>(), layout); break;
        }
    }

    public void Cast(Tensor src, Tensor dst)
    {
        switch (src.DType, dst.DType)
        {
            case var (a, b) when a == b: Copy(src, dst); return;
            case (DType.Float32, DType.BFloat16): TrainingKernels.ToBf16(accelerator, src.View<float>(), dst.View<Numerics.BFloat16>()); return;
            case (DType.BFloat16, DType.Float32): TrainingKernels.ToFloat(accelerator, src.View<Numerics.BFloat16>(), dst.View<float>()); return;
            case (DType.Int64, DType.Int32): TensorKernels.Cast(accelerator, src.View<long>(), dst.View<int>()); return;
            case (DType.Int32, DType.Int64): TensorKernels.Cast(accelerator, src.View<int>(), dst.View<long>()); return;
        }
        // The rest (float64, integers to floats) are rare outside checks: through the host, with the CPU's rules.
        using var host = src.CopyTo(Device.Cpu);
        using var converted = Tensor.Empty(host.Dims, dst.DType, Device.Cpu);
        Device.Cpu.Backend.Cast(host, converted);
        dst.CopyFrom(converted);
    }

    public void Binary(BinaryOp op, Tensor a, Tensor b, Tensor dst)
    {
        RequireFloat32(dst, op.ToString());
        RequireFloat32(a, op.ToString());
        RequireFloat32(b, op.ToString());
        var layout = StridedLayout.Of(dst.Dims,
            ShapeUtil.BroadcastStrides(a.Dims, a.StridesArray, dst.Dims), a.Offset,
            ShapeUtil.BroadcastStrides(b.Dims, b.StridesArray, dst.Dims), b.Offset);
        TensorKernels.Binary(accelerator, (BinaryFunction)(int)op, a.Buffer<float>(), b.Buffer<float>(), F(dst), layout);
    }

    public void Unary(UnaryOp op, Tensor x, Tensor dst, double arg)
    {
        RequireFloat32(x, op.ToString());
        TensorKernels.Unary(accelerator, (UnaryFunction)(int)op, F(x), F(dst), (float)arg);
    }

    public void UnaryBackward(UnaryOp op, Tensor x, Tensor y, Tensor dy, Tensor dx, double arg)
    {
        RequireFloat32(x, op + " backward");
        TensorKernels.UnaryBackward(accelerator, (UnaryFunction)(int)op, F(x), F(y), F(dy), F(dx), (float)arg);
    }

    public void AddInPlace(Tensor dst, Tensor src, double alpha)
    {
        RequireFloat32(dst, "AddInPlace");
        if (!src.IsContiguous)
        {
            using var c = src.CopyTo(src.Device);
            AddInPlace(dst, c, alpha);
            return;
        }
        TensorKernels.AddScaled(accelerator, F(dst), F(src), (float)alpha);
    }

    public void SumTo(Tensor x, Tensor dst)
    {
        RequireFloat32(x, "Sum");
        if (dst.Count == x.Count)
        {
            // Nothing is summed: a copy of x into dst's (contiguous) elements.
            var same = StridedLayout.Of(x.Dims, x.StridesArray, x.Offset, ShapeUtil.ContiguousStrides(x.Dims), dst.Offset);
            CopyLayout(x, dst, same);
            return;
        }
        // The result's dimensions aligned to x's from the right; x's other dimensions are summed.
        int rank = x.Rank, shift = rank - dst.Rank;
        var kept = new int[rank];
        var reduced = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int outSize = i < shift ? 1 : dst.Dims[i - shift];
            kept[i] = outSize == x.Dims[i] ? x.Dims[i] : 1;
            reduced[i] = kept[i] == 1 ? x.Dims[i] : 1;
        }
        var zeros = new int[rank];
        var keptLayout = StridedLayout.Of(kept, x.StridesArray, x.Offset, zeros, 0);
        var reducedLayout = StridedLayout.Of(reduced, x.StridesArray, 0, zeros, 0);
        TensorKernels.Sum(accelerator, x.Buffer<float>(), F(dst), keptLayout, reducedLayout);
    }

    public void MatMul(Tensor a, bool transA, Tensor b, bool transB, Tensor c, double alpha, double beta)
    {
        RequireFloat32(c, "MatMul");
        RequireFloat32(a, "MatMul");
        RequireFloat32(b, "MatMul");
        int ra = a.Dims[^2], ca = a.Dims[^1], rb = b.Dims[^2], cb = b.Dims[^1];
        int m = transA ? ca : ra, k = transA ? ra : ca, n = transB ? rb : cb;
        int batch = c.Rank == 3 ? c.Dims[0] : 1;
        if (device.Autocast && batch == 1 && TensorCoreShape(m, n, k)
            && OnTensorCores(() => MatMulBf16(a, transA, b, transB, c, m, n, k, (float)alpha, (float)beta)))
        {
            return;
        }
        var la = new GemmOperand(a.Offset, ca, a.Rank == 3 ? ra * ca : 0);
        var lb = new GemmOperand(b.Offset, cb, b.Rank == 3 ? rb * cb : 0);
        var lc = new GemmOperand(c.Offset, n, m * n);
        FloatGemm.Multiply(accelerator, batch, m, n, k, (float)alpha, a.Buffer<float>(), la, transA, b.Buffer<float>(), lb, transB, (float)beta, c.Buffer<float>(), lc);
    }

    /// <summary>
    /// Runs a bf16 tensor-core path; false (and autocast switched off for the device, with one warning on
    /// standard error) when the driver cannot load its kernels, so training goes on in fp32 instead of
    /// stopping. That is the failure a GPU the kernels were never run on is likeliest to show (a PTX feature
    /// its driver lacks); a fault while a kernel runs cannot be recovered from and still throws.
    /// </summary>
    private bool OnTensorCores(Action run)
    {
        try
        {
            run();
            return true;
        }
        catch (CudaException e) when (e.Message.StartsWith("The driver could not load the PTX", StringComparison.Ordinal))
        {
            device.Autocast = false;
            string first = e.Message.Split('\n')[0];
            Console.Error.WriteLine($"Engine: the bf16 tensor-core kernels do not load on {accelerator.Name} ({first}); autocast is off for {device.Name}, continuing in fp32.");
            return false;
        }
    }

    /// <summary>Whether the tensor-core GEMM takes this shape (tiles of 128 × 128 × 32, warps of 32).</summary>
    private bool TensorCoreShape(int m, int n, int k) =>
        accelerator.WarpSize == 32 && m > 0 && n > 0 && k > 0 && m % TensorCoreGemm.BlockM == 0 && n % TensorCoreGemm.BlockN == 0 && k % TensorCoreGemm.BlockK == 0;

    /// <summary>A bf16 copy of a dense fp32 tensor (autocast's operand cast), added to <paramref name="temps"/>.</summary>
    private Tensor ToBf16(Tensor t, List<Tensor> temps)
    {
        var copy = Tensor.Empty(t.Dims, DType.BFloat16, t.Device);
        temps.Add(copy);
        TrainingKernels.ToBf16(accelerator, F(t), copy.View<Numerics.BFloat16>());
        return copy;
    }

    /// <summary>fp32 <paramref name="target"/> ← a bf16 result.</summary>
    private void FromBf16(Tensor bf16, Tensor target) => TrainingKernels.ToFloat(accelerator, bf16.View<Numerics.BFloat16>(), F(target));

    /// <summary>
    /// c = α·op(a)·op(b) + β·c with bf16 operands on the tensor cores (fp32 accumulation, the product
    /// rounded once to bf16), then blended into fp32 c: torch.autocast's matmul.
    /// </summary>
    private void MatMulBf16(Tensor a, bool transA, Tensor b, bool transB, Tensor c, int m, int n, int k, float alpha, float beta)
    {
        var temps = new List<Tensor>();
        try
        {
            var a16 = ToBf16(a, temps);
            var b16 = ToBf16(b, temps);
            var c16 = Tensor.Empty([m, n], DType.BFloat16, c.Device);
            temps.Add(c16);
            TensorCoreGemm.Bf16(accelerator, a16.View<Numerics.BFloat16>(), transA, b16.View<Numerics.BFloat16>(), transB, c16.View<Numerics.BFloat16>(), m, n, k);
            Interlocked.Increment(ref TensorCoreCalls);
            if (beta == 0f && alpha == 1f)
            {
                FromBf16(c16, c);
                return;
            }
            var product = Tensor.Empty([m, n], DType.Float32, c.Device);
            temps.Add(product);
            FromBf16(c16, product);
            if (beta == 0f)
            {
                TensorKernels.Unary(accelerator, UnaryFunction.Scale, F(product), F(c), alpha);
                return;
            }
            if (beta != 1f) TensorKernels.Unary(accelerator, UnaryFunction.Scale, F(c), F(c), beta);
            TensorKernels.AddScaled(accelerator, F(c), F(product), alpha);
        }
        finally { DisposeAll(temps); }
    }

    /// <summary>
    /// Whether attention of this shape runs as bf16 flash attention under autocast: queries and keys the
    /// same positions (training, not decoding), a whole number of 64-row blocks, heads of 64 or 128, the
    /// kernel's own 1/√D scale, and a window it can express (unlimited or positive; 0 would be the diagonal only).
    /// </summary>
    private bool FlashShape(FloatAttentionShape s, double scale) =>
        device.Autocast && accelerator.WarpSize == 32 && s.Queries == s.Keys && s.Queries % FlashAttention.Block == 0 && s.Dim is 64 or 128
        && Math.Abs(scale * Math.Sqrt(s.Dim) - 1) < 1e-6 && s.Window != 0
        && (long)s.Batch * s.Queries * s.Heads * s.Dim + (long)s.Batch * s.Heads * s.Queries <= int.MaxValue;

    private static AttentionShape FlashShapeOf(FloatAttentionShape s) => new(s.Batch, s.Queries, s.Heads, s.KvHeads, s.Dim, s.Window < 0 ? 0 : s.Window);

    /// <summary>Token ids as int32 on the device: the tensor itself, or a converted copy added to <paramref name="temps"/>.</summary>
    private ArrayView<int> Ids(Tensor ids, List<Tensor> temps)
    {
        if (ids.DType == DType.Int32) return ids.View<int>();
        if (ids.DType != DType.Int64)
            throw new ArgumentException($"Token ids and targets must be an Int64 or Int32 tensor, not {ids.DType}.");
        var narrow = Tensor.Empty(ids.Dims, DType.Int32, ids.Device);
        temps.Add(narrow);
        TensorKernels.Cast(accelerator, ids.View<long>(), narrow.View<int>());
        return narrow.View<int>();
    }

    private static void DisposeAll(List<Tensor> temps)
    {
        foreach (var t in temps) t.Dispose();
    }

    public void Embedding(Tensor ids, Tensor weight, Tensor output)
    {
        RequireFloat32(weight, "Embedding");
        var temps = new List<Tensor>();
        try { TensorKernels.Embedding(accelerator, Ids(ids, temps), F(weight), F(output), weight.Dims[1]); }
        finally { DisposeAll(temps); }
    }

    public void EmbeddingBackward(Tensor ids, Tensor dOutput, Tensor dWeight)
    {
        RequireFloat32(dWeight, "Embedding backward");
        var temps = new List<Tensor>();
        try { TensorKernels.EmbeddingBackward(accelerator, Ids(ids, temps), F(dOutput), F(dWeight), dWeight.Dims[1]); }
        finally { DisposeAll(temps); }
    }

    public void RmsNorm(Tensor x, Tensor y, Tensor rstd, double eps)
    {
        RequireFloat32(x, "RMSNorm");
        TensorKernels.RmsNorm(accelerator, F(x), F(y), F(rstd), x.Dims[^1], (float)eps);
    }

    public void RmsNormBackward(Tensor y, Tensor rstd, Tensor dy, Tensor dx)
    {
        RequireFloat32(y, "RMSNorm backward");
        TensorKernels.RmsNormBackward(accelerator, F(y), F(rstd), F(dy), F(dx), y.Dims[^1]);
    }

    public void Rotary(Tensor x, Tensor cos, Tensor sin, Tensor y, bool inverse)
    {
        RequireFloat32(x, "Rotary");
        RequireFloat32(cos, "Rotary");
        TensorKernels.Rotary(accelerator, F(x), F(cos), F(sin), F(y), x.Dims[1], x.Dims[2], x.Dims[3], inverse);
    }

    /// <summary>The batch slices attention runs in, so that one score workspace stays under <see cref="MaxScoreElements"/>.</summary>
    private static int BatchSlice(FloatAttentionShape s)
    {
        long perBatch = (long)s.Heads * s.Queries * s.Keys;
        if (perBatch > MaxScoreElements)
            throw new NotSupportedException($"Attention over {s.Queries} queries and {s.Keys} keys with {s.Heads} heads needs {perBatch} scores per sequence, more than the fp32 path's {MaxScoreElements}; use a shorter sequence.");
        return (int)Math.Max(1, Math.Min(s.Batch, MaxScoreElements / perBatch));
    }

    private static FloatAttentionShape ShapeOf(Tensor q, Tensor k, int window) =>
        new(q.Dims[0], q.Dims[1], k.Dims[1], q.Dims[2], k.Dims[2], q.Dims[3], window);

    public void Attention(Tensor q, Tensor k, Tensor v, Tensor output, Tensor lse, int window, double scale)
    {
        RequireFloat32(q, "Attention");
        var shape = ShapeOf(q, k, window);
        // The saved lse is the same in both paths (natural log of the scaled scores' softmax denominator,
        // (B, H, Tq)), so a forward on one path and its backward on the other agree.
        if (FlashShape(shape, scale) && OnTensorCores(() => FlashForward(q, k, v, output, lse, shape)))
        {
            return;
        }
        int slice = BatchSlice(shape);
        using var scores = Tensor.Empty([(int)((long)slice * shape.Heads * shape.Queries * shape.Keys)], DType.Float32, q.Device);
        for (int b0 = 0; b0 < shape.Batch; b0 += slice)
        {
            int n = Math.Min(slice, shape.Batch - b0);
            var part = shape with { Batch = n };
            FloatAttention.Forward(accelerator, Rows(q, b0, n), Rows(k, b0, n), Rows(v, b0, n), Rows(output, b0, n), Rows(lse, b0, n),
                part, (float)scale, F(scores));
        }
    }

    public void AttentionBackward(Tensor q, Tensor k, Tensor v, Tensor output, Tensor lse, Tensor dOutput, Tensor dq, Tensor dk, Tensor dv, int window, double scale)
    {
        RequireFloat32(q, "Attention backward");
        var shape = ShapeOf(q, k, window);
        if (FlashShape(shape, scale) && OnTensorCores(() => FlashBackward(q, k, v, output, lse, dOutput, dq, dk, dv, shape)))
        {
            return;
        }
        int slice = BatchSlice(shape);
        int work = (int)((long)slice * shape.Heads * shape.Queries * shape.Keys);
        using var p = Tensor.Empty([work], DType.Float32, q.Device);
        using var dp = Tensor.Empty([work], DType.Float32, q.Device);
        for (int b0 = 0; b0 < shape.Batch; b0 += slice)
        {
            int n = Math.Min(slice, shape.Batch - b0);
            var part = shape with { Batch = n };
            FloatAttention.Backward(accelerator, Rows(q, b0, n), Rows(k, b0, n), Rows(v, b0, n), Rows(output, b0, n), Rows(lse, b0, n),
                Rows(dOutput, b0, n), Rows(dq, b0, n), Rows(dk, b0, n), Rows(dv, b0, n), part, (float)scale, F(p), F(dp));
        }
    }

    private void FlashForward(Tensor q, Tensor k, Tensor v, Tensor output, Tensor lse, FloatAttentionShape shape)
    {
        var temps = new List<Tensor>();
        try
        {
            var o16 = Tensor.Empty(output.Dims, DType.BFloat16, output.Device);
            temps.Add(o16);
            FlashAttention.Forward(accelerator, ToBf16(q, temps).View<Numerics.BFloat16>(), ToBf16(k, temps).View<Numerics.BFloat16>(), ToBf16(v, temps).View<Numerics.BFloat16>(),
                o16.View<Numerics.BFloat16>(), F(lse), FlashShapeOf(shape));
            Interlocked.Increment(ref TensorCoreCalls);
            FromBf16(o16, output);
        }
        finally { DisposeAll(temps); }
    }

    private void FlashBackward(Tensor q, Tensor k, Tensor v, Tensor output, Tensor lse, Tensor dOutput, Tensor dq, Tensor dk, Tensor dv, FloatAttentionShape shape)
    {
        var temps = new List<Tensor>();
        try
        {
            var flash = FlashShapeOf(shape);
            Tensor Bf16Like(Tensor t)
            {
                var x = Tensor.Empty(t.Dims, DType.BFloat16, t.Device);
                temps.Add(x);
                return x;
            }
            var (dq16, dk16, dv16) = (Bf16Like(dq), Bf16Like(dk), Bf16Like(dv));
            var workspace = Tensor.Empty([(int)FlashAttention.WorkspaceElements(flash)], DType.Float32, q.Device);
            temps.Add(workspace);
            FlashAttention.Backward(accelerator, ToBf16(q, temps).View<Numerics.BFloat16>(), ToBf16(k, temps).View<Numerics.BFloat16>(), ToBf16(v, temps).View<Numerics.BFloat16>(),
                ToBf16(output, temps).View<Numerics.BFloat16>(), ToBf16(dOutput, temps).View<Numerics.BFloat16>(), F(lse),
                dq16.View<Numerics.BFloat16>(), dk16.View<Numerics.BFloat16>(), dv16.View<Numerics.BFloat16>(), F(workspace), flash);
            Interlocked.Increment(ref TensorCoreCalls);
            FromBf16(dq16, dq);
            FromBf16(dk16, dk);
            FromBf16(dv16, dv);
        }
        finally { DisposeAll(temps); }
    }

    /// <summary>Batch entries [b0, b0 + n) of a contiguous tensor whose first dimension is the batch.</summary>
    private static ArrayView<float> Rows(Tensor t, int b0, int n)
    {
        int per = t.Count / t.Dims[0];
        return F(t).SubView(b0 * per, n * per);
    }

    private static int IgnoreIndex(long ignoreIndex) =>
        ignoreIndex is >= int.MinValue and <= int.MaxValue ? (int)ignoreIndex : int.MaxValue;

    public void CrossEntropy(Tensor logits, Tensor targets, Tensor losses, Tensor lse, long ignoreIndex, double softcap)
    {
        RequireFloat32(logits, "CrossEntropy");
        var temps = new List<Tensor>();
        try { TensorKernels.CrossEntropy(accelerator, F(logits), Ids(targets, temps), F(losses), F(lse), logits.Dims[^1], IgnoreIndex(ignoreIndex), (float)softcap); }
        finally { DisposeAll(temps); }
    }

    public void CrossEntropyBackward(Tensor logits, Tensor targets, Tensor lse, Tensor dLogits, long ignoreIndex, double scale, double softcap)
    {
        RequireFloat32(logits, "CrossEntropy backward");
        var temps = new List<Tensor>();
        try { TensorKernels.CrossEntropyBackward(accelerator, F(logits), Ids(targets, temps), F(lse), F(dLogits), logits.Dims[^1], IgnoreIndex(ignoreIndex), (float)scale, (float)softcap); }
        finally { DisposeAll(temps); }
    }

    public void Softmax(Tensor x, Tensor y)
    {
        RequireFloat32(x, "Softmax");
        TensorKernels.Softmax(accelerator, F(x), F(y), x.Dims[^1]);
    }

    public void SoftmaxBackward(Tensor y, Tensor dy, Tensor dx)
    {
        RequireFloat32(y, "Softmax backward");
        TensorKernels.SoftmaxBackward(accelerator, F(y), F(dy), F(dx), y.Dims[^1]);
    }

    /// <summary>
    /// Under autocast, a weight whose sides are multiples of 128 takes MuonKernels' step: bf16 Newton–Schulz
    /// on the tensor-core GEMM with its polynomial fused into the epilogue, as nanochat runs Muon in bf16
    /// (within about 1% of the fp32 update; MuonKernelsTests). Otherwise, or if the kernels do not load,
    /// the generic fp32 path.
    /// </summary>
    public bool TryMuonStep(Tensor p, Tensor g, Tensor momentumBuffer, double learningRate, double momentum, bool nesterov, int steps)
    {
        if (!device.Autocast || p.DType != DType.Float32 || p.Rank != 2 || accelerator.WarpSize != 32) return false;
        int rows = p.Dims[0], cols = p.Dims[1];
        if (rows % 128 != 0 || cols % 128 != 0 || !p.IsContiguous || !g.IsContiguous) return false;
        return OnTensorCores(() =>
        {
            using var floats = Tensor.Empty([MuonKernels.FloatWorkspace(rows, cols)], DType.Float32, p.Device);
            using var halves = Tensor.Empty([MuonKernels.Bf16Workspace(rows, cols)], DType.BFloat16, p.Device);
            MuonKernels.Step(accelerator, F(p), F(g), F(momentumBuffer), rows, cols, (float)learningRate, (float)momentum, nesterov,
                F(floats), halves.View<Numerics.BFloat16>(), steps);
            Interlocked.Increment(ref TensorCoreCalls);
        });
    }

    public void AdamW(Tensor p, Tensor g, Tensor m, Tensor v, AdamWStep s)
    {
        RequireFloat32(p, "AdamW");
        TensorKernels.AdamW(accelerator, F(p), F(g), F(m), F(v), (float)s.LearningRate, (float)s.Beta1, (float)s.Beta2, (float)s.Eps, (float)s.WeightDecay,
            (float)s.BiasCorrection1, (float)s.BiasCorrection2);
    }
}
