using Engine.Gpu;
using Engine.Kernels;
using Engine.Numerics;

namespace Engine.Tests.Kernels;

/// <summary>
/// KV-cache decoding attention against float64, with sequences of different lengths in one batch
/// (including a single cached token), grouped-query heads and windows; on the CPU accelerator and on
/// CUDA where present (skipped visibly elsewhere). The output is poisoned with NaN first.
/// </summary>
public class DecodeAttentionTests
{
    public static TheoryData<string, int, int> Cases() => new()
    {
        { "cpu32", 64, 0 }, { "cpu32", 128, 0 }, { "cpu32", 64, 50 }, { "cpu32", 128, 7 },
        { "cuda", 64, 0 }, { "cuda", 128, 50 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesFloat64(string kind, int headDim, int window)
    {
        if (kind == "cuda" && CudaAccelerator.Unavailable is { } reason)
        {
            Assert.Skip($"No CUDA GPU: {reason}");
        }
        using Accelerator acc = kind == "cuda" ? new CudaAccelerator() : new CpuAccelerator(32);
        var rng = new Random(Environment.TickCount);
        int[] lengths = [1, 37, 200];
        int batch = lengths.Length, capacity = 256, heads = 4, kvHeads = 2;
        BFloat16[] R(int n, double scale) => Enumerable.Range(0, n).Select(_ => (BFloat16)((rng.NextDouble() * 2 - 1) * scale)).ToArray();
        BFloat16[] q = R(batch * heads * headDim, 2), k = R(batch * capacity * kvHeads * headDim, 2), v = R(batch * capacity * kvHeads * headDim, 1);
        using var vq = acc.Allocate<BFloat16>(q);
        using var vk = acc.Allocate<BFloat16>(k);
        using var vv = acc.Allocate<BFloat16>(v);
        using var vl = acc.Allocate<int>(lengths);
        using var vo = acc.Allocate<BFloat16>(Enumerable.Repeat(BFloat16.NaN, q.Length).ToArray());
        DecodeAttention.Decode(acc, vq.View, vk.View, vv.View, vo.View, vl.View, heads, kvHeads, headDim, window);
        BFloat16[] o = vo.GetAsArray();
        double diff = 0, norm = 0, floor = 0;
        for (int b = 0; b < batch; b++)
        {
            for (int h = 0; h < heads; h++)
            {
                int kv = h / (heads / kvHeads), query = lengths[b] - 1;
                int first = window > 0 ? Math.Max(0, query - window) : 0;
                var scores = new List<double>();
                for (int key = first; key <= query; key++)
                {
                    double dot = 0;
                    for (int c = 0; c < headDim; c++)
                    {
                        dot += (double)(float)q[(b * heads + h) * headDim + c] * (float)k[((b * capacity + key) * kvHeads + kv) * headDim + c];
                    }
                    scores.Add(dot / Math.Sqrt(headDim));
                }
                double max = scores.Max(), sum = scores.Sum(s => Math.Exp(s - max));
                for (int c = 0; c < headDim; c++)
                {
                    double expected = 0;
                    for (int key = first; key <= query; key++)
                    {
                        expected += Math.Exp(scores[key - first] - max) / sum * (float)v[((b * capacity + key) * kvHeads + kv) * headDim + c];
                    }
                    float actual = o[(b * heads + h) * headDim + c];
                    Assert.False(float.IsNaN(actual), $"output[{b}, {h}, {c}] was never written");
                    diff += (expected - actual) * (expected - actual);
                    norm += expected * expected;
                    floor += Math.Pow(expected - (float)(BFloat16)expected, 2);
                }
            }
        }
        // fp32 throughout, one rounding at the end: at the floor of rounding the float64 result.
        Assert.True(Math.Sqrt(diff / norm) < 1.1 * Math.Sqrt(floor / norm), $"D={headDim}, window {window}: relative error norm {Math.Sqrt(diff / norm):E2}, bf16 rounding alone {Math.Sqrt(floor / norm):E2}");
    }

    [Fact]
    public void BadShapesSayWhatIsWrong()
    {
        using var cpu = new CpuAccelerator(32);
        using var x = cpu.Allocate<BFloat16>(2 * 4 * 64);
        using var lengths = cpu.Allocate<int>(2);
        var e = Assert.Throws<ArgumentException>(() => DecodeAttention.Decode(cpu, x.View, x.View, x.View, x.View, lengths.View, 4, 3, 64));
        Assert.Contains("multiple of Hkv", e.Message);
        e = Assert.Throws<ArgumentException>(() => DecodeAttention.Decode(cpu, x.View, x.View, x.View, x.View, lengths.View, 2, 2, 64));
        Assert.Contains("needs 256", e.Message);
    }
}
