using Engine;
using Engine.NN;

namespace Engine.Tests.Core;

/// <summary>The attention forward on fresh random inputs against a direct float64 loop over visible keys.</summary>
public class AttentionReferenceTests
{
    [Theory]
    [InlineData(1, 9, 2, 2, 8, -1)]
    [InlineData(2, 17, 6, 2, 16, -1)]
    [InlineData(2, 17, 4, 1, 8, 3)]
    [InlineData(1, 33, 4, 4, 32, 0)]
    [InlineData(1, 150, 2, 1, 8, -1)]   // several query blocks
    [InlineData(2, 130, 4, 2, 8, 40)]   // blocks that skip keys left of the window
    public void Matches_naive_float64(int b, int t, int h, int hk, int d, int window)
    {
        var r = new Random(b * 1000 + t * 10 + window);
        using var scope = new TensorScope();
        var q = Tensor.RandN([b, t, h, d], r); var k = Tensor.RandN([b, t, hk, d], r); var v = Tensor.RandN([b, t, hk, d], r);
        var got = Functional.CausalAttention(q, k, v, window).ToArray<float>();
        float[] qa = q.ToArray<float>(), ka = k.ToArray<float>(), va = v.ToArray<float>();
        var want = new double[got.Length];
        double scale = 1 / Math.Sqrt(d);
        for (int bi = 0; bi < b; bi++)
            for (int hi = 0; hi < h; hi++)
                for (int i = 0; i < t; i++)
                {
                    int kh = hi / (h / hk);
                    var visible = Enumerable.Range(0, i + 1).Where(j => window < 0 || i - j <= window).ToArray();
                    var s = visible.Select(j => scale * Enumerable.Range(0, d).Sum(c => (double)qa[((bi * t + i) * h + hi) * d + c] * ka[((bi * t + j) * hk + kh) * d + c])).ToArray();
                    double max = s.Max(), z = s.Sum(x => Math.Exp(x - max));
                    for (int c = 0; c < d; c++)
                        want[((bi * t + i) * h + hi) * d + c] = visible.Select((j, n) => Math.Exp(s[n] - max) / z * va[((bi * t + j) * hk + kh) * d + c]).Sum();
                }
        double err = 0, norm = 0;
        for (int i = 0; i < got.Length; i++) { err += (got[i] - want[i]) * (got[i] - want[i]); norm += want[i] * want[i]; }
        Assert.True(Math.Sqrt(err / norm) < 1e-5, $"relative error {Math.Sqrt(err / norm):E2}");
    }
}
