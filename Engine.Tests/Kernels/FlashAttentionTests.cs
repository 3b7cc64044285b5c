using System.Reflection;
using System.Text.RegularExpressions;
using Engine.Gpu;
using Engine.Kernels;
using Engine.Numerics;
using static Engine.Tests.Kernels.KernelTestSupport;

namespace Engine.Tests.Kernels;

/// <summary>
/// The tensor-core flash attention, forward and backward, against a float64 attention written out
/// plainly here (scores, mask, softmax, products; its gradients checked against finite differences)
/// on the same bf16 inputs: on the CPU accelerator at warp size 32, and on a CUDA GPU where there is
/// one (skipped visibly elsewhere). Every output is poisoned with NaN first.
/// </summary>
public class FlashAttentionTests
{
    public static TheoryData<string> Accelerators() => new("cpu32", "cuda");

    private static BFloat16[] Random(Random rng, long n, double scale) =>
        Enumerable.Range(0, (int)n).Select(_ => (BFloat16)((rng.NextDouble() * 2 - 1) * scale)).ToArray();

    /// <summary>The float64 attention and, given dO, its gradients: the plain definitions, no blocking, no online softmax.</summary>
    internal sealed class Reference
    {
        public double[] Output = [], Lse = [], Dq = [], Dk = [], Dv = [];

        public static Reference Run(AttentionShape s, double[] q, double[] k, double[] v, double[]? dout, Func<int, int, int, bool>? visibleIn = null)
        {
            int b = s.Batch, t = s.Sequence, h = s.Heads, hk = s.KvHeads, d = s.HeadDim, group = h / hk;
            double scale = 1 / Math.Sqrt(d);
            var r = new Reference
            {
                Output = new double[q.Length], Lse = new double[b * h * t],
                Dq = new double[q.Length], Dk = new double[k.Length], Dv = new double[v.Length],
            };
            int Qi(int bi, int ti, int hi) => ((bi * t + ti) * h + hi) * d;
            int Ki(int bi, int ti, int hi) => ((bi * t + ti) * hk + hi) * d;
            var p = new double[t];
            var dp = new double[t];
            for (int bi = 0; bi < b; bi++)
            {
                for (int hi = 0; hi < h; hi++)
                {
                    int kv = hi / group;
                    for (int i = 0; i < t; i++)
                    {
                        double max = double.NegativeInfinity;
                        for (int j = 0; j < t; j++)
                        {
                            bool visible = j <= i && (s.Window <= 0 || i - j <= s.Window) && (visibleIn is null || visibleIn(bi, i, j));
                            double dot = 0;
                            for (int c = 0; c < d; c++)
                            {
                                dot += q[Qi(bi, i, hi) + c] * k[Ki(bi, j, kv) + c];
                            }
                            p[j] = visible ? dot * scale : double.NegativeInfinity;
                            max = Math.Max(max, p[j]);
                        }
                        double sum = 0;
                        for (int j = 0; j < t; j++)
                        {
                            p[j] = Math.Exp(p[j] - max);
                            sum += p[j];
                        }
                        r.Lse[(bi * h + hi) * t + i] = max + Math.Log(sum);
                        for (int j = 0; j < t; j++)
                        {
                            p[j] /= sum;
                            for (int c = 0; c < d; c++)
                            {
                                r.Output[Qi(bi, i, hi) + c] += p[j] * v[Ki(bi, j, kv) + c];
                            }
                        }
                        if (dout is null)
                        {
                            continue;
                        }
                        // dP = dO·Vᵀ, dS = P∘(dP − Σ P∘dP), then the three products.
                        double delta = 0;
                        for (int j = 0; j < t; j++)
                        {
                            dp[j] = 0;
                            for (int c = 0; c < d; c++)
                            {
                                dp[j] += dout[Qi(bi, i, hi) + c] * v[Ki(bi, j, kv) + c];
                            }
                            delta += p[j] * dp[j];
                        }
                        for (int j = 0; j < t; j++)
                        {
                            double ds = p[j] * (dp[j] - delta);
                            for (int c = 0; c < d; c++)
                            {
                                r.Dv[Ki(bi, j, kv) + c] += p[j] * dout[Qi(bi, i, hi) + c];
                                r.Dq[Qi(bi, i, hi) + c] += scale * ds * k[Ki(bi, j, kv) + c];
                                r.Dk[Ki(bi, j, kv) + c] += scale * ds * q[Qi(bi, i, hi) + c];
                            }
                        }
                    }
                }
            }
            return r;
        }
    }

    public static TheoryData<string, int, int, int, int, int, int> Shapes() => new()
    {
        // accelerator, batch, sequence, heads, kv heads, head width, window
        { "cpu32", 1, 128, 2, 2, 64, 0 },    // two blocks: the diagonal and the one below it
        { "cpu32", 2, 192, 4, 2, 64, 0 },    // GQA, two sequences, three blocks
        { "cpu32", 1, 256, 2, 1, 64, 72 },   // a window that skips whole blocks and cuts others
        { "cpu32", 1, 128, 2, 1, 128, 0 },   // wide heads
        { "cuda", 2, 512, 8, 2, 64, 0 },
        { "cuda", 2, 512, 4, 4, 128, 0 },
        { "cuda", 1, 1024, 4, 2, 128, 192 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ForwardAndBackwardMatchFloat64(string kind, int batch, int sequence, int heads, int kvHeads, int headDim, int window)
    {
        using Accelerator acc = Make(kind);
        var shape = new AttentionShape(batch, sequence, heads, kvHeads, headDim, window);
        var rng = new Random(Environment.TickCount);
        // Scores of a few units, as a trained model's are; dO at the scale of a loss gradient.
        BFloat16[] q = Random(rng, shape.QueryElements, 2), k = Random(rng, shape.KeyValueElements, 2), v = Random(rng, shape.KeyValueElements, 1);
        BFloat16[] dout = Random(rng, shape.QueryElements, 1e-3);
        var expected = Reference.Run(shape, Wide(q), Wide(k), Wide(v), Wide(dout));

        RunAndCompare(acc, shape, q, k, v, dout, expected, null, $"{shape} on {acc.Name}");
    }

    /// <summary>
    /// Runs forward and backward on poisoned outputs and holds them to the float64 reference: the output
    /// rounds P to bf16 before P·V (as every bf16 flash attention does), a little over the rounding of the
    /// output alone; the log-sum-exp is fp32 throughout; the gradients go through bf16 P, dS and O (Δ is
    /// computed from the bf16 output), each of rounding error 2^-9: a few times the floor.
    /// </summary>
    private static void RunAndCompare(Accelerator acc, AttentionShape shape, BFloat16[] q, BFloat16[] k, BFloat16[] v, BFloat16[] dout, Reference expected,
        DeviceAttentionMask? mask, string label)
    {
        using var vq = acc.Allocate<BFloat16>(q);
        using var vk = acc.Allocate<BFloat16>(k);
        using var vv = acc.Allocate<BFloat16>(v);
        using var vdo = acc.Allocate<BFloat16>(dout);
        using var vo = acc.Allocate<BFloat16>(Enumerable.Repeat(BFloat16.NaN, (int)shape.QueryElements).ToArray());
        using var vlse = acc.Allocate<float>(Enumerable.Repeat(float.NaN, (int)shape.RowStatistics).ToArray());
        using var vdq = acc.Allocate<BFloat16>(Enumerable.Repeat(BFloat16.NaN, (int)shape.QueryElements).ToArray());
        using var vdk = acc.Allocate<BFloat16>(Enumerable.Repeat(BFloat16.NaN, (int)shape.KeyValueElements).ToArray());
        using var vdv = acc.Allocate<BFloat16>(Enumerable.Repeat(BFloat16.NaN, (int)shape.KeyValueElements).ToArray());
        using var work = acc.Allocate<float>(Enumerable.Repeat(float.NaN, (int)FlashAttention.WorkspaceElements(shape)).ToArray());
        FlashAttention.Forward(acc, vq.View, vk.View, vv.View, vo.View, vlse.View, shape, mask);
        FlashAttention.Backward(acc, vq.View, vk.View, vv.View, vo.View, vdo.View, vlse.View, vdq.View, vdk.View, vdv.View, work.View, shape, mask);

        var log = TestContext.Current.TestOutputHelper;
        var (outError, outFloor) = Compare(expected.Output, Narrow(vo.GetAsArray()), "output");
        var (lseError, _) = Compare(expected.Lse, vlse.GetAsArray(), "lse");
        log?.WriteLine($"{label}: output {outError:E2} (bf16 rounding alone {outFloor:E2}), lse {lseError:E2}");
        Assert.True(outError < 3 * outFloor, $"{label}: output relative error norm {outError:E2}, bf16 rounding alone {outFloor:E2}");
        Assert.True(lseError < 1e-5, $"{label}: lse relative error norm {lseError:E2}");
        foreach (var (name, exact, view) in new[] { ("dq", expected.Dq, vdq), ("dk", expected.Dk, vdk), ("dv", expected.Dv, vdv) })
        {
            var (error, floor) = Compare(exact, Narrow(view.GetAsArray()), name);
            log?.WriteLine($"  {name}: {error:E2} (bf16 rounding alone {floor:E2})");
            Assert.True(error < 4 * floor, $"{label}: {name} relative error norm {error:E2}, bf16 rounding alone {floor:E2}");
        }
    }

    [Fact]
    public void TheReferenceGradientsMatchFiniteDifferences()
    {
        // The float64 reference is what the kernels are held to, so its backward is checked on its own:
        // the directional derivative of L = Σ dO∘O along random directions of q, k and v.
        var shape = new AttentionShape(1, 6, 2, 1, 4, Window: 3);
        var rng = new Random(Environment.TickCount);
        double[] R(long n) => Enumerable.Range(0, (int)n).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        double[] q = R(shape.QueryElements), k = R(shape.KeyValueElements), v = R(shape.KeyValueElements), dout = R(shape.QueryElements);
        var r = Reference.Run(shape, q, k, v, dout);
        double Loss(double[] qq, double[] kk, double[] vv) => Reference.Run(shape, qq, kk, vv, null).Output.Zip(dout, (o, g) => o * g).Sum();
        foreach (var (which, grad) in new[] { (0, r.Dq), (1, r.Dk), (2, r.Dv) })
        {
            double[] x = which == 0 ? q : which == 1 ? k : v;
            double[] dir = R(x.Length);
            const double eps = 1e-5;
            double[] Shift(double sign) => x.Zip(dir, (a, e) => a + sign * eps * e).ToArray();
            double Eval(double sign) => which == 0 ? Loss(Shift(sign), k, v) : which == 1 ? Loss(q, Shift(sign), v) : Loss(q, k, Shift(sign));
            double numeric = (Eval(1) - Eval(-1)) / (2 * eps);
            double analytic = grad.Zip(dir, (g, e) => g * e).Sum();
            Assert.True(Math.Abs(numeric - analytic) <= 1e-7 * Math.Max(1, Math.Abs(numeric)), $"input {which}: finite differences {numeric}, reference {analytic}");
        }
    }

    public static TheoryData<string, int, string> Masks() => new()
    {
        // accelerator, head width, mask
        { "cpu32", 64, "causal as lists" },
        { "cpu32", 64, "half the blocks" },
        { "cpu32", 64, "documents" },
        { "cpu32", 128, "documents and a window" },
        { "cuda", 64, "half the blocks" },
        { "cuda", 128, "documents and a window" },
    };

    [Theory]
    [MemberData(nameof(Masks))]
    public void BlockSparseMasksMatchFloat64(string kind, int headDim, string maskKind)
    {
        using Accelerator acc = Make(kind);
        var rng = new Random(Environment.TickCount);
        int batch = 2, sequence = 320, blocks = sequence / FlashAttention.Block;
        int window = maskKind.Contains("window", StringComparison.Ordinal) ? 100 : 0;
        var shape = new AttentionShape(batch, sequence, 4, 2, headDim, window);
        // Documents: a new one starts at random tokens, different in each sequence (as packed rows are).
        int[] documents = new int[batch * sequence];
        for (int b = 0; b < batch; b++)
        {
            int id = 0;
            for (int t = 0; t < sequence; t++)
            {
                id += t > 0 && rng.Next(90) == 0 ? 1 : 0;
                documents[b * sequence + t] = id;
            }
        }
        var chosen = new HashSet<(int, int)>();
        for (int qb = 0; qb < blocks; qb++)
        {
            for (int kb = 0; kb <= qb; kb++)
            {
                if (kb == qb || rng.Next(2) == 0)
                {
                    chosen.Add((qb, kb));
                }
            }
        }
        AttentionMask mask = maskKind switch
        {
            "causal as lists" => AttentionMask.Causal(sequence, window),
            "half the blocks" => AttentionMask.FromBlocks(sequence, chosen, window),
            _ => AttentionMask.Documents(sequence, documents, window),
        };
        Func<int, int, int, bool> visible = maskKind switch
        {
            "causal as lists" => (_, _, _) => true,
            "half the blocks" => (_, i, j) => chosen.Contains((i / FlashAttention.Block, j / FlashAttention.Block)),
            _ => (b, i, j) => documents[b * sequence + i] == documents[b * sequence + j],
        };
        BFloat16[] q = Random(rng, shape.QueryElements, 2), k = Random(rng, shape.KeyValueElements, 2), v = Random(rng, shape.KeyValueElements, 1);
        BFloat16[] dout = Random(rng, shape.QueryElements, 1e-3);
        var expected = Reference.Run(shape, Wide(q), Wide(k), Wide(v), Wide(dout), visible);

        using DeviceAttentionMask onDevice = mask.Upload(acc);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{maskKind}: {mask.ActiveBlocks} of {mask.CausalBlocks} causal blocks (density {mask.Density:F2}), {mask.VisiblePairs(batch)} visible pairs per head");
        RunAndCompare(acc, shape, q, k, v, dout, expected, onDevice, maskKind);
        long pairs = 0;
        for (int b = 0; b < batch; b++)
        {
            for (int i = 0; i < sequence; i++)
            {
                for (int j = 0; j <= i; j++)
                {
                    pairs += (window <= 0 || i - j <= window) && visible(b, i, j) ? 1 : 0;
                }
            }
        }
        Assert.Equal(pairs, mask.VisiblePairs(batch));
    }

    [Fact]
    public void MasksDropHiddenBlocksAndKeepEveryDiagonal()
    {
        // Five documents aligned with the 64-token blocks: only the diagonal blocks have visible pairs.
        int[] documents = Enumerable.Range(0, 320).Select(t => t / 64).ToArray();
        AttentionMask mask = AttentionMask.Documents(320, documents);
        Assert.Equal(5, mask.ActiveBlocks);
        Assert.Equal(15, mask.CausalBlocks);
        Assert.Equal(5 * 64 * 65 / 2, mask.VisiblePairs(1));
        // A window of 64 leaves the diagonal and the block before it.
        Assert.Equal(5 + 4, AttentionMask.Causal(320, window: 64).ActiveBlocks);
        // Top-k lists get their diagonals even when the caller leaves them out.
        Assert.Equal(5 + 1, AttentionMask.FromBlocks(320, [(4, 0)]).ActiveBlocks);
        var e = Assert.Throws<ArgumentException>(() => AttentionMask.FromBlocks(320, [(1, 2)]));
        Assert.Contains("(1, 2)", e.Message);
        e = Assert.Throws<ArgumentException>(() => AttentionMask.Documents(320, new int[100]));
        Assert.Contains("100 ids", e.Message);
        using var cpu = new CpuAccelerator(32);
        using DeviceAttentionMask onDevice = mask.Upload(cpu);
        var shape = new AttentionShape(1, 256, 1, 1, 64);
        using var x = cpu.Allocate<BFloat16>((int)shape.QueryElements);
        using var lse = cpu.Allocate<float>((int)shape.RowStatistics);
        e = Assert.Throws<ArgumentException>(() => FlashAttention.Forward(cpu, x.View, x.View, x.View, x.View, lse.View, shape, onDevice));
        Assert.Contains("sequence 320", e.Message);
    }

    [Fact]
    public void BadShapesAreRefusedWithTheReason()
    {
        using var cpu = new CpuAccelerator(32);
        using var buffer = cpu.Allocate<BFloat16>(64 * 64);
        using var stats = cpu.Allocate<float>(64);
        var ragged = new AttentionShape(1, 100, 1, 1, 64);
        var error = Assert.Throws<ArgumentException>(() => FlashAttention.Forward(cpu, buffer.View, buffer.View, buffer.View, buffer.View, stats.View, ragged));
        Assert.Contains("multiple of 64", error.Message);
        error = Assert.Throws<ArgumentException>(() => FlashAttention.Forward(cpu, buffer.View, buffer.View, buffer.View, buffer.View, stats.View, new AttentionShape(1, 64, 3, 2, 64)));
        Assert.Contains("multiple of the key/value heads", error.Message);
        error = Assert.Throws<ArgumentException>(() => FlashAttention.Forward(cpu, buffer.View, buffer.View, buffer.View, buffer.View, stats.View, new AttentionShape(1, 64, 1, 1, 96)));
        Assert.Contains("64 or 128", error.Message);
        error = Assert.Throws<ArgumentException>(() => FlashAttention.Forward(cpu, buffer.View, buffer.View, buffer.View, buffer.View, stats.View, new AttentionShape(1, 64, 2, 1, 64)));
        Assert.Contains("q has 4096 elements", error.Message); // Two heads need 8192.
        Assert.Contains("8192", error.Message);
        using var narrow = new CpuAccelerator(4);
        error = Assert.Throws<ArgumentException>(() => FlashAttention.Forward(narrow, buffer.View, buffer.View, buffer.View, buffer.View, stats.View, new AttentionShape(1, 64, 1, 1, 64)));
        Assert.Contains("32 lanes", error.Message);
    }

    [Fact]
    public void PtxUsesTensorCoresWithoutLocalMemory()
    {
        foreach (var (name, head, mmas) in new[]
        {
            // Forward: (D/16)·8 for S plus 4·(D/8) for O. Backward: 2·(D/16)·8 for Sᵀ and dPᵀ, 2·4·(D/8) for dV
            // and dK, 4·(D/8) for dQ, all unrolled, except that with D = 128 the Sᵀ/dPᵀ loop over the head's
            // 8 steps is over the unroller's budget (Unroll.MaxInstructions) and stays a loop of 16 mmas; it
            // indexes no register array with its counter, so nothing spills to local memory for it.
            ("ForwardKernel", typeof(HeadDim64), 4 * 8 + 4 * 8), ("ForwardKernel", typeof(HeadDim128), 8 * 8 + 4 * 16),
            ("BackwardKernel", typeof(HeadDim64), 2 * 4 * 8 + 3 * 4 * 8), ("BackwardKernel", typeof(HeadDim128), 16 + 3 * 4 * 16),
        })
        {
            MethodInfo kernel = typeof(FlashAttention).GetMethod(name, BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(head, typeof(DenseSchedule));
            string ptx = Engine.Gpu.Ptx.PtxEmitter.Emit(KernelCompiler.Compile(kernel).Function, new Engine.Gpu.Ptx.PtxTarget(90), "kernel");
            Assert.Contains("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32", ptx);
            Assert.Contains("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16", ptx);
            Assert.Contains("cp.async.cg.shared.global", ptx);
            Assert.DoesNotContain(".local", ptx);
            Assert.Equal(mmas, Regex.Matches(ptx, @"mma\.sync").Count);
            if (Environment.GetEnvironmentVariable("ENGINE_PTX_DUMP") is { Length: > 0 } dump)
            {
                Directory.CreateDirectory(dump);
                File.WriteAllText(Path.Combine(dump, $"flash-{name}-{head.Name}.ptx"), ptx);
            }
        }
    }
}
