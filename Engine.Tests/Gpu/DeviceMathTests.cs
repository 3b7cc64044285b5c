using Engine.Gpu;
using Engine.Gpu.Frontend;
using Engine.Gpu.Ptx;
using Xunit;

namespace Engine.Tests.Gpu;

/// <summary>Kernels that call every precise transcendental; <c>fn</c> picks the function (see DeviceMathTests.Functions).</summary>
public static class DeviceMathKernels
{
    [Kernel]
    public static void Doubles(ArrayView<double> x, ArrayView<double> y, ArrayView<double> r, int fn)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        double a = x[i];
        r[i] = fn switch
        {
            0 => Math.Exp(a),
            1 => double.Exp2(a),
            2 => Math.Log(a),
            3 => Math.Log2(a),
            4 => Math.Log10(a),
            5 => Math.Sin(a),
            6 => Math.Cos(a),
            7 => Math.Tan(a),
            8 => Math.Tanh(a),
            9 => Math.Sinh(a),
            10 => Math.Cosh(a),
            11 => Math.Pow(a, y[i]),
            12 => Math.Atan(a),
            _ => Math.Atan2(a, y[i]),
        };
    }

    [Kernel]
    public static void Floats(ArrayView<float> x, ArrayView<float> y, ArrayView<float> r, int fn)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        float a = x[i];
        r[i] = fn switch
        {
            0 => MathF.Exp(a),
            1 => float.Exp2(a),
            2 => MathF.Log(a),
            3 => MathF.Log2(a),
            4 => MathF.Log10(a),
            5 => MathF.Sin(a),
            6 => MathF.Cos(a),
            7 => MathF.Tan(a),
            8 => MathF.Tanh(a),
            9 => MathF.Sinh(a),
            10 => MathF.Cosh(a),
            11 => MathF.Pow(a, y[i]),
            12 => MathF.Atan(a),
            _ => MathF.Atan2(a, y[i]),
        };
    }

    // One function each, for the PTX size each costs (printed by the PTX test).
    [Kernel]
    public static void ExpF(ArrayView<float> x) => x[Grid.GlobalIndexX] = MathF.Exp(x[Grid.GlobalIndexX]);

    [Kernel]
    public static void LogF(ArrayView<float> x) => x[Grid.GlobalIndexX] = MathF.Log(x[Grid.GlobalIndexX]);

    [Kernel]
    public static void SinF(ArrayView<float> x) => x[Grid.GlobalIndexX] = MathF.Sin(x[Grid.GlobalIndexX]);

    [Kernel]
    public static void TanhF(ArrayView<float> x) => x[Grid.GlobalIndexX] = MathF.Tanh(x[Grid.GlobalIndexX]);

    [Kernel]
    public static void PowF(ArrayView<float> x) => x[Grid.GlobalIndexX] = MathF.Pow(x[Grid.GlobalIndexX], 0.75f);

    [Kernel]
    public static void SinD(ArrayView<double> x) => x[Grid.GlobalIndexX] = Math.Sin(x[Grid.GlobalIndexX]);

    /// <summary>Base-library methods whose IL calls the mapped ones: inlined as usual, reaching the library.</summary>
    [Kernel]
    public static void Composed(ArrayView<double> x, ArrayView<double> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        r[3 * i] = Math.Log(x[i], 3.0);
        r[3 * i + 1] = double.Exp10(0.01 * x[i]);
        r[3 * i + 2] = float.Exp((float)x[i]);
    }

    /// <summary>A small kernel of the kind a user writes: softmax-style exp, a phase, a power.</summary>
    [Kernel]
    public static void Mixed(ArrayView<float> x, ArrayView<double> d, ArrayView<float> r, ArrayView<double> rd)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        r[i] = MathF.Exp(x[i]) + MathF.Sin(x[i]) * MathF.Pow(MathF.Abs(x[i]), 0.75f) + MathF.Tanh(x[i]) + MathF.Log(MathF.Abs(x[i]));
        rd[i] = Math.Sin(d[i]) + Math.Exp(d[i]) + Math.Log2(Math.Abs(d[i])) + Math.Cos(d[i]) * Math.Tan(d[i]);
    }
}

/// <summary>
/// Engine.Gpu's device math library (Frontend/DeviceMath.cs): the C# the translator inlines for precise
/// Math/MathF transcendentals. Each function is compiled and run on the CPU accelerator over random inputs
/// across its whole range and the edge cases, and held to its ulp bound against System.Math in double
/// (float results against the double result rounded to float). The bounds here are the documented ones
/// (docs/engine-gpu.md, "Device math") plus what the platform's libm may itself be off by.
/// </summary>
public class DeviceMathTests
{
    /// <summary>Name, float bound, double bound (against System.Math), reference, input generator.</summary>
    public sealed record Function(string Name, int FloatUlps, int DoubleUlps, Func<double, double, double> Reference, Func<Random, double> Input,
        Func<Random, double>? Second = null);

    private static double Uniform(Random r, double lo, double hi) => lo + (hi - lo) * r.NextDouble();

    /// <summary>A random magnitude 2^e with e uniform in [minExp, maxExp], with a random sign unless positive.</summary>
    private static double Magnitude(Random r, double minExp, double maxExp, bool positive = false)
    {
        double v = Math.Pow(2, Uniform(r, minExp, maxExp));
        return positive || r.Next(2) == 0 ? v : -v;
    }

    // Index = the kernels' fn. The double bounds: 2 ulp for what the library holds to 1 (exp, log, sin, cos,
    // pow: it is within 1, glibc within 1), 3 for tan (within 2), 4 for tanh/sinh/cosh (within 2, and glibc's
    // own are off by up to 2).
    public static readonly Function[] Functions =
    [
        new("Exp", 1, 2, (x, _) => Math.Exp(x), r => r.Next(3) == 0 ? Magnitude(r, -60, 3) : Uniform(r, -746, 710)),
        new("Exp2", 1, 2, (x, _) => double.Exp2(x), r => r.Next(3) == 0 ? Magnitude(r, -60, 3) : Uniform(r, -1076, 1025)),
        new("Log", 1, 2, (x, _) => Math.Log(x), r => r.Next(3) == 0 ? 1 + Uniform(r, -0.3, 0.5) : Magnitude(r, -1074, 1024, positive: true)),
        new("Log2", 1, 2, (x, _) => Math.Log2(x), r => r.Next(3) == 0 ? 1 + Uniform(r, -0.3, 0.5) : Magnitude(r, -1074, 1024, positive: true)),
        new("Log10", 1, 2, (x, _) => Math.Log10(x), r => r.Next(3) == 0 ? 1 + Uniform(r, -0.3, 0.5) : Magnitude(r, -1074, 1024, positive: true)),
        new("Sin", 1, 2, (x, _) => Math.Sin(x), r => r.Next(3) == 0 ? Uniform(r, -10, 10) : Magnitude(r, -40, 1024)),
        new("Cos", 1, 2, (x, _) => Math.Cos(x), r => r.Next(3) == 0 ? Uniform(r, -10, 10) : Magnitude(r, -40, 1024)),
        new("Tan", 1, 3, (x, _) => Math.Tan(x), r => r.Next(3) == 0 ? Uniform(r, -10, 10) : Magnitude(r, -40, 1024)),
        new("Tanh", 1, 4, (x, _) => Math.Tanh(x), r => r.Next(3) == 0 ? Uniform(r, -1, 1) : Magnitude(r, -40, 6)),
        new("Sinh", 1, 4, (x, _) => Math.Sinh(x), r => r.Next(3) == 0 ? Uniform(r, -2, 2) : Magnitude(r, -40, 9.48)),
        new("Cosh", 1, 4, (x, _) => Math.Cosh(x), r => r.Next(3) == 0 ? Uniform(r, -2, 2) : Magnitude(r, -40, 9.48)),
        new("Pow", 1, 2, Math.Pow, r => Magnitude(r, -40, 40, positive: true), r => Uniform(r, -25, 25)),
        new("Atan", 1, 2, (x, _) => Math.Atan(x), r => r.Next(3) == 0 ? Uniform(r, -3, 3) : Magnitude(r, -40, 1024)),
        new("Atan2", 1, 2, Math.Atan2, r => r.Next(2) == 0 ? Magnitude(r, -40, 40) : Magnitude(r, -1074, 1024), r => r.Next(2) == 0 ? Magnitude(r, -40, 40) : Magnitude(r, -1074, 1024)),
    ];

    public static TheoryData<string> FunctionNames() => new(Functions.Select(f => f.Name));

    private static readonly double[] DoubleEdges = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, 3.0, -3.0, 10.0, 0.1, double.NaN,
        double.PositiveInfinity, double.NegativeInfinity, double.Epsilon, -double.Epsilon, 2.2250738585072014e-308, 1e-310, -1e-310,
        double.MaxValue, double.MinValue, 709.782712893384, 709.7827128933841, 710.4758600739439, -708.3964185322641,
        -745.1332191019411, -745.1332191019412, -746, 1024, 1023.9999, -1074, -1075, -1076, 22, -22, 0.55, 1e-9, 1e-20,
        Math.PI, Math.PI / 2, -Math.PI / 4, 1e5, 1e15, 1125899906842624.0, 1e22, 1e300, 1e308];

    private static readonly float[] FloatEdges = [0f, -0f, 1f, -1f, 0.5f, 2f, 3f, -3f, 10f, float.NaN, float.PositiveInfinity,
        float.NegativeInfinity, float.Epsilon, -float.Epsilon, 1.17549435e-38f, 1e-40f, float.MaxValue, float.MinValue, 88.72284f,
        88.72283f, 89f, -87.33655f, -103.27893f, -103.97208f, -104f, 128f, 127.99999f, -149f, -150f, -151f, 9f, -9f, 1e-5f, 1e-30f,
        MathF.PI, MathF.PI / 2, 1e5f, 105615f, 1e15f, 1e20f, 1e38f, 2147483648f];

    private static (double[] X, double[] Y) DoubleInputs(Function f, int count, int seed)
    {
        var rng = new Random(seed);
        var x = new List<double>();
        var y = new List<double>();
        if (f.Second is null)
        {
            x.AddRange(DoubleEdges);
            y.AddRange(DoubleEdges.Select(_ => 0.0));
        }
        else
        {
            // Pow and Atan2: every pair of edge values (their special cases), then random ones.
            double[] edges = [.. DoubleEdges, 0.75, -0.75, 53, -53, 9007199254740993.0, 1e-300];
            foreach (double a in edges)
            {
                foreach (double b in edges)
                {
                    x.Add(a);
                    y.Add(b);
                }
            }
        }
        for (int k = 0; k < count; k++)
        {
            double a = f.Input(rng);
            x.Add(a);
            y.Add(f.Second?.Invoke(rng) ?? 0.0);
            if (f.Name == "Pow" && k % 4 == 0)
            {
                // Negative bases to integer powers, and exponents large enough to reach overflow and underflow.
                x[^1] = -Uniform(rng, 0.01, 8);
                y[^1] = Math.Round(Uniform(rng, -300, 300));
            }
            else if (f.Name == "Pow" && k % 4 == 1)
            {
                y[^1] = Uniform(rng, -1, 1) * 1100 / Math.Max(1e-3, Math.Abs(Math.Log(a)));
            }
        }
        return ([.. x], [.. y]);
    }

    private static (float[] X, float[] Y) FloatInputs(Function f, int count, int seed)
    {
        var rng = new Random(seed);
        var x = new List<float>();
        var y = new List<float>();
        if (f.Second is null)
        {
            x.AddRange(FloatEdges);
            y.AddRange(FloatEdges.Select(_ => 0f));
        }
        else
        {
            float[] edges = [.. FloatEdges, 0.75f, -0.75f, 25f, -25f, 16777217f];
            foreach (float a in edges)
            {
                foreach (float b in edges)
                {
                    x.Add(a);
                    y.Add(b);
                }
            }
        }
        for (int k = 0; k < count; k++)
        {
            // The double generators, narrowed: float's range is covered where it exists, the rest saturates.
            double wide = f.Input(rng);
            float a = (float)wide;
            float b = (float)(f.Second?.Invoke(rng) ?? 0.0);
            if ((a == 0 || float.IsInfinity(a)) && wide != 0)
            {
                a = (float)Magnitude(rng, -149, 128, positive: wide > 0); // beyond float's range: a float magnitude instead
            }
            if (f.Name == "Exp" || f.Name == "Exp2")
            {
                a = (float)(f.Name == "Exp" ? Uniform(rng, -104, 89) : Uniform(rng, -151, 129));
            }
            else if (f.Name == "Pow" && k % 4 == 0)
            {
                a = (float)-Uniform(rng, 0.01, 8);
                b = MathF.Round((float)Uniform(rng, -60, 60));
            }
            x.Add(a);
            y.Add(b);
        }
        return ([.. x], [.. y]);
    }

    private static double[] RunDoubles(int fn, double[] x, double[] y, int warpSize = 32)
    {
        using var cpu = new CpuAccelerator(warpSize);
        Array[] results = KernelHarness.Run((Action<ArrayView<double>, ArrayView<double>, ArrayView<double>, int>)DeviceMathKernels.Doubles,
            KernelConfig.Covering(x.Length, 64), [x, y, new double[x.Length], fn], cpu, warpSize);
        return (double[])results[2];
    }

    private static float[] RunFloats(int fn, float[] x, float[] y, int warpSize = 32)
    {
        using var cpu = new CpuAccelerator(warpSize);
        Array[] results = KernelHarness.Run((Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, int>)DeviceMathKernels.Floats,
            KernelConfig.Covering(x.Length, 64), [x, y, new float[x.Length], fn], cpu, warpSize);
        return (float[])results[2];
    }

    private static bool SameSpecial(double actual, double expected) =>
        // Infinities exactly, zeros with their sign, NaN as NaN: never traded for an ulp.
        !(double.IsInfinity(expected) || double.IsInfinity(actual) || expected == 0 || actual == 0 || double.IsNaN(expected) || double.IsNaN(actual))
        || BitConverter.DoubleToInt64Bits(actual) == BitConverter.DoubleToInt64Bits(expected) || double.IsNaN(actual) && double.IsNaN(expected);

    [Theory]
    [MemberData(nameof(FunctionNames))]
    public void DoubleVersionIsWithinItsBoundThroughTheCompiler(string name)
    {
        int fn = Array.FindIndex(Functions, f => f.Name == name);
        Function f = Functions[fn];
        var (x, y) = DoubleInputs(f, 20_000, 100 + fn);
        double[] r = RunDoubles(fn, x, y);
        ulong worst = 0;
        for (int k = 0; k < x.Length; k++)
        {
            double expected = f.Reference(x[k], y[k]);
            ulong ulps = KernelHarness.UlpDistance(r[k], expected);
            Assert.True(SameSpecial(r[k], expected) && ulps <= (ulong)f.DoubleUlps,
                $"{name}({x[k]:R}{(f.Second is null ? "" : $", {y[k]:R}")}) = {r[k]:R}, System.Math says {expected:R} ({ulps} ulp; at most {f.DoubleUlps})");
            worst = Math.Max(worst, ulps);
            // The compiled code computes exactly what the library computes as C#.
            double library = Library(name, x[k], y[k]);
            Assert.True(BitConverter.DoubleToInt64Bits(library) == BitConverter.DoubleToInt64Bits(r[k]) || double.IsNaN(library) && double.IsNaN(r[k]),
                $"{name}({x[k]:R}): compiled {r[k]:R}, C# {library:R}");
        }
        TestContext.Current.TestOutputHelper?.WriteLine($"{name} (double): {x.Length} inputs, worst {worst} ulp from System.Math");
    }

    [Theory]
    [MemberData(nameof(FunctionNames))]
    public void FloatVersionIsWithinItsBoundThroughTheCompiler(string name)
    {
        int fn = Array.FindIndex(Functions, f => f.Name == name);
        Function f = Functions[fn];
        var (x, y) = FloatInputs(f, 20_000, 200 + fn);
        float[] r = RunFloats(fn, x, y);
        ulong worst = 0;
        for (int k = 0; k < x.Length; k++)
        {
            float expected = (float)f.Reference(x[k], y[k]);
            ulong ulps = KernelHarness.UlpDistance(r[k], expected);
            Assert.True(SameSpecial(r[k], expected) && ulps <= (ulong)f.FloatUlps,
                $"{name}({x[k]:R}{(f.Second is null ? "" : $", {y[k]:R}")}) = {r[k]:R}, System.Math in double says {expected:R} ({ulps} ulp; at most {f.FloatUlps})");
            worst = Math.Max(worst, ulps);
        }
        TestContext.Current.TestOutputHelper?.WriteLine($"{name} (float): {x.Length} inputs, worst {worst} ulp from System.Math in double");
    }

    /// <summary>The library as plain C#, over many more inputs than the interpreter runs in a test's time.</summary>
    [Theory]
    [MemberData(nameof(FunctionNames))]
    public void LibraryIsWithinItsBoundOverManyInputs(string name)
    {
        int fn = Array.FindIndex(Functions, f => f.Name == name);
        Function f = Functions[fn];
        var (x, y) = DoubleInputs(f, 200_000, 300 + fn);
        for (int k = 0; k < x.Length; k++)
        {
            double actual = Library(name, x[k], y[k]);
            double expected = f.Reference(x[k], y[k]);
            ulong ulps = KernelHarness.UlpDistance(actual, expected);
            Assert.True(SameSpecial(actual, expected) && ulps <= (ulong)f.DoubleUlps, $"{name}({x[k]:R}, {y[k]:R}) = {actual:R}, System.Math says {expected:R} ({ulps} ulp)");
        }
        var (xf, yf) = FloatInputs(f, 200_000, 400 + fn);
        for (int k = 0; k < xf.Length; k++)
        {
            float actual = LibraryF(name, xf[k], yf[k]);
            float expected = (float)f.Reference(xf[k], yf[k]);
            ulong ulps = KernelHarness.UlpDistance(actual, expected);
            Assert.True(SameSpecial(actual, expected) && ulps <= (ulong)f.FloatUlps, $"{name}({xf[k]:R}f, {yf[k]:R}f) = {actual:R}, System.Math says {expected:R} ({ulps} ulp)");
        }
    }

    private static double Library(string name, double x, double y) => name switch
    {
        "Exp" => DeviceMath.Exp(x),
        "Exp2" => DeviceMath.Exp2(x),
        "Log" => DeviceMath.Log(x),
        "Log2" => DeviceMath.Log2(x),
        "Log10" => DeviceMath.Log10(x),
        "Sin" => DeviceMath.Sin(x),
        "Cos" => DeviceMath.Cos(x),
        "Tan" => DeviceMath.Tan(x),
        "Tanh" => DeviceMath.Tanh(x),
        "Sinh" => DeviceMath.Sinh(x),
        "Cosh" => DeviceMath.Cosh(x),
        "Pow" => DeviceMath.Pow(x, y),
        "Atan" => DeviceMath.Atan(x),
        "Atan2" => DeviceMath.Atan2(x, y),
        _ => throw new ArgumentException(name),
    };

    private static float LibraryF(string name, float x, float y) => name switch
    {
        "Exp" => DeviceMath.Exp(x),
        "Exp2" => DeviceMath.Exp2(x),
        "Log" => DeviceMath.Log(x),
        "Log2" => DeviceMath.Log2(x),
        "Log10" => DeviceMath.Log10(x),
        "Sin" => DeviceMath.Sin(x),
        "Cos" => DeviceMath.Cos(x),
        "Tan" => DeviceMath.Tan(x),
        "Tanh" => DeviceMath.Tanh(x),
        "Sinh" => DeviceMath.Sinh(x),
        "Cosh" => DeviceMath.Cosh(x),
        "Pow" => DeviceMath.Pow(x, y),
        "Atan" => DeviceMath.Atan(x),
        "Atan2" => DeviceMath.Atan2(x, y),
        _ => throw new ArgumentException(name),
    };

    [Fact]
    public void SpecialValuesAreExact()
    {
        // (function index, x, y, expected) through the compiler: IEEE 754's special cases, as the CLR returns them.
        (int Fn, double X, double Y, double Expected)[] cases =
        [
            (0, double.NaN, 0, double.NaN), (0, double.PositiveInfinity, 0, double.PositiveInfinity), (0, double.NegativeInfinity, 0, 0.0),
            (0, 709.79, 0, double.PositiveInfinity), (0, -745.2, 0, 0.0), (0, -0.0, 0, 1.0), (0, 0.0, 0, 1.0), (0, -745.13, 0, double.Epsilon),
            (1, 1024, 0, double.PositiveInfinity), (1, -1074, 0, double.Epsilon), (1, -1022, 0, 2.2250738585072014e-308), (1, 10, 0, 1024.0), (1, -1, 0, 0.5),
            (2, 0.0, 0, double.NegativeInfinity), (2, -0.0, 0, double.NegativeInfinity), (2, -1.0, 0, double.NaN), (2, 1.0, 0, 0.0),
            (2, double.PositiveInfinity, 0, double.PositiveInfinity), (2, double.NegativeInfinity, 0, double.NaN), (2, double.NaN, 0, double.NaN),
            (3, 8.0, 0, 3.0), (3, double.Epsilon, 0, -1074.0), (3, 0.0, 0, double.NegativeInfinity), (3, -2, 0, double.NaN), (3, 1.0, 0, 0.0),
            (4, 0.0, 0, double.NegativeInfinity), (4, 1.0, 0, 0.0), (4, -1.0, 0, double.NaN),
            (5, -0.0, 0, -0.0), (5, 0.0, 0, 0.0), (5, double.PositiveInfinity, 0, double.NaN), (5, double.NaN, 0, double.NaN), (5, -1e-310, 0, -1e-310),
            (6, 0.0, 0, 1.0), (6, double.NegativeInfinity, 0, double.NaN), (7, -0.0, 0, -0.0), (7, double.PositiveInfinity, 0, double.NaN),
            (8, double.PositiveInfinity, 0, 1.0), (8, double.NegativeInfinity, 0, -1.0), (8, -0.0, 0, -0.0), (8, double.NaN, 0, double.NaN), (8, 30, 0, 1.0),
            (9, double.NegativeInfinity, 0, double.NegativeInfinity), (9, -0.0, 0, -0.0), (9, 711, 0, double.PositiveInfinity),
            (10, double.NegativeInfinity, 0, double.PositiveInfinity), (10, 0.0, 0, 1.0), (10, -711, 0, double.PositiveInfinity),
            (11, double.NaN, 0.0, 1.0), (11, 1.0, double.NaN, 1.0), (11, -1.0, double.PositiveInfinity, 1.0), (11, 0.5, double.PositiveInfinity, 0.0),
            (11, 2.0, double.NegativeInfinity, 0.0), (11, -0.0, -3.0, double.NegativeInfinity), (11, -0.0, 3.0, -0.0), (11, -0.0, 2.0, 0.0),
            (11, double.NegativeInfinity, -3.0, -0.0), (11, double.NegativeInfinity, 3.0, double.NegativeInfinity), (11, -8.0, 1.0 / 3, double.NaN),
            (11, -2.0, 3.0, -8.0), (11, 2.0, 1024.0, double.PositiveInfinity), (11, 2.0, -1074.0, double.Epsilon), (11, -2.0, -1075.0, -0.0),
            (11, 10.0, 2.0, 100.0), (11, 4.0, 0.5, 2.0),
            (12, double.PositiveInfinity, 0, Math.PI / 2), (12, double.NegativeInfinity, 0, -Math.PI / 2), (12, -0.0, 0, -0.0), (12, 1.0, 0, Math.PI / 4),
            (12, double.NaN, 0, double.NaN), (12, 1e-310, 0, 1e-310),
            (13, 0.0, -0.0, Math.PI), (13, -0.0, -0.0, -Math.PI), (13, 0.0, 0.0, 0.0), (13, -0.0, 0.0, -0.0), (13, -0.0, -1.0, -Math.PI), (13, 0.0, 1.0, 0.0),
            (13, 1.0, 0.0, Math.PI / 2), (13, -1.0, -0.0, -Math.PI / 2), (13, double.PositiveInfinity, double.PositiveInfinity, Math.PI / 4),
            (13, double.PositiveInfinity, double.NegativeInfinity, 3 * Math.PI / 4), (13, double.NegativeInfinity, double.NegativeInfinity, -3 * Math.PI / 4),
            (13, 1.0, double.PositiveInfinity, 0.0), (13, -1.0, double.NegativeInfinity, -Math.PI), (13, double.NegativeInfinity, 5.0, -Math.PI / 2),
            (13, double.NaN, 1.0, double.NaN), (13, 1.0, double.NaN, double.NaN), (13, 1.0, 1.0, Math.PI / 4), (13, -1.0, -1.0, -3 * Math.PI / 4),
        ];
        foreach (int fn in cases.Select(c => c.Fn).Distinct())
        {
            var mine = cases.Where(c => c.Fn == fn).ToArray();
            double[] r = RunDoubles(fn, mine.Select(c => c.X).ToArray(), mine.Select(c => c.Y).ToArray(), warpSize: 4);
            float[] rf = RunFloats(fn, mine.Select(c => (float)c.X).ToArray(), mine.Select(c => (float)c.Y).ToArray(), warpSize: 4);
            for (int k = 0; k < mine.Length; k++)
            {
                var (_, x, y, expected) = mine[k];
                Assert.True(BitConverter.DoubleToInt64Bits(r[k]) == BitConverter.DoubleToInt64Bits(expected) || double.IsNaN(r[k]) && double.IsNaN(expected),
                    $"{Functions[fn].Name}({x:R}, {y:R}) = {r[k]:R}, expected {expected:R}");
                // The float version, where the same input means the same thing in float.
                float expectedF = (float)Functions[fn].Reference((float)x, (float)y);
                Assert.True(BitConverter.SingleToInt32Bits(rf[k]) == BitConverter.SingleToInt32Bits(expectedF) || float.IsNaN(rf[k]) && float.IsNaN(expectedF)
                    || KernelHarness.UlpDistance(rf[k], expectedF) <= 1 && expectedF != 0 && float.IsFinite(expectedF),
                    $"{Functions[fn].Name}((float){x:R}, (float){y:R}) = {rf[k]:R}, expected {expectedF:R}");
            }
        }
    }

    [Fact]
    public void SinCosTanAreFiniteAndBoundedForEveryFiniteInput()
    {
        // Payne-Hanek reduction from 2^50 on: random exponents over the whole range, and the largest doubles.
        var rng = new Random(5);
        double[] x = Enumerable.Range(0, 2000).Select(k => k < 50 ? BitConverter.Int64BitsToDouble(0x7FEF_FFFF_FFFF_FFFFL - k) : Magnitude(rng, 40, 1024)).ToArray();
        double[] y = new double[x.Length];
        for (int fn = 5; fn <= 7; fn++)
        {
            double[] r = RunDoubles(fn, x, y, warpSize: 4);
            for (int k = 0; k < x.Length; k++)
            {
                Assert.False(double.IsNaN(r[k]), $"{Functions[fn].Name}({x[k]:R}) is NaN");
                Assert.True(fn == 7 || Math.Abs(r[k]) <= 1, $"{Functions[fn].Name}({x[k]:R}) = {r[k]:R}");
                Assert.True(KernelHarness.UlpDistance(r[k], Functions[fn].Reference(x[k], 0)) <= (ulong)Functions[fn].DoubleUlps,
                    $"{Functions[fn].Name}({x[k]:R}) = {r[k]:R}, System.Math says {Functions[fn].Reference(x[k], 0):R}");
            }
        }
    }

    [Fact]
    public void TheHardestDoubleToReduceIsCorrectlyRounded()
    {
        // 6381956970095103 * 2^797 lies within 2^-61 of a multiple of pi/2, the closest of any double; only
        // the trailing bits of a long expansion of 2/pi get cos and tan right there. Exact values from a
        // 3000-bit evaluation (mpmath), rounded to double.
        double x = 6381956970095103.0 * Math.Pow(2, 797);
        double[] r = RunDoubles(6, [x], [0], warpSize: 4);
        double[] t = RunDoubles(7, [x], [0], warpSize: 4);
        double[] s = RunDoubles(5, [x], [0], warpSize: 4);
        Assert.Equal(-4.687165924254628e-19, r[0]);
        Assert.Equal(-2.133485385753704e+18, t[0]);
        Assert.Equal(1.0, s[0]);
    }

    [Fact]
    public void KernelsCallingTranscendentalsEmitPtxWithoutLocalMemory()
    {
        foreach (Delegate kernel in new Delegate[]
        {
            (Action<ArrayView<double>, ArrayView<double>, ArrayView<double>, int>)DeviceMathKernels.Doubles,
            (Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, int>)DeviceMathKernels.Floats,
            (Action<ArrayView<float>, ArrayView<double>, ArrayView<float>, ArrayView<double>>)DeviceMathKernels.Mixed,
            (Action<ArrayView<float>, ArrayView<double>, ArrayView<float>, ArrayView<double>>)ArithmeticKernels.Transcendentals,
            (Action<ArrayView<float>>)DeviceMathKernels.ExpF, (Action<ArrayView<float>>)DeviceMathKernels.LogF, (Action<ArrayView<float>>)DeviceMathKernels.SinF,
            (Action<ArrayView<float>>)DeviceMathKernels.TanhF, (Action<ArrayView<float>>)DeviceMathKernels.PowF, (Action<ArrayView<double>>)DeviceMathKernels.SinD,
        })
        {
            string ptx = PtxEmitter.Emit(KernelCompiler.Compile(kernel.Method).Function, new PtxTarget(80), "kernel");
            int instructions = ptx.Split('\n').Select(l => l.Trim()).Count(l => l.EndsWith(';') && !l.StartsWith('.') && !l.StartsWith("//"));
            TestContext.Current.TestOutputHelper?.WriteLine($"{kernel.Method.Name}: {instructions} PTX instructions");
            Assert.DoesNotContain(".local", ptx, StringComparison.Ordinal);
            Assert.Contains("fma.rn.f64", ptx, StringComparison.Ordinal);
            // No approximate instruction stands in for a precise function.
            Assert.DoesNotContain(".approx", ptx, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void MethodsBuiltOnTheMappedOnesCompileAndAgree()
    {
        double[] x = [.. DoubleEdges, .. Enumerable.Range(0, 300).Select(k => Math.Pow(1.7, k - 150) * (k % 3 == 0 ? -1 : 1))];
        using var cpu = new CpuAccelerator(4);
        Array[] results = KernelHarness.Run((Action<ArrayView<double>, ArrayView<double>>)DeviceMathKernels.Composed,
            KernelConfig.Covering(x.Length, 32), [x, new double[3 * x.Length]], cpu, 4);
        double[] r = (double[])results[1];
        for (int k = 0; k < x.Length; k++)
        {
            double[] expected = [Math.Log(x[k], 3.0), double.Exp10(0.01 * x[k]), float.Exp((float)x[k])];
            for (int f = 0; f < 3; f++)
            {
                // float.Exp's result (widened) is held to 1 float ulp, the double ones to 4 double ulps.
                ulong ulps = f == 2 ? KernelHarness.UlpDistance((float)r[3 * k + f], (float)expected[f]) : KernelHarness.UlpDistance(r[3 * k + f], expected[f]);
                Assert.True(SameSpecial(r[3 * k + f], expected[f]) && ulps <= (f == 2 ? 1ul : 4ul),
                    $"function {f} at {x[k]:R}: {r[3 * k + f]:R}, CLR {expected[f]:R}");
            }
        }
    }

    [Fact]
    public void MixedKernelAgreesWithTheClrWithinUlps()
    {
        var rng = new Random(11);
        float[] x = [.. FloatEdges, .. Enumerable.Range(0, 200).Select(_ => (float)Uniform(rng, -20, 20))];
        double[] d = x.Select(v => v * 1.0000001).ToArray();
        // Sums of several functions: each term within its bound, so the sum within a few ulps of its largest term.
        using var cpu = new CpuAccelerator(4);
        Array[] results = KernelHarness.Run((Action<ArrayView<float>, ArrayView<double>, ArrayView<float>, ArrayView<double>>)DeviceMathKernels.Mixed,
            KernelConfig.Covering(x.Length, 32), [x, d, new float[x.Length], new double[x.Length]], cpu, 4);
        var (rf, rd) = ((float[])results[2], (double[])results[3]);
        for (int k = 0; k < x.Length; k++)
        {
            float a = MathF.Abs(x[k]);
            float[] tf = [MathF.Exp(x[k]), MathF.Sin(x[k]) * MathF.Pow(a, 0.75f), MathF.Tanh(x[k]), MathF.Log(a)];
            double[] td = [Math.Sin(d[k]), Math.Exp(d[k]), Math.Log2(Math.Abs(d[k])), Math.Cos(d[k]) * Math.Tan(d[k])];
            float ef = tf[0] + tf[1] + tf[2] + tf[3];
            double ed = td[0] + td[1] + td[2] + td[3];
            // A few ulps of the largest term: each term is within its bound, the sums round the same way.
            double tolF = 8 * 6e-8 * tf.Sum(t => Math.Abs((double)t)), tolD = 8 * 1.1e-16 * td.Sum(Math.Abs);
            Assert.True(float.IsNaN(ef) ? float.IsNaN(rf[k]) : rf[k] == ef || Math.Abs((double)rf[k] - ef) <= tolF, $"float {x[k]:R}: {rf[k]:R}, CLR {ef:R}");
            Assert.True(double.IsNaN(ed) ? double.IsNaN(rd[k]) : rd[k] == ed || Math.Abs(rd[k] - ed) <= tolD, $"double {d[k]:R}: {rd[k]:R}, CLR {ed:R}");
        }
    }
}
