using Engine;
using Engine.Autograd;
using Engine.NN;
using Engine.Optim;

namespace Engine.Tests.Core;

public class GptTests
{
    private static GptConfig Tiny(string windows = "SL") => new()
    {
        SequenceLen = 8, VocabSize = 11, NLayer = 2, NHead = 4, NKvHead = 2, NEmbd = 16, WindowPattern = windows,
    };

    private static (Tensor X, Tensor Y) Batch(Random r, GptConfig c, int b)
    {
        var x = Enumerable.Range(0, b * c.SequenceLen).Select(_ => (long)r.Next(c.VocabSize)).ToArray();
        var y = Enumerable.Range(0, b * c.SequenceLen).Select(i => i % 5 == 3 ? -1L : r.Next(c.VocabSize)).ToArray();
        return (Tensor.FromArray(x, b, c.SequenceLen), Tensor.FromArray(y, b, c.SequenceLen));
    }

    [Fact]
    public void Parameter_names_and_shapes_follow_nanochat()
    {
        using var model = new Gpt(Tiny());
        var names = model.NamedParameters.Select(p => p.Name).ToArray();
        Assert.Equal("transformer.wte.weight", names[0]);
        Assert.Equal("lm_head.weight", names[^1]);
        Assert.Contains("transformer.h.1.attn.c_k.weight", names);
        Assert.Equal([8, 16], model.Parameter("transformer.h.0.attn.c_k.weight").Shape.ToArray());
        Assert.Equal([64, 16], model.Parameter("transformer.h.0.mlp.c_fc.weight").Shape.ToArray());
        Assert.Equal([16, 64], model.Parameter("transformer.h.0.mlp.c_proj.weight").Shape.ToArray());
        Assert.Equal(0.0, model.LmHead.ToArray<float>().Select(Math.Abs).Max());
        Assert.Contains("c_q", Assert.Throws<KeyNotFoundException>(() => model.Parameter("nope")).Message);
    }

    [Fact]
    public void Window_pattern_tiles_and_last_layer_is_long()
    {
        var c = new GptConfig { SequenceLen = 2048, NLayer = 6, WindowPattern = "SSL" };
        Assert.Equal(512, c.ShortWindow);
        Assert.Equal([512, 512, -1, 512, 512, -1], Enumerable.Range(0, 6).Select(c.WindowFor).ToArray());
        var d = new GptConfig { SequenceLen = 1000, NLayer = 3, WindowPattern = "S" };
        Assert.Equal(256, d.ShortWindow);
        Assert.Equal(-1, d.WindowFor(2));
    }

    [Fact]
    public void Token_losses_are_the_capped_logits_cross_entropy_and_average_to_the_loss()
    {
        var c = Tiny();
        using var model = new Gpt(c, seed: 3, dtype: DType.Float64);
        var r = new Random(4);
        foreach (var (_, p) in model.NamedParameters) p.NormalInPlace(r, 0, 0.3);
        var (x, y) = Batch(r, c, 3);
        using var scope = new TensorScope();
        using var noGrad = GradMode.NoGrad();
        var tokens = model.TokenLosses(x, y);
        Assert.Equal(x.Shape.ToArray(), tokens.Shape.ToArray());
        double[] got = tokens.ToArray<double>();
        double[] want = Functional.CrossEntropyPerToken(model.Logits(x), y).ToArray<double>();
        for (int i = 0; i < want.Length; i++) Assert.Equal(want[i], got[i], 12);
        long[] targets = y.ToArray<long>();
        double mean = got.Where((_, i) => targets[i] >= 0).Average();
        Assert.Equal(model.Loss(x, y).Item(), mean, 12);
    }

    [Fact]
    public void Whole_model_gradients_match_finite_differences_in_float64()
    {
        var c = Tiny() with { SequenceLen = 6 };
        using var model = new Gpt(c, seed: 3, dtype: DType.Float64);
        var r = new Random(9);
        // Random (not nanochat's zero) init everywhere so every path carries gradient.
        foreach (var (_, p) in model.NamedParameters) p.NormalInPlace(r, 0, 0.3);
        var (x, y) = Batch(r, c, 2);
        using (new TensorScope()) model.Loss(x, y).Backward();

        double Loss() { using var s = new TensorScope(); using var ng = GradMode.NoGrad(); return model.Loss(x, y).Item(); }
        foreach (var (name, p) in model.NamedParameters)
        {
            var g = p.Grad!.ToArray<double>();
            var data = p.Span<double>();
            double diff = 0, norm = 0;
            foreach (int e in Enumerable.Range(0, p.Count).OrderBy(_ => r.Next()).Take(12))
            {
                double saved = data[e], h = 1e-5;
                data[e] = saved + h; double up = Loss();
                data[e] = saved - h; double down = Loss();
                data[e] = saved;
                double num = (up - down) / (2 * h);
                diff += (num - g[e]) * (num - g[e]);
                norm += num * num;
            }
            Assert.True(Math.Sqrt(diff) <= 1e-6 * Math.Max(Math.Sqrt(norm), 1e-3), $"{name}: |analytic - numeric| = {Math.Sqrt(diff):E2}, |numeric| = {Math.Sqrt(norm):E2}");
        }
        x.Dispose(); y.Dispose();
    }

}

[Collection("Memory")]
public class MemoryTests
{
    [Fact]
    public void Training_lowers_the_loss_and_live_buffers_stay_flat_over_1000_steps()
    {
        var c = new GptConfig { SequenceLen = 8, VocabSize = 11, NLayer = 2, NHead = 4, NKvHead = 2, NEmbd = 16, WindowPattern = "SL" } with { VocabSize = 7, NLayer = 1, NEmbd = 8, NHead = 2, NKvHead = 1 };
        using var model = new Gpt(c, seed: 1);
        using var opt = new GptOptimizers(model, embeddingLr: 0.05, unembeddingLr: 0.02, matrixLr: 0.02);
        var schedule = new LrSchedule(1000, WarmupSteps: 10);
        // A learnable sequence: each token predicts the next in a fixed cycle.
        var xs = Enumerable.Range(0, 2 * c.SequenceLen).Select(i => (long)(i % c.VocabSize)).ToArray();
        var ys = Enumerable.Range(1, 2 * c.SequenceLen).Select(i => (long)(i % c.VocabSize)).ToArray();
        using var x = Tensor.FromArray(xs, 2, c.SequenceLen);
        using var y = Tensor.FromArray(ys, 2, c.SequenceLen);
        long liveAfterFirst = 0;
        double first = 0, last = 0;
        for (int step = 0; step < 1000; step++)
        {
            using (var scope = new TensorScope())
            {
                var loss = model.Loss(x, y);
                loss.Backward();
                opt.Step(schedule, step);
                opt.ZeroGrad();
                if (step == 0) first = loss.Item();
                last = loss.Item();
            }
            if (step == 1) liveAfterFirst = Device.Cpu.LiveBuffers;
            if (step > 1) Assert.Equal(liveAfterFirst, Device.Cpu.LiveBuffers);
        }
        Assert.True(Math.Abs(first - Math.Log(c.VocabSize)) < 1e-3, $"zero-initialised head must start at ln(V) = {Math.Log(c.VocabSize):F4}, got {first:F4}");
        Assert.True(last < 0.1, $"loss went from {first:F3} to {last:F3}; a cyclic sequence should be learned");
    }
}
