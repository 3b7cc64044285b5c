using Engine;
using Engine.Autograd;

namespace Engine.Tests.Core;

/// <summary>
/// Finite-difference gradient checks in float64: the analytic gradient of L = Σ f(x)·R (R random,
/// fixed) against central differences (L(x + h) − L(x − h)) / 2h, compared by relative error norm.
/// </summary>
internal static class GradCheck
{
    public static void Check(string name, Func<Tensor[], Tensor> f, Tensor[] inputs, bool[]? differentiable = null,
        double tolerance = 1e-6, int seed = 1, double step = 1e-6, int maxEntries = 400)
    {
        using var scope = new TensorScope();
        differentiable ??= inputs.Select(t => t.DType == DType.Float64).ToArray();
        for (int i = 0; i < inputs.Length; i++)
        {
            inputs[i].RequiresGrad = differentiable[i];
            inputs[i].Grad = null;
        }
        var random = new Random(seed);
        Tensor output;
        using (GradMode.NoGrad()) output = f(inputs);
        var weights = Tensor.RandN(output.Shape, random, 1.0, DType.Float64);

        double Loss()
        {
            using var s = new TensorScope();
            using var ng = GradMode.NoGrad();
            return (f(inputs) * weights).Sum().Item();
        }

        var loss = (f(inputs) * weights).Sum();
        loss.Backward();

        for (int i = 0; i < inputs.Length; i++)
        {
            if (!differentiable[i]) continue;
            var x = inputs[i];
            Assert.NotNull(x.Grad);
            var analytic = x.Grad!.ToArray<double>();
            var data = x.Span<double>();
            // Check every entry of small inputs, a random sample of large ones.
            var entries = Enumerable.Range(0, x.Count).ToArray();
            if (entries.Length > maxEntries) entries = entries.OrderBy(_ => random.Next()).Take(maxEntries).ToArray();
            double diff2 = 0, ref2 = 0;
            foreach (int e in entries)
            {
                double saved = data[e];
                data[e] = saved + step;
                double up = Loss();
                data[e] = saved - step;
                double down = Loss();
                data[e] = saved;
                double numeric = (up - down) / (2 * step);
                diff2 += (analytic[e] - numeric) * (analytic[e] - numeric);
                ref2 += numeric * numeric;
            }
            double rel = Math.Sqrt(diff2) / Math.Max(Math.Sqrt(ref2), 1e-12);
            Assert.True(rel < tolerance, $"{name}: input {i} {x}: gradient relative error {rel:E3} exceeds {tolerance:E1} over {entries.Length} entries (|numeric| = {Math.Sqrt(ref2):E3}).");
            x.Grad!.Dispose();
            x.Grad = null;
        }
    }

    public static Tensor Rand(Random r, params int[] shape) => Tensor.RandN(shape, r, 1.0, DType.Float64);
}
