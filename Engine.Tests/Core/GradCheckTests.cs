using Engine;
using Engine.NN;

namespace Engine.Tests.Core;

/// <summary>Every op's backward against finite differences in float64, on fresh random inputs.</summary>
public class GradCheckTests
{
    private static readonly Random R = new(1234);

    private static Tensor X(params int[] shape) => GradCheck.Rand(R, shape);

    [Fact]
    public void Binary_ops_with_broadcasting()
    {
        using var s = new TensorScope();
        GradCheck.Check("add", t => t[0] + t[1], [X(3, 4), X(4)]);
        GradCheck.Check("sub", t => t[0] - t[1], [X(2, 1, 4), X(3, 1)]);
        GradCheck.Check("mul", t => t[0] * t[1], [X(3, 4), X(3, 1)]);
        var denom = X(3, 4);
        using (Engine.Autograd.GradMode.NoGrad()) { var d = denom.Span<double>(); for (int i = 0; i < d.Length; i++) d[i] = 1.5 + Math.Abs(d[i]); }
        GradCheck.Check("div", t => t[0] / t[1], [X(3, 4), denom]);
        GradCheck.Check("scalar", t => (t[0] * 2.5 + 1.0) * -1.0, [X(5)]);
    }

    [Fact]
    public void Unary_ops()
    {
        using var s = new TensorScope();
        var pos = X(4, 5);
        var p = pos.Span<double>(); for (int i = 0; i < p.Length; i++) p[i] = 0.5 + Math.Abs(p[i]);
        GradCheck.Check("exp", t => t[0].Exp(), [X(4, 5)]);
        GradCheck.Check("log", t => t[0].Log(), [pos]);
        GradCheck.Check("sqrt", t => t[0].Sqrt(), [pos]);
        GradCheck.Check("tanh", t => t[0].Tanh(), [X(4, 5)]);
        GradCheck.Check("square", t => t[0].Square(), [X(4, 5)]);
        GradCheck.Check("relu", t => t[0].Relu(), [X(4, 5)]);
        GradCheck.Check("relu2", t => t[0].ReluSquared(), [X(4, 5)]);
        GradCheck.Check("softcap", t => (t[0] * 20.0).Softcap(15), [X(4, 5)]);
    }

    [Fact]
    public void Reductions_and_views()
    {
        using var s = new TensorScope();
        GradCheck.Check("sum", t => t[0].Sum(), [X(3, 4)]);
        GradCheck.Check("sum dim", t => t[0].Sum(1), [X(3, 4, 2)]);
        GradCheck.Check("mean dim keep", t => t[0].Mean(-1, keepDim: true), [X(3, 4)]);
        GradCheck.Check("mean", t => t[0].Mean(), [X(2, 3)]);
        GradCheck.Check("reshape of transpose", t => t[0].Transpose(0, 1).Reshape(-1) * 1.0, [X(3, 4)]);
        GradCheck.Check("permute", t => t[0].Permute(2, 0, 1).Contiguous() * 1.0, [X(2, 3, 4)]);
        GradCheck.Check("narrow", t => t[0].Narrow(1, 1, 2) * 1.0, [X(3, 4)]);
        GradCheck.Check("expand", t => t[0].Expand(3, 4) * 1.0, [X(1, 4)]);
        GradCheck.Check("softmax", t => Functional.Softmax(t[0]), [X(3, 7)]);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void MatMul_all_transposes_and_batches(bool ta, bool tb)
    {
        using var s = new TensorScope();
        var a = ta ? X(5, 3) : X(3, 5);
        var b = tb ? X(4, 5) : X(5, 4);
        GradCheck.Check($"matmul {ta} {tb}", t => Tensor.MatMul(ta ? t[0].Transpose(0, 1) : t[0], tb ? t[1].Transpose(0, 1) : t[1]), [a, b]);
        var ab = ta ? X(2, 5, 3) : X(2, 3, 5);
        var bb = tb ? X(2, 4, 5) : X(2, 5, 4);
        GradCheck.Check($"bmm {ta} {tb}", t => Tensor.MatMul(ta ? t[0].Transpose(1, 2) : t[0], tb ? t[1].Transpose(1, 2) : t[1]), [ab, bb]);
        GradCheck.Check("linear", t => Functional.Linear(t[0], t[1]), [X(2, 3, 5), X(4, 5)]);
    }

    [Fact]
    public void Embedding_gathers_and_scatters_repeated_ids()
    {
        using var s = new TensorScope();
        var ids = Tensor.FromArray(new long[] { 3, 1, 3, 0, 4, 3 }, 2, 3);
        GradCheck.Check("embedding", t => Functional.Embedding(t[0], t[1]), [ids, X(5, 4)], [false, true]);
    }

    [Fact]
    public void Linear_cross_entropy_in_chunks_equals_the_head_then_the_loss()
    {
        // A vocabulary of 2^14 makes the CPU's chunks 64 rows, so 140 rows go through in three (64, 64, 12),
        // with ignored targets in each. Finite differences in float64, then float32 against the two ops it fuses.
        using var s = new TensorScope();
        var random = new Random(21);
        const int n = 140, c = 3, vocab = 1 << 14;
        var ids = Enumerable.Range(0, n).Select(i => i % 9 == 4 ? -1L : random.Next(vocab)).ToArray();
        var targets = Tensor.FromArray(ids, n);
        // The weight's gradient entries are mostly softmax probabilities near 1/16384, below what finite
        // differences resolve; its check is the exact comparison after this one.
        GradCheck.Check("linear cross-entropy", t => Functional.LinearCrossEntropy(t[0], t[1], targets, softcap: 2.0),
            [GradCheck.Rand(random, n, c), GradCheck.Rand(random, vocab, c)], differentiable: [true, false], maxEntries: 60);

        var x = GradCheck.Rand(random, n, c);
        var w = GradCheck.Rand(random, vocab, c);
        x.RequiresGrad = w.RequiresGrad = true;
        var fused = Functional.LinearCrossEntropy(x, w, targets, softcap: 2.0);
        (fused * 0.25).Backward();        // a scaled loss, as gradient accumulation makes
        double[] dx = x.Grad!.ToArray<double>(), dw = w.Grad!.ToArray<double>();
        var e = Assert.Throws<InvalidOperationException>(() => fused.Backward());
        Assert.Contains("compute the loss again", e.Message);
        x.Grad = null; w.Grad = null;
        var separate = Functional.CrossEntropy(Functional.Linear(x, w), targets, softcap: 2.0);
        (separate * 0.25).Backward();
        Assert.Equal(separate.Item(), fused.Item(), 12);
        foreach (var (got, want, name) in new[] { (dx, x.Grad!.ToArray<double>(), "dx"), (dw, w.Grad!.ToArray<double>(), "dW") })
        {
            double diff = 0, norm = 0;
            for (int i = 0; i < got.Length; i++) { diff += (got[i] - want[i]) * (got[i] - want[i]); norm += want[i] * want[i]; }
            Assert.True(norm > 0 && Math.Sqrt(diff / norm) < 1e-12, $"{name}: relative error {Math.Sqrt(diff / norm):E2}");
        }
        var perToken = Functional.LinearCrossEntropyPerToken(x, w, targets, softcap: 2.0).ToArray<double>();
        var unfused = Functional.CrossEntropyPerToken(Functional.Linear(x, w), targets, softcap: 2.0).ToArray<double>();
        for (int i = 0; i < n; i++) Assert.Equal(unfused[i], perToken[i], 12);
        Assert.Equal(0.0, perToken[4]);   // an ignored row

        var outOfRange = (long[])ids.Clone();
        outOfRange[100] = vocab;          // in the second chunk: named with its row in the whole batch
        var range = Assert.Throws<ArgumentOutOfRangeException>(() => Functional.LinearCrossEntropy(x, w, Tensor.FromArray(outOfRange, n)));
        Assert.Contains($"Target {vocab} at row 100 is out of range for {vocab} classes", range.Message);
        var bad = Assert.Throws<ArgumentException>(() => Functional.LinearCrossEntropy(x, w.Narrow(1, 0, 2), targets));
        Assert.Contains("[16384, 2]", bad.Message);
    }

    [Fact]
    public void RmsNorm_rotary_and_cross_entropy()
    {
        using var s = new TensorScope();
        GradCheck.Check("rmsnorm", t => Functional.RmsNorm(t[0]), [X(3, 8)]);
        var (cos, sin) = (X(6, 3), X(6, 3));
        GradCheck.Check("rotary", t => Functional.Rotary(t[0], cos, sin), [X(2, 5, 3, 6)]);
        var targets = Tensor.FromArray(new long[] { 2, -1, 0, 6, 1 }, 5);
        GradCheck.Check("cross-entropy", t => Functional.CrossEntropy(t[0], targets), [X(5, 7)]);
        // The cap inside the fused pass: its gradient by finite differences, and its value equal to the
        // separate Softcap op followed by the plain cross-entropy (what the GPT computed before fusing).
        var z = X(5, 7) * 3.0;
        GradCheck.Check("softcapped cross-entropy", t => Functional.CrossEntropy(t[0], targets, softcap: 1.5), [z]);
        Assert.Equal(Functional.CrossEntropy(z.Softcap(1.5), targets).Item(), Functional.CrossEntropy(z, targets, softcap: 1.5).Item(), 12);
        var perToken = Functional.CrossEntropyPerToken(z, targets, softcap: 1.5).ToArray<double>();
        var separate = Functional.CrossEntropyPerToken(z.Softcap(1.5), targets).ToArray<double>();
        for (int i = 0; i < perToken.Length; i++) Assert.Equal(separate[i], perToken[i], 12);
        Assert.Throws<ArgumentOutOfRangeException>(() => Functional.CrossEntropy(z, targets, softcap: -1));
    }

    [Theory]
    [InlineData(-1, 4, 4)]
    [InlineData(2, 4, 2)]
    [InlineData(0, 2, 1)]
    public void Attention_causal_gqa_window(int window, int heads, int kvHeads)
    {
        using var s = new TensorScope();
        GradCheck.Check($"attention w={window} h={heads}/{kvHeads}",
            t => Functional.CausalAttention(t[0], t[1], t[2], window), [X(2, 6, heads, 4), X(2, 6, kvHeads, 4), X(2, 6, kvHeads, 4)]);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(30)]
    public void Attention_over_several_query_blocks(int window)
    {
        using var s = new TensorScope();
        GradCheck.Check($"attention T=140 w={window}",
            t => Functional.CausalAttention(t[0], t[1], t[2], window), [X(1, 140, 2, 4), X(1, 140, 1, 4), X(1, 140, 1, 4)], maxEntries: 150);
    }
}
