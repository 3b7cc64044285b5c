using Engine;
using Engine.Autograd;

namespace Engine.Tests.Core;

public class TensorTests
{
    [Fact]
    public void Views_share_storage_and_read_in_logical_order()
    {
        using var scope = new TensorScope();
        var t = Tensor.FromArray(Enumerable.Range(0, 24).Select(i => (float)i).ToArray(), 2, 3, 4);
        var tr = t.Transpose(1, 2);                       // (2, 4, 3)
        Assert.Equal([2, 4, 3], tr.Shape.ToArray());
        Assert.False(tr.IsContiguous);
        var expected = new float[24];
        for (int a = 0, o = 0; a < 2; a++) for (int c = 0; c < 4; c++) for (int b = 0; b < 3; b++) expected[o++] = a * 12 + b * 4 + c;
        Assert.Equal(expected, tr.ToArray<float>());
        Assert.Equal(expected, tr.Reshape(-1).ToArray<float>());
        var n = t.Narrow(2, 1, 2);                        // (2, 3, 2)
        Assert.Equal([1f, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22], n.ToArray<float>());
        var p = t.Permute(2, 0, 1);
        Assert.Equal(t.ToArray<float>()[5], p.ToArray<float>()[1 * 6 + 0 * 3 + 1]);
        Assert.Equal(24, t.Reshape(4, -1).Size(0) * t.Reshape(4, -1).Size(1));
        Assert.Equal([2, 1, 3, 4], t.Unsqueeze(1).Shape.ToArray());
    }

    [Fact]
    public void A_shape_past_int_indexing_is_refused_with_advice()
    {
        // 16 rows of 2048 tokens over a 65,536-token vocabulary: 2^31 logits, one more than an int indexes.
        var e = Assert.Throws<ArgumentException>(() => Tensor.Zeros([16 * 2048, 65536]));
        Assert.Contains("[32768, 65536]", e.Message);
        Assert.Contains("more than 2147483647 elements", e.Message);
        Assert.Contains("fewer rows per micro-batch", e.Message);
        Assert.Throws<ArgumentException>(() => Tensor.Zeros([1 << 16, 1 << 16, 1 << 16, 1 << 16]));
    }

    [Fact]
    public void Broadcasting_follows_numpy_rules()
    {
        using var scope = new TensorScope();
        var a = Tensor.FromArray(new double[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        var b = Tensor.FromArray(new double[] { 10, 20, 30 }, 3);
        var c = Tensor.FromArray(new double[] { 100, 200 }, 2, 1);
        Assert.Equal([11.0, 22, 33, 14, 25, 36], (a + b).ToArray<double>());
        Assert.Equal([101.0, 102, 103, 204, 205, 206], (a + c).ToArray<double>());
        Assert.Equal([-9.0, -18, -27, -6, -15, -24], (a - b).ToArray<double>());
        Assert.Equal([5.0, 7, 9], a.Sum(0).ToArray<double>());
        Assert.Equal(21.0, a.Sum().Item());
        Assert.Equal([2.0, 5], a.Mean(1).ToArray<double>());
    }

    [Fact]
    public void Shape_mismatches_name_both_shapes()
    {
        using var scope = new TensorScope();
        var a = Tensor.Zeros([2, 3]);
        var b = Tensor.Zeros([4, 5]);
        var e = Assert.Throws<ArgumentException>(() => a + b);
        Assert.Contains("[2, 3]", e.Message);
        Assert.Contains("[4, 5]", e.Message);
        var m = Assert.Throws<ArgumentException>(() => Tensor.MatMul(a, b));
        Assert.Contains("[2, 3]", m.Message);
        Assert.Contains("[4, 5]", m.Message);
        Assert.Contains("-1", Assert.Throws<ArgumentException>(() => a.Reshape(4, -1)).Message);
    }

    [Fact]
    public void Token_ids_out_of_range_name_the_id_and_the_vocabulary()
    {
        using var scope = new TensorScope();
        var w = Tensor.Zeros([10, 4]);
        var ids = Tensor.FromArray(new long[] { 3, 12 }, 2);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Engine.NN.Functional.Embedding(ids, w));
        Assert.Contains("12", e.Message);
        Assert.Contains("10", e.Message);
        var targets = Tensor.FromArray(new long[] { 3, 10 }, 2);
        var ce = Assert.Throws<ArgumentOutOfRangeException>(() => Engine.NN.Functional.CrossEntropy(Tensor.Zeros([2, 10]), targets));
        Assert.Contains("10 classes", ce.Message);
    }

    [Fact]
    public void Matmul_matches_float64_reference_for_every_layout()
    {
        var r = new Random(5);
        using var scope = new TensorScope();
        foreach (var (m, k, n) in new[] { (1, 1, 1), (7, 13, 5), (33, 65, 17), (64, 64, 64) })
        {
            var a = Tensor.RandN([m, k], r);
            var b = Tensor.RandN([k, n], r);
            var c = Tensor.MatMul(a, b).ToArray<float>();
            var ct = Tensor.MatMul(a.Transpose(0, 1).Contiguous().Transpose(0, 1), b.Transpose(0, 1).Contiguous().Transpose(0, 1)).ToArray<float>();
            var ad = a.ToArray<float>(); var bd = b.ToArray<float>();
            double err = 0, norm = 0;
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double s = 0;
                    for (int p = 0; p < k; p++) s += (double)ad[i * k + p] * bd[p * n + j];
                    err += (c[i * n + j] - s) * (c[i * n + j] - s) + (ct[i * n + j] - s) * (ct[i * n + j] - s);
                    norm += s * s;
                }
            Assert.True(Math.Sqrt(err / Math.Max(norm, 1e-30)) < 1e-5, $"matmul {m}x{k}x{n}: relative error {Math.Sqrt(err / norm):E2}");
        }
    }

    [Fact]
    public void Gradients_accumulate_across_backward_calls_and_nograd_records_nothing()
    {
        var w = Tensor.FromArray(new double[] { 1, 2, 3 }, 3);
        w.RequiresGrad = true;
        using (new TensorScope())
        {
            (w * w).Sum().Backward();
            (w * w).Sum().Backward();
        }
        Assert.Equal([4.0, 8, 12], w.Grad!.ToArray<double>());
        using (new TensorScope())
        using (GradMode.NoGrad())
        {
            var y = (w * w).Sum();
            Assert.False(y.RequiresGrad);
            Assert.Throws<InvalidOperationException>(() => y.Backward());
        }
        w.Grad.Dispose();
        w.Dispose();
    }

    [Fact]
    public void Cast_to_bfloat16_rounds_and_back()
    {
        using var scope = new TensorScope();
        var t = Tensor.FromArray(new float[] { 1f, 1.00390625f, -2.5f, 3.14159f }, 4);
        var back = t.To(DType.BFloat16).To(DType.Float32).ToArray<float>();
        Assert.Equal([1f, 1f, -2.5f, 3.140625f], back);
    }
}

[Collection("Memory")]
public class ScopeTests
{
    [Fact]
    public void Scope_disposes_what_it_created_and_keep_rescues()
    {
        var before = Device.Cpu.LiveBuffers;
        Tensor kept, inner;
        using (new TensorScope())
        {
            inner = Tensor.Zeros([3]);
            kept = TensorScope.Keep(Tensor.Zeros([3]) + 1.0);
            Assert.True(Device.Cpu.LiveBuffers > before);
        }
        Assert.True(inner.IsDisposed);
        Assert.False(kept.IsDisposed);
        Assert.Equal([1f, 1, 1], kept.ToArray<float>());
        var e = Assert.Throws<ObjectDisposedException>(() => inner.ToArray<float>());
        Assert.Contains("TensorScope", e.Message);
        kept.Dispose();
        Assert.Equal(before, Device.Cpu.LiveBuffers);
    }
}

[Collection("Memory")]
public class BackwardMemoryTests
{
    [Fact]
    public void Backward_frees_each_intermediate_gradient_as_soon_as_it_is_used()
    {
        const int n = 1 << 16;                                   // 256 KiB per tensor
        var x = Tensor.RandN([n], new Random(1));
        x.RequiresGrad = true;
        float[] expected;
        using (new TensorScope())
        {
            var y = x;
            for (int i = 0; i < 16; i++) y = (y * 1.01).Tanh();  // 32 ops, 32 activations
            var loss = y.Sum();
            long afterForward = Device.Cpu.LiveBytes;
            Device.Cpu.ResetPeakLiveBytes();
            loss.Backward();
            double extra = (Device.Cpu.PeakLiveBytes - afterForward) / (n * 4.0);
            // Each op needs its incoming gradient, a dense copy and the gradient it makes, plus the leaf's:
            // a few tensors, where keeping every gradient to the end of the backward would be 32 more.
            Assert.True(extra <= 5, $"the backward peaked {extra:F1} tensors above the forward's activations");
            // The same chain differentiated by hand (d tanh(u)/du = 1 - tanh²(u), du/dy = 1.01).
            var xs = x.ToArray<float>();
            expected = xs.Select(v =>
            {
                double u = v, d = 1;
                for (int i = 0; i < 16; i++) { double t = Math.Tanh(u * 1.01); d *= 1.01 * (1 - t * t); u = t; }
                return (float)d;
            }).ToArray();
        }
        var grad = x.Grad!.ToArray<float>();
        for (int i = 0; i < n; i += 997)
            Assert.True(Math.Abs(expected[i] - grad[i]) <= 1e-5 * Math.Max(1, Math.Abs(expected[i])), $"dx[{i}] = {grad[i]}, by hand {expected[i]}");
        x.Grad!.Dispose();
        x.Dispose();
    }

    [Fact]
    public void The_gpt_loss_never_holds_the_whole_logits()
    {
        // A head much larger than the rest of the model: 16 MiB of logits, which the loss goes through in
        // 4 MiB chunks. Neither the forward nor the backward may come near holding them all.
        const int vocab = 16384;
        var config = new Engine.NN.GptConfig { SequenceLen = 64, VocabSize = vocab, NLayer = 1, NHead = 2, NKvHead = 2, NEmbd = 32, WindowPattern = "L" };
        using var model = new Engine.NN.Gpt(config, seed: 2);
        using var reference = new Engine.NN.Gpt(config, seed: 2);
        // nanochat starts the head and the output projections at zero, which would leave gradients to compare at zero.
        foreach (var m in new[] { model, reference }) RandomizeZeros(m);
        var random = new Random(3);
        long[] ids = Enumerable.Range(0, 4 * 64).Select(_ => (long)random.Next(vocab)).ToArray();
        long[] next = ids.Select((v, i) => i % 7 == 0 ? -1L : (v * 31 + 5) % vocab).ToArray();
        long logitsBytes = 4L * 64 * vocab * sizeof(float);
        double loss, expectedLoss;
        using (var scope = new TensorScope())
        {
            var x = Tensor.FromArray(ids, 4, 64);
            var y = Tensor.FromArray(next, 4, 64);
            long before = Device.Cpu.LiveBytes;
            Device.Cpu.ResetPeakLiveBytes();
            var l = model.Loss(x, y);
            loss = l.Item();
            long forwardPeak = Device.Cpu.PeakLiveBytes - before;
            Assert.True(forwardPeak < logitsBytes / 2, $"the forward peaked at {forwardPeak / 1048576.0:F2} MiB; the logits are {logitsBytes / 1048576.0:F2} MiB");
            long afterForward = Device.Cpu.LiveBytes;
            Device.Cpu.ResetPeakLiveBytes();
            l.Backward();
            long extra = Device.Cpu.PeakLiveBytes - afterForward;
            Assert.True(extra < logitsBytes / 2, $"the backward peaked {extra / 1048576.0:F2} MiB above the forward; the logits are {logitsBytes / 1048576.0:F2} MiB");
            var e = Assert.Throws<InvalidOperationException>(() => l.Backward());
            Assert.Contains("compute the loss again", e.Message);

            // The same loss through the public, unfused path: softcapped logits, then plain cross-entropy.
            var capped = reference.Logits(x).Reshape(-1, vocab);
            var r = Engine.NN.Functional.CrossEntropy(capped, y.Reshape(-1));
            expectedLoss = r.Item();
            r.Backward();
        }
        Assert.True(Math.Abs(loss - expectedLoss) <= 1e-5 * expectedLoss, $"loss {loss}, reference {expectedLoss}");
        foreach (var ((name, p), (_, q)) in model.NamedParameters.Zip(reference.NamedParameters))
        {
            float[] a = p.Grad!.ToArray<float>(), b = q.Grad!.ToArray<float>();
            double diff = 0, norm = 0;
            for (int i = 0; i < a.Length; i++) { diff += (double)(a[i] - b[i]) * (a[i] - b[i]); norm += (double)b[i] * b[i]; }
            // The first backward's gradients doubled by the refused second one would fail here too.
            Assert.True(norm > 0 && Math.Sqrt(diff / norm) < 1e-4, $"{name}: relative error {Math.Sqrt(diff / norm):E2}");
        }
    }

    [Fact]
    public void A_gpt_keeps_only_the_activations_its_backward_reads_and_frees_them_as_it_goes()
    {
        // Per layer and token the backward needs about 10 widths (the norms' outputs xn, q, k and h, v, the
        // attention's output, the MLP's 4C hidden), plus the embedding norm, the final norm and the logits.
        // Keeping every intermediate, as the step's scope did, is over 20 widths a layer.
        var config = new Engine.NN.GptConfig { SequenceLen = 64, VocabSize = 256, NLayer = 3, NHead = 2, NKvHead = 2, NEmbd = 64, WindowPattern = "L" };
        using var model = new Engine.NN.Gpt(config, seed: 4);
        RandomizeZeros(model);
        var random = new Random(5);
        long[] ids = Enumerable.Range(0, 4 * 64).Select(_ => (long)random.Next(256)).ToArray();
        long tokens = ids.Length;
        using var scope = new TensorScope();
        var x = Tensor.FromArray(ids, 4, 64);
        var y = Tensor.FromArray(ids.Select(v => (v + 1) % 256).ToArray(), 4, 64);
        long before = Device.Cpu.LiveBytes;
        var loss = model.Loss(x, y);
        double kept = (Device.Cpu.LiveBytes - before) / (tokens * 4.0);      // floats per token
        double bound = config.NLayer * 11.0 * config.NEmbd + 3.0 * config.NEmbd + config.VocabSize;
        Assert.True(kept <= bound, $"the forward kept {kept:F0} floats a token; the backward needs at most {bound:F0}");
        // The freed ones are really not needed: the gradients are checked against finite differences in
        // GptTests; here the backward at least runs without reading a freed tensor.
        long afterForward = Device.Cpu.LiveBytes;
        loss.Backward();
        Assert.All(model.NamedParameters, p => Assert.NotNull(p.Tensor.Grad));
        // And the kept ones go during the backward: what is left is the gradients and a few per-row statistics.
        long grads = model.NamedParameters.Sum(p => (long)p.Tensor.Count * sizeof(float));
        long left = Device.Cpu.LiveBytes - before - grads;
        Assert.True(left < (afterForward - before) / 4, $"after the backward {left / 1024.0:F0} KiB of activations are still live, of {(afterForward - before) / 1024.0:F0} KiB the forward kept");
    }

    [Fact]
    public void A_second_backward_through_freed_activations_says_to_compute_the_loss_again()
    {
        var config = new Engine.NN.GptConfig { SequenceLen = 16, VocabSize = 64, NLayer = 2, NHead = 2, NKvHead = 2, NEmbd = 16, WindowPattern = "L" };
        using var model = new Engine.NN.Gpt(config, seed: 6);
        RandomizeZeros(model);
        using var scope = new TensorScope();
        var x = Tensor.FromArray(Enumerable.Range(0, 32).Select(i => (long)(i * 7 % 64)).ToArray(), 2, 16);
        var total = model.Logits(x).Sum();          // the logits path, not the fused loss
        total.Backward();
        var e = Assert.Throws<InvalidOperationException>(() => total.Backward());
        Assert.Contains("differentiated once", e.Message);
    }

    /// <summary>Gives random values to the parameters nanochat starts at zero (the head and the output projections), so every parameter gets a gradient.</summary>
    internal static void RandomizeZeros(Engine.NN.Gpt model)
    {
        using var scope = new TensorScope();
        using var noGrad = GradMode.NoGrad();
        int seed = 7;
        foreach (var (_, p) in model.NamedParameters)
            if (p.ToArray<float>().All(v => v == 0)) p.CopyFrom(Tensor.RandN(p.Dims, new Random(seed++)) * 0.05);
    }
}
