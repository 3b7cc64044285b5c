using Engine.Gpu;
using Engine.Gpu.Ptx;

namespace Engine.Tests.Gpu;

/// <summary>
/// The device library behind precise MathF/Math transcendentals in kernels (Frontend/DeviceMath.cs), run
/// through the compiler on the CPU accelerator over inputs spread across each function's whole range,
/// held to the exact value (float64 for the float functions, which are within 1 ulp; the CLR's
/// double functions, themselves within 1 ulp, for exp, log and tanh in double: within 2, 3 and 4), and
/// to the C library's special values bit for bit.
/// </summary>
public class DeviceMathTests
{
    internal const int Functions = 8;

    [Kernel]
    internal static void FloatFunctions(ArrayView<float> x, ArrayView<float> y, ArrayView<float> r)
    {
        int i = Grid.GlobalIndexX;
        if (i < x.Length)
        {
            float v = x[i];
            r[Functions * i] = MathF.Exp(v);
            r[Functions * i + 1] = MathF.Log(v);
            r[Functions * i + 2] = MathF.Log2(v);
            r[Functions * i + 3] = MathF.Sin(v);
            r[Functions * i + 4] = MathF.Cos(v);
            r[Functions * i + 5] = MathF.Tan(v);
            r[Functions * i + 6] = MathF.Tanh(v);
            r[Functions * i + 7] = MathF.Pow(v, y[i]);
        }
    }

    [Kernel]
    internal static void DoubleFunctions(ArrayView<double> x, ArrayView<double> r)
    {
        int i = Grid.GlobalIndexX;
        if (i < x.Length)
        {
            r[3 * i] = Math.Exp(x[i]);
            r[3 * i + 1] = Math.Log(x[i]);
            r[3 * i + 2] = Math.Tanh(x[i]);
        }
    }

    private static float[] Run(float[] x, float[] y)
    {
        using var cpu = new CpuAccelerator(32);
        using var vx = cpu.Allocate<float>(x);
        using var vy = cpu.Allocate<float>(y);
        using var vr = cpu.Allocate<float>(Functions * x.Length);
        cpu.Launch((Action<ArrayView<float>, ArrayView<float>, ArrayView<float>>)FloatFunctions, KernelConfig.Covering(x.Length, 64), vx.View, vy.View, vr.View);
        return vr.GetAsArray();
    }

    /// <summary>|actual − exact| in units of the float spacing at the exact value.</summary>
    private static double UlpsOff(float actual, double exact)
    {
        if (double.IsInfinity(exact) || float.IsInfinity(actual))
        {
            return (float)exact == actual ? 0 : double.PositiveInfinity;
        }
        float nearest = (float)exact;
        double ulp = Math.Max(MathF.BitIncrement(MathF.Abs(nearest)) - MathF.Abs(nearest), float.Epsilon);
        return Math.Abs(actual - exact) / ulp;
    }

    [Fact]
    public void FloatFunctionsAreWithinOneUlpEverywhere()
    {
        var rng = new Random(Environment.TickCount);
        // Magnitudes spread log-uniformly over the floats (subnormals to 3e38), both signs, plus the
        // neighbourhoods of multiples of π/2 where sin and cos are hardest.
        var x = new List<float>();
        for (int i = 0; i < 20000; i++)
        {
            float v = (float)Math.Pow(2, rng.NextDouble() * 276 - 149);
            x.Add(rng.Next(2) == 0 ? v : -v);
        }
        for (int k = 1; k < 2000; k++)
        {
            x.Add((float)(k * Math.PI / 2));
            x.Add(MathF.BitIncrement((float)(k * 1e5 * Math.PI / 2)));
        }
        for (int i = 0; i < 4000; i++)
        {
            x.Add((float)(rng.NextDouble() * 200 - 100)); // exp's and tanh's working range
        }
        float[] xs = [.. x];
        float[] ys = xs.Select(_ => (float)(rng.NextDouble() * 8 - 4)).ToArray();
        float[] r = Run(xs, ys);
        var worst = new double[Functions];
        string[] names = ["exp", "log", "log2", "sin", "cos", "tan", "tanh", "pow"];
        for (int i = 0; i < xs.Length; i++)
        {
            double v = xs[i];
            double[] exact =
            [
                Math.Exp(v), Math.Log(v), Math.Log2(v), Math.Sin(v), Math.Cos(v), Math.Tan(v), Math.Tanh(v), Math.Pow(v, ys[i]),
            ];
            for (int f = 0; f < Functions; f++)
            {
                float actual = r[Functions * i + f];
                if (double.IsNaN(exact[f]))
                {
                    Assert.True(float.IsNaN(actual), $"{names[f]}({xs[i]:R}) = {actual:R}, expected NaN");
                    continue;
                }
                double off = UlpsOff(actual, exact[f]);
                worst[f] = Math.Max(worst[f], off);
                Assert.True(off <= 1.0, $"{names[f]}({xs[i]:R}{(f == 7 ? $", {ys[i]:R}" : "")}) = {actual:R}; exact {exact[f]:R}: {off:F2} ulp");
            }
        }
        TestContext.Current.TestOutputHelper?.WriteLine(string.Join(", ", names.Select((n, f) => $"{n} {worst[f]:F3} ulp")) + $" (worst of {xs.Length} inputs)");
    }

    [Fact]
    public void SpecialValuesAreTheCLibrarys()
    {
        float[] specials = [0f, -0f, 1f, -1f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, float.Epsilon, -float.Epsilon, float.MaxValue, -float.MaxValue, 0.5f, -0.5f, 2f, -2f, 89f, -104f, 100f, -110f];
        float[] powers = [0f, -0f, 1f, -1f, 2f, -2f, 3f, -3f, 0.5f, -0.5f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, 2.5f, 1e10f, -1e10f, 16777217f];
        var x = new List<float>();
        var y = new List<float>();
        foreach (float a in specials)
        {
            foreach (float b in powers)
            {
                x.Add(a);
                y.Add(b);
            }
        }
        float[] r = Run([.. x], [.. y]);
        for (int i = 0; i < x.Count; i++)
        {
            float[] expected = [MathF.Exp(x[i]), MathF.Log(x[i]), MathF.Log2(x[i]), MathF.Sin(x[i]), MathF.Cos(x[i]), MathF.Tan(x[i]), MathF.Tanh(x[i]), MathF.Pow(x[i], y[i])];
            for (int f = 0; f < Functions; f++)
            {
                float actual = r[Functions * i + f];
                bool special = float.IsNaN(expected[f]) || float.IsInfinity(expected[f]) || expected[f] == 0f || MathF.Abs(expected[f]) == 1f || float.IsInfinity(x[i]) || x[i] == 0f || float.IsNaN(y[i]) || float.IsInfinity(y[i]);
                if (!special)
                {
                    continue; // Ordinary values are held to the exact result above.
                }
                Assert.True(float.IsNaN(expected[f]) ? float.IsNaN(actual) : BitConverter.SingleToInt32Bits(expected[f]) == BitConverter.SingleToInt32Bits(actual),
                    $"function {f} at ({x[i]:R}, {y[i]:R}): the CLR gives {expected[f]:R}, the device library {actual:R}");
            }
        }
    }

    [Fact]
    public void DoubleExpLogAndTanhAreWithinAFewUlpOfTheClr()
    {
        var rng = new Random(Environment.TickCount);
        double[] x = [.. Enumerable.Range(0, 20000).Select(_ => (rng.NextDouble() * 1500 - 745)),
            .. Enumerable.Range(0, 20000).Select(_ => Math.Pow(2, rng.NextDouble() * 2098 - 1074)),
            .. Enumerable.Range(0, 20000).Select(_ => (rng.Next(2) * 2 - 1) * Math.Pow(2, rng.NextDouble() * 40 - 35)), // tanh's interesting range
            0.0, -0.0, 1.0, double.NaN, double.PositiveInfinity, double.NegativeInfinity, double.Epsilon, double.MaxValue, -1.0, 709.78, -745.13];
        using var cpu = new CpuAccelerator(32);
        using var vx = cpu.Allocate<double>(x);
        using var vr = cpu.Allocate<double>(3 * x.Length);
        cpu.Launch((Action<ArrayView<double>, ArrayView<double>>)DoubleFunctions, KernelConfig.Covering(x.Length, 64), vx.View, vr.View);
        double[] r = vr.GetAsArray();
        long[] worst = new long[3];
        string[] names = ["exp", "log", "tanh"];
        for (int i = 0; i < x.Length; i++)
        {
            foreach (var (k, expected) in new[] { (0, Math.Exp(x[i])), (1, Math.Log(x[i])), (2, Math.Tanh(x[i])) })
            {
                double actual = r[3 * i + k];
                if (double.IsNaN(expected))
                {
                    Assert.True(double.IsNaN(actual), $"{names[k]}({x[i]:R}) = {actual:R}, expected NaN");
                    continue;
                }
                long off = Math.Abs(BitConverter.DoubleToInt64Bits(expected) - BitConverter.DoubleToInt64Bits(actual));
                Assert.True(Math.Sign(expected) == Math.Sign(actual) || expected == 0 && actual == 0, $"{names[k]}({x[i]:R}): sign of {actual:R}");
                // Bounds with a unit of margin over the worst seen (exp 1, log 2, tanh 3: the CLR's own
                // result is itself up to 1 ulp from exact), so a rare input does not make the suite flaky.
                Assert.True(off <= k + 2, $"{names[k]}({x[i]:R}) = {actual:R}, the CLR {expected:R}: {off} ulp");
                worst[k] = Math.Max(worst[k], off);
            }
        }
        TestContext.Current.TestOutputHelper?.WriteLine($"double exp {worst[0]} ulp, log {worst[1]} ulp, tanh {worst[2]} ulp from the CLR (worst of {x.Length} inputs)");
    }

    [Fact]
    public void PreciseFunctionsCompileToPtxWithoutLocalMemory()
    {
        foreach (var kernel in new Delegate[]
        {
            (Action<ArrayView<float>, ArrayView<float>, ArrayView<float>>)FloatFunctions,
            (Action<ArrayView<double>, ArrayView<double>>)DoubleFunctions,
        })
        {
            string ptx = PtxEmitter.Emit(KernelCompiler.Compile(kernel.Method).Function, new PtxTarget(90), "kernel");
            Assert.DoesNotContain(".local", ptx);
            Assert.DoesNotContain(".approx", ptx); // Precise: no hardware approximation inside.
            Assert.Contains("div.rn.f64", ptx);   // The library computes in double ...
        }
        string floats = PtxEmitter.Emit(KernelCompiler.Compile(((Action<ArrayView<float>, ArrayView<float>, ArrayView<float>>)FloatFunctions).Method).Function, new PtxTarget(90), "kernel");
        Assert.Contains("fma.rn.f64", floats);           // ... reduces sin's argument with fused products ...
        Assert.Contains("cvt.rn.f32.f64", floats);       // ... and rounds each float result once.
    }
}
