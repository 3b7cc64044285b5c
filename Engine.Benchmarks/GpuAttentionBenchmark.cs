using Engine.Gpu;
using Engine.Kernels;
using Engine.Numerics;

namespace Engine.Benchmarks;

/// <summary>
/// <c>Engine.Benchmarks gpu-attention [--iterations 20]</c>: the C# flash attention (causal, bf16) on a
/// CUDA GPU, forward and backward, timed with CUDA events, in TFLOP/s of the work the causal mask
/// leaves (<see cref="FlashAttention.Flops"/>). Sampled rows of the output and of dQ, dK and dV are
/// checked against float64 first, so a fast wrong kernel is never reported.
/// tools/bench/attention_torch.py prints the same lines for PyTorch's scaled_dot_product_attention.
/// </summary>
internal static class GpuAttentionBenchmark
{
    /// <summary>The shapes both sides time: nanochat-like widths, 16k tokens a batch.</summary>
    internal static readonly AttentionShape[] Shapes =
    [
        new(8, 2048, 16, 16, 128),
        new(8, 2048, 32, 32, 64),
        new(8, 2048, 16, 4, 128),              // grouped-query attention, 4 query heads a key/value head
        new(8, 2048, 16, 16, 128, Window: 512), // nanochat's short window at sequence 2048
    ];

    public static int Run(string[] args)
    {
        if (args.Contains("--check-on-cpu"))
        {
            // The float64 check itself, exercised without a GPU on small shapes (nothing is timed).
            using var cpu = new CpuAccelerator(32);
            Verify(cpu, new AttentionShape(1, 192, 4, 2, 64), timed: false);
            Verify(cpu, new AttentionShape(1, 256, 2, 2, 128, Window: 64), timed: false);
            var few = new HashSet<(int, int)> { (0, 0), (1, 1), (2, 2), (3, 3), (3, 0), (2, 1) };
            Verify(cpu, new AttentionShape(1, 256, 2, 1, 64), timed: false, 0, AttentionMask.FromBlocks(256, few), few);
            return 0;
        }
        using CudaAccelerator? gpu = GpuBenchmark.Open("gpu-attention", args, 20, out int iterations);
        if (gpu is null)
        {
            return 2;
        }
        foreach (AttentionShape shape in Shapes)
        {
            Verify(gpu, shape, timed: true, iterations);
        }
        // Block-sparse against dense at the same shape: a quarter of the causal blocks (random, seeded),
        // diagonals kept. The ideal speedup is 1/density.
        var sparseShape = Shapes[0];
        var rng = new Random(7);
        int n = sparseShape.Sequence / FlashAttention.Block;
        var blocks = new HashSet<(int, int)>();
        for (int qb = 0; qb < n; qb++)
        {
            blocks.Add((qb, qb));
            for (int kb = 0; kb < qb; kb++)
            {
                if (rng.Next(4) == 0)
                {
                    blocks.Add((qb, kb));
                }
            }
        }
        AttentionMask mask = AttentionMask.FromBlocks(sparseShape.Sequence, blocks);
        var dense = Verify(gpu, sparseShape, timed: true, iterations);
        var sparse = Verify(gpu, sparseShape, timed: true, iterations, mask, blocks);
        Console.WriteLine(FormattableString.Invariant(
            $"engine attention sparse density {mask.Density:F3}: speedup over dense forward {dense.Forward / sparse.Forward:F2}x, backward {dense.Backward / sparse.Backward:F2}x (ideal {1 / mask.Density:F2}x)"));
        return 0;
    }

    private static string Describe(AttentionShape s) =>
        FormattableString.Invariant($"B={s.Batch} T={s.Sequence} H={s.Heads} Hkv={s.KvHeads} D={s.HeadDim} window={s.Window}");

    private static (double Forward, double Backward) Verify(Accelerator gpu, AttentionShape shape, bool timed, int iterations = 0, AttentionMask? mask = null,
        HashSet<(int, int)>? blocks = null)
    {
        using DeviceAttentionMask? onDevice = mask?.Upload(gpu);
        Func<int, int, bool> visibleBlock = blocks is null ? (_, _) => true : (i, j) => blocks.Contains((i / FlashAttention.Block, j / FlashAttention.Block));
        var rng = new Random(shape.Sequence + shape.HeadDim);
        BFloat16[] Random(long n, double scale) => Enumerable.Range(0, (int)n).Select(_ => (BFloat16)((rng.NextDouble() * 2 - 1) * scale)).ToArray();
        BFloat16[] q = Random(shape.QueryElements, 2), k = Random(shape.KeyValueElements, 2), v = Random(shape.KeyValueElements, 1), dout = Random(shape.QueryElements, 1);
        using var vq = gpu.Allocate<BFloat16>(q);
        using var vk = gpu.Allocate<BFloat16>(k);
        using var vv = gpu.Allocate<BFloat16>(v);
        using var vdo = gpu.Allocate<BFloat16>(dout);
        using var vo = gpu.Allocate<BFloat16>((int)shape.QueryElements);
        using var vlse = gpu.Allocate<float>((int)shape.RowStatistics);
        using var vdq = gpu.Allocate<BFloat16>((int)shape.QueryElements);
        using var vdk = gpu.Allocate<BFloat16>((int)shape.KeyValueElements);
        using var vdv = gpu.Allocate<BFloat16>((int)shape.KeyValueElements);
        using var work = gpu.Allocate<float>((int)FlashAttention.WorkspaceElements(shape));
        void Forward() => FlashAttention.Forward(gpu, vq.View, vk.View, vv.View, vo.View, vlse.View, shape, onDevice);
        void Backward() => FlashAttention.Backward(gpu, vq.View, vk.View, vv.View, vo.View, vdo.View, vlse.View, vdq.View, vdk.View, vdv.View, work.View, shape, onDevice);
        Forward();
        Backward();
        gpu.Synchronize();
        Check(shape, q, k, v, dout, vo.GetAsArray(), vdq.GetAsArray(), vdk.GetAsArray(), vdv.GetAsArray(), visibleBlock);
        if (!timed || gpu is not CudaAccelerator cuda)
        {
            return (0, 0);
        }
        double forward = GpuBenchmark.Time(cuda, Forward, iterations, warmup: 3), backward = GpuBenchmark.Time(cuda, Backward, iterations, warmup: 3);
        Console.WriteLine(FormattableString.Invariant(
            $"engine attention {Describe(shape)}{(mask is null ? "" : $" sparse {mask.Density:F2}")} forward: {forward:F3} ms, {FlashAttention.Flops(shape, false, mask) / (forward * 1e-3) / 1e12:F1} TFLOP/s"));
        Console.WriteLine(FormattableString.Invariant(
            $"engine attention {Describe(shape)}{(mask is null ? "" : $" sparse {mask.Density:F2}")} backward: {backward:F3} ms, {FlashAttention.Flops(shape, true, mask) / (backward * 1e-3) / 1e12:F1} TFLOP/s"));
        return (forward, backward);
    }

    /// <summary>
    /// Float64 values for a few rows of batch 0, head 0: output and dQ rows of a few queries, dK and dV rows
    /// of the last keys (few queries see them, so their probabilities are cheap to recompute).
    /// </summary>
    private static void Check(AttentionShape s, BFloat16[] q, BFloat16[] k, BFloat16[] v, BFloat16[] dout, BFloat16[] o, BFloat16[] dq, BFloat16[] dk, BFloat16[] dv,
        Func<int, int, bool> visibleBlock)
    {
        int t = s.Sequence, h = s.Heads, hk = s.KvHeads, d = s.HeadDim, group = h / hk;
        double scale = 1 / Math.Sqrt(d);
        int Qi(int ti, int hi) => (ti * h + hi) * d;
        int Ki(int ti, int hi) => (ti * hk + hi) * d;
        // Per query row of head hi: probabilities over all keys, Δ, and dP.
        (double[] P, double[] Dp, double Delta) Row(int i, int hi)
        {
            var p = new double[t];
            var dp = new double[t];
            double max = double.NegativeInfinity;
            for (int j = 0; j < t; j++)
            {
                bool visible = j <= i && (s.Window <= 0 || i - j <= s.Window) && visibleBlock(i, j);
                double dot = 0;
                for (int c = 0; c < d; c++)
                {
                    dot += (double)(float)q[Qi(i, hi) + c] * (float)k[Ki(j, hi / group) + c];
                }
                p[j] = visible ? dot * scale : double.NegativeInfinity;
                max = Math.Max(max, p[j]);
            }
            double sum = p.Sum(x => Math.Exp(x - max));
            double delta = 0;
            for (int j = 0; j < t; j++)
            {
                p[j] = Math.Exp(p[j] - max) / sum;
                for (int c = 0; c < d; c++)
                {
                    dp[j] += (double)(float)dout[Qi(i, hi) + c] * (float)v[Ki(j, hi / group) + c];
                }
                delta += p[j] * dp[j];
            }
            return (p, dp, delta);
        }
        double diffO = 0, normO = 0, diffQ = 0, normQ = 0;
        foreach (int i in new[] { 0, 1, t / 2 + 5, t - 1 })
        {
            var (p, dp, delta) = Row(i, 0);
            for (int c = 0; c < d; c++)
            {
                double out_ = 0, grad = 0;
                for (int j = 0; j < t; j++)
                {
                    out_ += p[j] * (float)v[Ki(j, 0) + c];
                    grad += scale * p[j] * (dp[j] - delta) * (float)k[Ki(j, 0) + c];
                }
                diffO += Math.Pow(out_ - (float)o[Qi(i, 0) + c], 2);
                normO += out_ * out_;
                diffQ += Math.Pow(grad - (float)dq[Qi(i, 0) + c], 2);
                normQ += grad * grad;
            }
        }
        double diffK = 0, normK = 0, diffV = 0, normV = 0;
        int lastKeys = 3;
        var rows = new Dictionary<(int, int), (double[] P, double[] Dp, double Delta)>();
        for (int j = t - lastKeys; j < t; j++)
        {
            for (int c = 0; c < d; c++)
            {
                double gk = 0, gv = 0;
                for (int hi = 0; hi < group; hi++) // The query heads that share key/value head 0.
                {
                    for (int i = j; i < t; i++)
                    {
                        if (!rows.TryGetValue((i, hi), out var row))
                        {
                            rows[(i, hi)] = row = Row(i, hi);
                        }
                        gv += row.P[j] * (float)dout[Qi(i, hi) + c];
                        gk += scale * row.P[j] * (row.Dp[j] - row.Delta) * (float)q[Qi(i, hi) + c];
                    }
                }
                diffK += Math.Pow(gk - (float)dk[Ki(j, 0) + c], 2);
                normK += gk * gk;
                diffV += Math.Pow(gv - (float)dv[Ki(j, 0) + c], 2);
                normV += gv * gv;
            }
        }
        double eo = Math.Sqrt(diffO / normO), eq = Math.Sqrt(diffQ / normQ), ek = Math.Sqrt(diffK / normK), ev = Math.Sqrt(diffV / normV);
        if (!(eo < 1e-2 && eq < 2e-2 && ek < 2e-2 && ev < 2e-2))
        {
            throw new InvalidOperationException(FormattableString.Invariant(
                $"attention {Describe(s)}: relative errors on sampled rows: output {eo:E2}, dq {eq:E2}, dk {ek:E2}, dv {ev:E2}; not timing a wrong kernel."));
        }
        Console.WriteLine(FormattableString.Invariant(
            $"engine attention {Describe(s)}: sampled rows match float64 (output {eo:E2}, dq {eq:E2}, dk {ek:E2}, dv {ev:E2})"));
    }
}
