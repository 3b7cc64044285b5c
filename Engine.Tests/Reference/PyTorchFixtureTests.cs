using Engine;
using Engine.NN;
using Engine.Optim;

namespace Engine.Tests.Reference;

/// <summary>
/// The GPT, attention and optimizers against an independent PyTorch reference
/// (tools/fixtures/reference_gpt.py; values computed in float64 there and stored as float32).
/// Tolerances are relative error norms; float32 PyTorch itself lands at about 1e-7 of them.
/// </summary>
public class PyTorchFixtureTests
{
    [Fact]
    public void Tiny_gpt_logits_loss_and_every_gradient_match_pytorch()
    {
        var f = Fixture.Load("gpt_tiny.safetensors");
        var config = new GptConfig
        {
            SequenceLen = f.MetaInt("sequence_len"), VocabSize = f.MetaInt("vocab_size"), NLayer = f.MetaInt("n_layer"),
            NHead = f.MetaInt("n_head"), NKvHead = f.MetaInt("n_kv_head"), NEmbd = f.MetaInt("n_embd"), WindowPattern = f.Meta("window_pattern"),
        };
        using var model = new Gpt(config);
        foreach (var (name, p) in model.NamedParameters)
        {
            Assert.Equal(f.Shape(name), p.Shape.ToArray());
            p.Fill(float.NaN);                      // poison: every value must come from the fixture
            using var w = f.Tensor(name);
            p.CopyFrom(w);
        }
        using var scope = new TensorScope();
        var idx = f.Longs("idx");
        var targets = f.Longs("targets");
        var logits = model.Logits(idx);
        Fixture.Close("logits", logits.ToArray<float>(), f.Floats("logits"), 1e-5);
        var loss = model.Loss(idx, targets);
        Assert.True(Math.Abs(loss.Item() - f.MetaDouble("loss")) < 1e-5 * f.MetaDouble("loss"), $"loss {loss.Item():R} vs PyTorch {f.Meta("loss")}");
        loss.Backward();
        foreach (var (name, p) in model.NamedParameters)
            Fixture.Close($"grad {name}", p.Grad!.ToArray<float>(), f.Floats("grad." + name), 1e-5);
    }

    [Theory]
    [InlineData("")]
    [InlineData("_full")]
    public void Attention_with_gqa_and_window_matches_pytorch(string suffix)
    {
        var f = Fixture.Load("attention_window.safetensors");
        int window = suffix == "" ? f.MetaInt("window") : -1;
        using var scope = new TensorScope();
        var q = f.Tensor("q"); var k = f.Tensor("k"); var v = f.Tensor("v");
        foreach (var t in new[] { q, k, v }) t.RequiresGrad = true;
        var o = Functional.CausalAttention(q, k, v, window);
        Fixture.Close("out" + suffix, o.ToArray<float>(), f.Floats("out" + suffix), 1e-5);
        o.Backward(f.Tensor("dout"));
        Fixture.Close("dq" + suffix, q.Grad!.ToArray<float>(), f.Floats("dq" + suffix), 1e-5);
        Fixture.Close("dk" + suffix, k.Grad!.ToArray<float>(), f.Floats("dk" + suffix), 1e-5);
        Fixture.Close("dv" + suffix, v.Grad!.ToArray<float>(), f.Floats("dv" + suffix), 1e-5);
        foreach (var t in new[] { q, k, v }) t.Grad!.Dispose();
    }

    [Fact]
    public void AdamW_steps_match_torch_optim()
    {
        var f = Fixture.Load("optim.safetensors");
        using var p = f.Tensor("adamw.p0");
        p.RequiresGrad = true;
        p.Name = "p";
        using var opt = new AdamW([new ParamGroup([p], 1e-2)], beta1: 0.8, beta2: 0.95, eps: 1e-10, weightDecay: 0.1);
        var p0 = f.Floats("adamw.p0");
        for (int step = 1; step <= 3; step++)
        {
            p.Grad?.Dispose();
            using (TensorScope.Suspend()) p.Grad = f.Tensor($"adamw.g{step}");
            opt.Step();
            var now = p.ToArray<float>();
            Fixture.Close($"adamw p{step}", now, f.Floats($"adamw.p{step}"), 1e-6);
            var delta = now.Select((x, i) => x - p0[i]).ToArray();
            var expected = f.Floats($"adamw.p{step}").Select((x, i) => x - p0[i]).ToArray();
            Fixture.Close($"adamw p{step} - p0", delta, expected, 1e-4);
        }
        p.Grad?.Dispose();
    }

    [Theory]
    [InlineData("wide")]
    [InlineData("tall")]
    public void Muon_steps_match_nanochat_muon(string which)
    {
        var f = Fixture.Load("optim.safetensors");
        string pre = $"muon.{which}.";
        using var p = f.Tensor(pre + "p0");
        p.RequiresGrad = true;
        using var opt = new Muon([new ParamGroup([p], 0.02)], momentum: 0.95, nesterov: true, nsSteps: 5);
        var p0 = f.Floats(pre + "p0");
        for (int step = 1; step <= 3; step++)
        {
            p.Grad?.Dispose();
            using (TensorScope.Suspend()) p.Grad = f.Tensor($"{pre}g{step}");
            opt.Step();
            var now = p.ToArray<float>();
            Fixture.Close($"muon {which} p{step}", now, f.Floats($"{pre}p{step}"), 1e-6);
            Fixture.Close($"muon {which} p{step} - p0", now.Select((x, i) => x - p0[i]).ToArray(),
                f.Floats($"{pre}p{step}").Select((x, i) => x - p0[i]).ToArray(), 1e-4);
        }
        p.Grad?.Dispose();
    }

    [Theory]
    [InlineData("muon.ns_in", "muon.ns_out")]
    [InlineData("muon.ns_in_tall", "muon.ns_out_tall")]
    public void Newton_schulz_matches_pytorch(string input, string output)
    {
        var f = Fixture.Load("optim.safetensors");
        using var scope = new TensorScope();
        var x = Muon.NewtonSchulz(f.Tensor(input), 5);
        Fixture.Close(output, x.ToArray<float>(), f.Floats(output), 1e-5);
    }
}
