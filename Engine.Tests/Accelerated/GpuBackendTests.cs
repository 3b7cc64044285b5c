using Engine;
using Engine.Autograd;
using Engine.Gpu;
using Engine.NN;
using Engine.Optim;

namespace Engine.Tests.Accelerated;

/// <summary>
/// Engine's GPU backend held to its CPU backend: every op, the autograd rules through it, a whole GPT
/// training step with both optimizers, transfers and the error messages. "emulated" runs the GPU
/// kernels on Engine.Gpu's CPU interpreter (every CI run); "cuda" runs them on the first GPU and is
/// skipped, visibly and with the reason, where there is none. Inputs are fresh random values; results
/// are compared by relative error norm.
/// </summary>
public sealed class GpuBackendTests : IDisposable
{
    private readonly List<IDisposable> _owned = [];

    /// <summary>The interpreter at warp size 32 (as a GPU) and 4 (so no kernel leans on a warp of 32), and the first GPU.</summary>
    public static TheoryData<string> Devices => new(["emulated", "emulated4", "cuda"]);

    /// <summary>Tensor cores need warps of 32.</summary>
    public static TheoryData<string> TensorCoreDevices => new(["emulated", "cuda"]);

    private Device Make(string kind)
    {
        if (kind == "cuda")
        {
            if (Device.CudaUnavailable is { } why) Assert.Skip($"No CUDA GPU: {why}");
            return Device.Cuda;
        }
        var accelerator = new CpuAccelerator(kind == "emulated4" ? 4 : 32);
        _owned.Add(accelerator);
        return Device.FromAccelerator(accelerator);
    }

    public void Dispose()
    {
        foreach (var o in _owned) o.Dispose();
    }

    private static double RelErr(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double diff = 0, norm = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.False(float.IsNaN(actual[i]) && !float.IsNaN(expected[i]), $"{what}[{i}] is NaN on the device but {expected[i]} on the CPU");
            diff += (double)(expected[i] - actual[i]) * (expected[i] - actual[i]);
            norm += (double)expected[i] * expected[i];
        }
        return norm == 0 ? Math.Sqrt(diff) : Math.Sqrt(diff / norm);
    }

    private static void Close(Tensor cpu, Tensor device, string what, double tolerance = 2e-6)
    {
        Assert.Equal(cpu.Shape.ToArray(), device.Shape.ToArray());
        Assert.Equal(DeviceKind.Cpu, cpu.Device.Kind);
        Assert.NotEqual(DeviceKind.Cpu, device.Device.Kind);
        double e = RelErr(cpu.ToArray<float>(), device.ToArray<float>(), what);
        Assert.True(e <= tolerance, $"{what}: relative error {e:E2} against the CPU backend (tolerance {tolerance:E0})");
    }

    private static Tensor Rand(Random r, params int[] shape) => Tensor.RandN(shape, r);

    [Fact]
    public void Device_parse_takes_cpu_cuda_and_auto_and_says_why_cuda_is_missing()
    {
        Assert.Same(Device.Cpu, Device.Parse(" CPU "));
        Assert.Contains("'tpu'", Assert.Throws<ArgumentException>(() => Device.Parse("tpu")).Message);
        if (Device.CudaUnavailable is { } why)
        {
            Assert.Same(Device.Cpu, Device.Parse("auto"));
            Assert.Same(Device.Cpu, Device.Default);
            var e = Assert.Throws<NotSupportedException>(() => Device.Parse("cuda"));
            Assert.Contains(why, e.Message);
            Assert.Contains("Device.Cpu", e.Message);
        }
        else
        {
            Assert.Same(Device.Cuda, Device.Parse("auto"));
            Assert.Equal(DeviceKind.Cuda, Device.Parse("cuda:0").Kind);
        }
        using var accelerator = new CpuAccelerator(4);
        var emulated = Device.FromAccelerator(accelerator, "interp");
        Assert.Equal(DeviceKind.Emulated, emulated.Kind);
        Assert.Equal("interp", emulated.ToString());
        Assert.Same(accelerator, emulated.Accelerator);
        Assert.Null(Device.Cpu.Accelerator);
    }

    [Theory, MemberData(nameof(Devices))]
    public void Transfers_round_trip_every_dtype_and_view(string kind)
    {
        var gpu = Make(kind);
        var r = new Random(1);
        using var scope = new TensorScope();
        var f = Rand(r, 3, 5, 7);
        Assert.Equal(f.ToArray<float>(), f.To(gpu).ToArray<float>());
        var longs = Enumerable.Range(0, 9).Select(i => (long)i * 1_000_000_007).ToArray();
        Assert.Equal(longs, Tensor.FromArray(longs, 3, 3).To(gpu).ToArray<long>());
        var ints = Enumerable.Range(-4, 9).ToArray();
        Assert.Equal(ints, Tensor.FromArray(ints, 9).To(gpu).ToArray<int>());
        var doubles = Enumerable.Range(0, 5).Select(i => Math.PI * i).ToArray();
        Assert.Equal(doubles, Tensor.FromArray(doubles, 5).To(gpu).ToArray<double>());
        var bf = Rand(r, 7).To(DType.BFloat16);       // odd count: the 2-byte copy path
        Assert.Equal(bf.ToArray<ushort>(), bf.To(gpu).ToArray<ushort>());
        var odd = Rand(r, 7);                          // and the casts' odd last value, on the device
        Assert.Equal(odd.To(DType.BFloat16).ToArray<ushort>(), odd.To(gpu).To(DType.BFloat16).ToArray<ushort>());
        Assert.Equal(bf.To(DType.Float32).ToArray<float>(), bf.To(gpu).To(DType.Float32).ToArray<float>());

        // Views (strided, offset) go up as their values; strided views of device tensors come back the same.
        var view = f.Transpose(0, 2).Narrow(1, 1, 3);
        Assert.Equal(view.ToArray<float>(), view.To(gpu).ToArray<float>());
        var onDevice = f.To(gpu);
        Assert.Equal(view.ToArray<float>(), onDevice.Transpose(0, 2).Narrow(1, 1, 3).ToArray<float>());
        Assert.Equal(f.ToArray<float>()[17], onDevice.Reshape(-1).Narrow(0, 17, 1).Item(), 6);

        // Fill, Zeros, Full and CopyFrom across devices.
        Assert.All(Tensor.Full([5], 2.5, DType.Float32, gpu).ToArray<float>(), v => Assert.Equal(2.5f, v));
        Assert.All(Tensor.Zeros([6], DType.Int64, gpu).ToArray<long>(), v => Assert.Equal(0L, v));
        Assert.All(Tensor.Full([3], -7, DType.Int32, gpu).ToArray<int>(), v => Assert.Equal(-7, v));
        var target = Tensor.Zeros([3, 5, 7], DType.Float32, gpu);
        target.CopyFrom(f);
        Assert.Equal(f.ToArray<float>(), target.ToArray<float>());
        Assert.Contains(gpu.Name, target.ToString());
    }

    [Theory, MemberData(nameof(Devices))]
    public void Elementwise_ops_broadcasting_and_their_gradients_match_the_cpu(string kind)
    {
        var gpu = Make(kind);
        var r = new Random(2);
        using var scope = new TensorScope();
        var a = Rand(r, 2, 3, 4);
        var b = Rand(r, 3, 1);
        var c = Rand(r, 4, 3, 2).Transpose(0, 2);      // a strided operand
        var positive = Tensor.Rand([2, 3, 4], r, 0.5, 2.0);
        a.RequiresGrad = b.RequiresGrad = positive.RequiresGrad = true;
        var (ag, bg, cg, pg) = (a.To(gpu), b.To(gpu), c.To(gpu), positive.To(gpu));

        Tensor Expression(Tensor x, Tensor y, Tensor z, Tensor p) =>
            (x + y) * z - x / (p + 1.0) + (x * 3.0).Tanh() + p.Log() + p.Sqrt() + x.Relu() + x.ReluSquared() + (x * 0.5).Exp() + x.Softcap(1.5) + x.Square();
        var cpuOut = Expression(a, b, c, positive);
        var gpuOut = Expression(ag, bg, cg, pg);
        Close(cpuOut, gpuOut, "expression");

        // Sums to every broadcast shape, then the gradients of the whole expression through them.
        Close(cpuOut.Sum(1, keepDim: true), gpuOut.Sum(1, keepDim: true), "sum over dim 1");
        Close(cpuOut.Sum(0), gpuOut.Sum(0), "sum over dim 0");
        Close(cpuOut.Sum(2), gpuOut.Sum(2), "sum over dim 2");
        var cpuLoss = cpuOut.Square().Sum();
        var gpuLoss = gpuOut.Square().Sum();
        Close(cpuLoss, gpuLoss, "loss");
        cpuLoss.Backward();
        var cpuGrads = new[] { a.Grad!.ToArray<float>(), b.Grad!.ToArray<float>(), positive.Grad!.ToArray<float>() };
        // The device graph hangs off the same CPU leaves through To(device): its backward adds the same
        // gradients again, carried back to the host.
        gpuLoss.Backward();
        Assert.True(RelErr(cpuGrads[0].Select(g => 2 * g).ToArray(), a.Grad!.ToArray<float>(), "da through To(device)") < 1e-5);
        a.Grad = b.Grad = positive.Grad = null;
        // Now the same leaves, differentiated through the device graph only.
        var ad = a.Detach().To(gpu); ad.RequiresGrad = true;
        var bd = b.Detach().To(gpu); bd.RequiresGrad = true;
        var pd = positive.Detach().To(gpu); pd.RequiresGrad = true;
        Expression(ad, bd, cg, pd).Square().Sum().Backward();
        string[] names = ["da", "db", "dp"];
        Tensor[] leaves = [ad, bd, pd];
        for (int i = 0; i < 3; i++)
        {
            double e = RelErr(cpuGrads[i], leaves[i].Grad!.ToArray<float>(), names[i]);
            Assert.True(e < 1e-5, $"{names[i]}: relative error {e:E2} against the CPU backend");
        }
    }

    [Theory, MemberData(nameof(Devices))]
    public void Matrix_products_batched_transposed_and_blended_match_the_cpu(string kind)
    {
        var gpu = Make(kind);
        var r = new Random(3);
        using var scope = new TensorScope();
        var a = Rand(r, 3, 37, 19);
        var b = Rand(r, 3, 19, 45);
        var w = Rand(r, 45, 19);
        Close(Tensor.MatMul(a, b), Tensor.MatMul(a.To(gpu), b.To(gpu)), "batched");
        Close(Tensor.MatMul(a, w.Transpose(0, 1)), Tensor.MatMul(a.To(gpu), w.To(gpu).Transpose(0, 1)), "shared transposed operand");
        var at = Rand(r, 19, 37);
        Close(Tensor.MatMul(at.Transpose(0, 1), w.Transpose(0, 1)), Tensor.MatMul(at.To(gpu).Transpose(0, 1), w.To(gpu).Transpose(0, 1)), "both transposed");
        // c = 0.5·a·b − 2·c, the Muon step's form.
        var x = Rand(r, 24, 24);
        var y = Rand(r, 24, 24);
        var cpuC = Rand(r, 24, 24);
        var gpuC = cpuC.To(gpu);
        Tensor.Gemm(x, y, cpuC, 0.5, -2.0);
        Tensor.Gemm(x.To(gpu), y.To(gpu), gpuC, 0.5, -2.0);
        Close(cpuC, gpuC, "alpha and beta");
    }

    [Theory, MemberData(nameof(Devices))]
    public void Transformer_ops_and_their_gradients_match_the_cpu(string kind)
    {
        var gpu = Make(kind);
        var r = new Random(4);
        using var scope = new TensorScope();
        int bsz = 2, t = 9, h = 4, hk = 2, d = 8, vocab = 13, width = 24;
        var table = Rand(r, vocab, width);
        var ids = Tensor.FromArray(Enumerable.Range(0, bsz * t).Select(i => (long)(i * 7 % 5)).ToArray(), bsz, t); // repeated ids
        var q = Rand(r, bsz, t, h, d);
        var k = Rand(r, bsz, t, hk, d);
        var v = Rand(r, bsz, t, hk, d);
        var angles = Enumerable.Range(0, t * d / 2).Select(i => (float)(0.1 * i)).ToArray();
        var cos = Tensor.FromArray(angles.Select(MathF.Cos).ToArray(), t, d / 2);
        var sin = Tensor.FromArray(angles.Select(MathF.Sin).ToArray(), t, d / 2);
        var targets = Tensor.FromArray(Enumerable.Range(0, bsz * t).Select(i => i % 4 == 1 ? -1L : i % vocab).ToArray(), bsz * t);
        var head = Rand(r, vocab, h * d);
        // A fixed projection of the normalised embeddings (a plain sum of their squares would have a zero gradient).
        var probe = Rand(r, bsz, t, width);

        var cpuLeaves = new[] { table, q, k, v, head };
        foreach (var p in cpuLeaves) p.RequiresGrad = true;
        var probeOnDevice = probe.To(gpu);
        var gpuLeaves = cpuLeaves.Select(p => { var g = p.Detach().To(gpu); g.RequiresGrad = true; return g; }).ToArray();

        Tensor Run(Tensor[] p, Tensor cs, Tensor sn, int window)
        {
            var e = Functional.RmsNorm(Functional.Embedding(ids, p[0]));                        // (B, T, width)
            var qr = Functional.RmsNorm(Functional.Rotary(p[1], cs, sn));
            var kr = Functional.Rotary(p[2], cs, sn);
            var y = Functional.CausalAttention(qr, kr, p[3], window).Reshape(bsz * t, h * d);
            var logits = Functional.Linear(y, p[4]);
            var probs = Functional.Softmax(logits);
            return Functional.CrossEntropy(logits, targets) + Functional.CrossEntropy(logits, targets, softcap: 2.0) + (probs * logits).Sum() * 0.01 + (e * (p[0].Device == Device.Cpu ? probe : probeOnDevice)).Sum();
        }
        foreach (int window in new[] { -1, 3 })
        {
            foreach (var p in cpuLeaves.Concat(gpuLeaves)) p.Grad = null;
            var cpuLoss = Run(cpuLeaves, cos, sin, window);
            var gpuLoss = Run(gpuLeaves, cos.To(gpu), sin.To(gpu), window);
            Close(cpuLoss, gpuLoss, $"loss (window {window})", 1e-5);
            cpuLoss.Backward();
            gpuLoss.Backward();
            string[] names = ["embedding", "q", "k", "v", "head"];
            for (int i = 0; i < cpuLeaves.Length; i++)
                Close(cpuLeaves[i].Grad!, gpuLeaves[i].Grad!, $"d{names[i]} (window {window})", 1e-5);
        }

        // Attention against a KV cache: 3 queries over 9 keys.
        var qTail = q.Detach().Narrow(1, t - 3, 3).Contiguous();
        Close(Functional.CausalAttention(qTail, k.Detach(), v.Detach()),
            Functional.CausalAttention(qTail.To(gpu), k.Detach().To(gpu), v.Detach().To(gpu)), "decoding attention");
        Close(Functional.CrossEntropyPerToken(head.Detach(), Tensor.FromArray(Enumerable.Range(0, vocab).Select(i => (long)(i % 5)).ToArray(), vocab)),
            Functional.CrossEntropyPerToken(head.Detach().To(gpu), Tensor.FromArray(Enumerable.Range(0, vocab).Select(i => (long)(i % 5)).ToArray(), vocab)), "per-token losses");
    }

    [Theory, MemberData(nameof(Devices))]
    public void The_chunked_head_and_loss_match_the_cpu_across_chunk_seams(string kind)
    {
        // 70 rows in chunks of 32 (32, 32, 6): row views at offsets, ignored targets in every chunk, the softcap.
        var device = Make(kind);
        using var scope = new TensorScope();
        var r = new Random(31);
        const int n = 70, c = 8, vocab = 64;
        var targets = Tensor.FromArray(Enumerable.Range(0, n).Select(i => i % 5 == 2 ? -1L : r.Next(vocab)).ToArray(), n);
        var x = Rand(r, n, c);
        var w = Rand(r, vocab, c);
        var xd = x.To(device);
        var wd = w.To(device);
        x.RequiresGrad = w.RequiresGrad = xd.RequiresGrad = wd.RequiresGrad = true;
        var cpuLoss = Functional.LinearCrossEntropy(x, w, targets, -1, 2.0, chunkRows: 32);
        var devLoss = Functional.LinearCrossEntropy(xd, wd, targets, -1, 2.0, chunkRows: 32);
        Close(cpuLoss, devLoss, "loss");
        (cpuLoss * 0.5).Backward();
        (devLoss * 0.5).Backward();
        Close(x.Grad!, xd.Grad!, "dx");
        Close(w.Grad!, wd.Grad!, "dW");
        using var noGrad = GradMode.NoGrad();
        Close(Functional.LinearCrossEntropyPerToken(x, w, targets, -1, 2.0, chunkRows: 32),
            Functional.LinearCrossEntropyPerToken(xd, wd, targets, -1, 2.0, chunkRows: 32), "per-token losses");
    }

    [Theory, MemberData(nameof(TensorCoreDevices))]
    public void Autocast_runs_products_and_attention_on_tensor_cores_within_bf16_rounding(string kind)
    {
        var gpu = Make(kind);
        var backend = (Engine.Accelerated.AcceleratorBackend)gpu.Backend;
        var r = new Random(5);
        using var scope = new TensorScope();
        bool was = gpu.Autocast;
        gpu.Autocast = true;
        try
        {
            long before = backend.TensorCoreCalls;
            // A linear layer whose three products fit the 128 x 128 x 32 tiles.
            var x = Rand(r, 2, 64, 128);
            var w = Rand(r, 128, 128);
            var probe = Rand(r, 2, 64, 128);
            x.RequiresGrad = w.RequiresGrad = true;
            var (xg, wg) = (x.Detach().To(gpu), w.Detach().To(gpu));
            xg.RequiresGrad = wg.RequiresGrad = true;
            var cpuY = Functional.Linear(x, w);
            var gpuY = Functional.Linear(xg, wg);
            Close(cpuY, gpuY, "autocast linear", 1e-2);
            (cpuY * probe).Sum().Backward();
            (gpuY * probe.To(gpu)).Sum().Backward();
            Close(x.Grad!, xg.Grad!, "autocast linear dx", 1e-2);
            Close(w.Grad!, wg.Grad!, "autocast linear dW", 1e-2);
            Assert.Equal(before + 3, backend.TensorCoreCalls);

            // The chunked head and loss: two chunks of 128 rows, each with its three products on the tensor cores.
            var hx = Rand(r, 256, 128);
            var hw = Rand(r, 128, 128);
            var targets = Tensor.FromArray(Enumerable.Range(0, 256).Select(i => i % 11 == 3 ? -1L : r.Next(128)).ToArray(), 256);
            var (hxg, hwg) = (hx.Detach().To(gpu), hw.Detach().To(gpu));
            hx.RequiresGrad = hw.RequiresGrad = hxg.RequiresGrad = hwg.RequiresGrad = true;
            long headCalls = backend.TensorCoreCalls;
            var cpuLoss = Functional.LinearCrossEntropy(hx, hw, targets, -1, 15.0, chunkRows: 128);
            var gpuLoss = Functional.LinearCrossEntropy(hxg, hwg, targets, -1, 15.0, chunkRows: 128);
            Assert.Equal(headCalls + 6, backend.TensorCoreCalls);
            Close(cpuLoss, gpuLoss, "autocast head and loss", 1e-2);
            cpuLoss.Backward();
            gpuLoss.Backward();
            Close(hx.Grad!, hxg.Grad!, "autocast head dx", 2e-2);
            Close(hw.Grad!, hwg.Grad!, "autocast head dW", 2e-2);

            // Flash attention, GQA, full and windowed; then a flash forward with an fp32 backward (autocast
            // switched off in between, as the backend does when the bf16 kernels fail to load): both paths
            // save the same lse, so they agree.
            foreach (var (window, flashBackward) in new[] { (-1, true), (24, true), (-1, false) })
            {
                var cpu = new[] { Rand(r, 1, 64, 2, 64), Rand(r, 1, 64, 1, 64), Rand(r, 1, 64, 1, 64) };
                var dy = Rand(r, 1, 64, 2, 64);
                foreach (var t in cpu) t.RequiresGrad = true;
                var dev = cpu.Select(t => { var g = t.Detach().To(gpu); g.RequiresGrad = true; return g; }).ToArray();
                long calls = backend.TensorCoreCalls;
                string what = $"window {window}, {(flashBackward ? "flash" : "fp32")} backward";
                var cpuO = Functional.CausalAttention(cpu[0], cpu[1], cpu[2], window);
                var gpuO = Functional.CausalAttention(dev[0], dev[1], dev[2], window);
                Close(cpuO, gpuO, $"flash output ({what})", 1e-2);
                gpu.Autocast = flashBackward;
                (cpuO * dy).Sum().Backward();
                (gpuO * dy.To(gpu)).Sum().Backward();
                gpu.Autocast = true;
                string[] names = ["dq", "dk", "dv"];
                for (int i = 0; i < 3; i++) Close(cpu[i].Grad!, dev[i].Grad!, $"{names[i]} ({what})", 2e-2);
                Assert.Equal(calls + (flashBackward ? 2 : 1), backend.TensorCoreCalls);
            }

            // Shapes the tensor cores cannot take fall back to fp32 and match the CPU to fp32 rounding.
            long fallback = backend.TensorCoreCalls;
            var ragged = Rand(r, 37, 19);
            var m = Rand(r, 45, 19);
            Close(Functional.Linear(ragged, m), Functional.Linear(ragged.To(gpu), m.To(gpu)), "ragged product under autocast");
            Assert.Equal(fallback, backend.TensorCoreCalls);
        }
        finally { gpu.Autocast = was; }
    }

    [Theory, MemberData(nameof(TensorCoreDevices))]
    public void Autocast_muon_steps_tall_and_wide_weights_on_tensor_cores_like_the_cpu(string kind)
    {
        var gpu = Make(kind);
        var backend = (Engine.Accelerated.AcceleratorBackend)gpu.Backend;
        var r = new Random(6);
        bool was = gpu.Autocast;
        gpu.Autocast = true;
        try
        {
            foreach (var (rows, cols) in new[] { (128, 256), (256, 128) })
            {
                using var cpuP = Rand(r, rows, cols);
                using var gpuP = cpuP.To(gpu);
                cpuP.RequiresGrad = gpuP.RequiresGrad = true;
                using var cpuMuon = new Muon([new ParamGroup([cpuP], 0.02)]);
                using var gpuMuon = new Muon([new ParamGroup([gpuP], 0.02)]);
                long calls = backend.TensorCoreCalls;
                for (int step = 0; step < 2; step++)
                {
                    using var g = Rand(r, rows, cols);
                    cpuP.Grad = g.Detach();
                    gpuP.Grad = g.To(gpu);
                    // A schedule moving μ between steps, as nanochat's warm-up does: the buffers must agree anyway.
                    cpuMuon.Momentum = gpuMuon.Momentum = step == 0 ? 0.85 : 0.9;
                    var before = cpuP.ToArray<float>();
                    cpuMuon.Step();
                    gpuMuon.Step();
                    var cpuUpdate = cpuP.ToArray<float>().Zip(before, (a, b) => a - b).ToArray();
                    var gpuUpdate = gpuP.ToArray<float>().Zip(before, (a, b) => a - b).ToArray();
                    double e = RelErr(cpuUpdate, gpuUpdate, "update");
                    Assert.True(e < 0.03, $"{rows}x{cols} step {step}: the bf16 Newton-Schulz update is {e:E2} from the CPU's fp32 one");
                    gpuP.Grad.Dispose();
                    cpuP.CopyFrom(gpuP);   // the next step starts from the same weights on both
                }
                var (cpuState, gpuState) = (cpuMuon.State().Single().Tensor, gpuMuon.State().Single().Tensor);
                Close(cpuState, gpuState, $"{rows}x{cols} momentum buffer", 1e-6);
                Assert.Equal(calls + 2, backend.TensorCoreCalls);
            }
        }
        finally { gpu.Autocast = was; }
    }

    private static GptConfig TinyGpt => new() { SequenceLen = 8, VocabSize = 13, NLayer = 2, NHead = 4, NKvHead = 2, NEmbd = 16, WindowPattern = "SL" };

    private static (Tensor X, Tensor Y) Batch(int step)
    {
        var c = TinyGpt;
        var xs = Enumerable.Range(step, 2 * c.SequenceLen).Select(i => (long)(i * 5 % c.VocabSize)).ToArray();
        var ys = Enumerable.Range(step + 1, 2 * c.SequenceLen).Select(i => i % 7 == 2 ? -1L : i * 5 % c.VocabSize).ToArray();
        return (Tensor.FromArray(xs, 2, c.SequenceLen), Tensor.FromArray(ys, 2, c.SequenceLen));
    }

    [Theory, MemberData(nameof(Devices))]
    public void A_gpt_trains_the_same_on_the_device_as_on_the_cpu(string kind)
    {
        var gpu = Make(kind);
        using var cpuModel = new Gpt(TinyGpt, seed: 11);
        using var gpuModel = new Gpt(TinyGpt, seed: 11, device: gpu);
        foreach (var ((name, p), (_, g)) in cpuModel.NamedParameters.Zip(gpuModel.NamedParameters))
        {
            Assert.Equal(gpu, g.Device);
            Assert.Equal(p.ToArray<float>(), g.ToArray<float>());       // the same initialisation, drawn on the host
        }
        using var cpuOpt = new GptOptimizers(cpuModel);
        using var gpuOpt = new GptOptimizers(gpuModel);
        var schedule = new LrSchedule(10, WarmupSteps: 1);
        long liveAfterFirst = 0;
        for (int step = 0; step < 3; step++)
        {
            using (var scope = new TensorScope())
            {
            var (x, y) = Batch(step);
            var cpuLoss = cpuModel.Loss(x, y);
            var gpuLoss = gpuModel.Loss(x, y);                       // CPU ids and targets, uploaded after checking
            Close(cpuLoss, gpuLoss, $"loss at step {step}", 1e-5);
            cpuLoss.Backward();
            gpuLoss.Backward();
            foreach (var ((name, p), (_, g)) in cpuModel.NamedParameters.Zip(gpuModel.NamedParameters))
                Close(p.Grad!, g.Grad!, $"gradient of {name} at step {step}", 1e-4);
            cpuOpt.Step(schedule, step);
            gpuOpt.Step(schedule, step);
            cpuOpt.ZeroGrad();
            gpuOpt.ZeroGrad();
            }
            if (step == 0) liveAfterFirst = gpu.LiveBuffers;
        }
        Assert.Equal(liveAfterFirst, gpu.LiveBuffers);                // the step leaks no device buffers
        foreach (var ((name, p), (_, g)) in cpuModel.NamedParameters.Zip(gpuModel.NamedParameters))
            Close(p, g, $"{name} after three Muon/AdamW steps", 1e-4);

        // Generation reads logits back to the host; the same prompt gives the same greedy tokens.
        var options = new Engine.Inference.SamplingOptions(Temperature: 0);
        var prompt = new[] { 1, 2, 3 };
        Assert.Equal(Engine.Inference.Generator.Generate(cpuModel, prompt, 5, options).ToArray(),
            Engine.Inference.Generator.Generate(gpuModel, prompt, 5, options).ToArray());
    }

    [Theory, MemberData(nameof(Devices))]
    public void Bad_input_gets_the_cpu_messages_and_unsupported_dtypes_say_what_to_do(string kind)
    {
        var gpu = Make(kind);
        using var scope = new TensorScope();
        using var model = new Gpt(TinyGpt, device: gpu);
        var bad = Tensor.FromArray(new long[] { 1, 2, 13, 4 }, 1, 4);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => model.Logits(bad));
        Assert.Contains("13", e.Message);
        Assert.Contains("vocabulary of 13", e.Message);
        var targets = Tensor.FromArray(new long[] { 1, 2, 99, 4 }, 1, 4);
        var t = Assert.Throws<ArgumentOutOfRangeException>(() => model.Loss(Tensor.FromArray(new long[] { 1, 2, 3, 4 }, 1, 4), targets));
        Assert.Contains("99", t.Message);

        var doubles = Tensor.Zeros([3], DType.Float64, gpu);
        var n = Assert.Throws<NotSupportedException>(() => doubles + doubles);
        Assert.Contains("float32", n.Message);
        var m = Assert.Throws<ArgumentException>(() => Tensor.Zeros([3]) + Tensor.Zeros([3], DType.Float32, gpu));
        Assert.Contains("different devices", m.Message);
        var linear = Assert.Throws<ArgumentException>(() => Functional.Linear(Tensor.Zeros([2, 4]), Tensor.Zeros([3, 4], DType.Float32, gpu)));
        Assert.Contains("weight is on", linear.Message);
        Assert.Contains("To(device)", linear.Message);
        var host = Assert.Throws<InvalidOperationException>(() => Tensor.Zeros([3], DType.Float32, gpu).Span<float>());
        Assert.Contains("ToArray", host.Message);
    }
}
