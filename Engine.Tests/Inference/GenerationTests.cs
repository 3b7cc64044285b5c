using Engine;
using Engine.Autograd;
using Engine.Inference;
using Engine.NN;

namespace Engine.Tests.Inference;

public class GenerationTests
{
    private static Gpt RandomModel(string windows, int seed)
    {
        // sequence_len 512 makes 'S' layers reach 128 keys back, so a 150-token run crosses the window.
        var model = new Gpt(new GptConfig { SequenceLen = 512, VocabSize = 23, NLayer = 3, NHead = 4, NKvHead = 2, NEmbd = 16, WindowPattern = windows }, seed);
        var r = new Random(seed);
        foreach (var (_, p) in model.NamedParameters) p.NormalInPlace(r, 0, 0.3);
        return model;
    }

    [Theory]
    [InlineData("L")]
    [InlineData("SL")]
    public void Cached_decoding_reproduces_full_forward_logits(string windows)
    {
        using var model = RandomModel(windows, 4);
        var r = new Random(5);
        var tokens = Enumerable.Range(0, 150).Select(_ => (long)r.Next(23)).ToArray();
        using var scope = new TensorScope();
        using var noGrad = GradMode.NoGrad();
        var full = model.Logits(Tensor.FromArray(tokens, 1, tokens.Length)).ToArray<float>();
        using var cache = new KvCache(model.Config, batch: 1, capacity: 160);
        var pieces = new List<float>();
        // Prefill 100 tokens, then one token at a time.
        pieces.AddRange(model.Logits(Tensor.FromArray(tokens[..100], 1, 100), cache).ToArray<float>());
        for (int i = 100; i < tokens.Length; i++)
            pieces.AddRange(model.Logits(Tensor.FromArray(tokens[i..(i + 1)], 1, 1), cache).ToArray<float>());
        Assert.Equal(150, cache.Length);
        Reference.Fixture.Close("cached vs full logits", pieces.ToArray(), full, 1e-5);
    }

    [Fact]
    public void Greedy_generation_equals_argmax_of_recomputed_forward()
    {
        using var model = RandomModel("SL", 7);
        int[] prompt = [1, 2, 3, 4];
        var generated = Generator.Generate(model, prompt, 12, new SamplingOptions(Temperature: 0)).ToArray();
        var seq = prompt.Select(t => (long)t).ToList();
        foreach (var token in generated)
        {
            using var scope = new TensorScope();
            using var noGrad = GradMode.NoGrad();
            var logits = model.Logits(Tensor.FromArray(seq.ToArray(), 1, seq.Count));
            var last = logits.Narrow(1, seq.Count - 1, 1).Reshape(-1).ToArray<float>();
            Assert.Equal(Array.IndexOf(last, last.Max()), token);
            seq.Add(token);
        }
    }

    [Fact]
    public void Sampling_respects_top_k_temperature_and_seed()
    {
        float[] logits = [0f, 5f, 4.9f, -3f, 1f];
        var r = new Random(1);
        var draws = Enumerable.Range(0, 2000).Select(_ => Generator.Sample(logits, new SamplingOptions(1.0, TopK: 2), r)).ToArray();
        Assert.All(draws, d => Assert.True(d is 1 or 2, $"top-2 sampling drew {d}"));
        Assert.InRange(draws.Count(d => d == 1) / 2000.0, 0.45, 0.60);      // e^0.1 / (1 + e^0.1) ≈ 0.525
        Assert.Equal(1, Generator.Sample(logits, new SamplingOptions(0), r));
        var a = Enumerable.Range(0, 50).Select(_ => Generator.Sample(logits, new SamplingOptions(2.0), new Random(3))).ToArray();
        var b = Enumerable.Range(0, 50).Select(_ => Generator.Sample(logits, new SamplingOptions(2.0), new Random(3))).ToArray();
        Assert.Equal(a, b);
    }

    [Fact]
    public void A_full_cache_says_so()
    {
        using var model = RandomModel("L", 1);
        using var cache = new KvCache(model.Config, 1, capacity: 4);
        using var scope = new TensorScope();
        using var noGrad = GradMode.NoGrad();
        model.Logits(Tensor.FromArray(new long[] { 1, 2, 3 }, 1, 3), cache);
        var e = Assert.Throws<InvalidOperationException>(() => model.Logits(Tensor.FromArray(new long[] { 4, 5 }, 1, 2), cache));
        Assert.Contains("capacity of 4", e.Message);
    }
}
