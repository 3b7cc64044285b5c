using Engine.Gpu;
using K = Engine.Tests.Gpu.CatalogueKernels3;

namespace Engine.Tests.Gpu;

/// <summary>The third batch of catalogue entries (kernels in CatalogueKernels3.cs): generic math and typeof dispatch.</summary>
public partial class KernelCatalogueTests
{
    private static float[] FloatsWithEdges(Random rng, int n) => [.. FloatEdges, .. Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * Math.Pow(10, rng.Next(-3, 12))))];

    private static Case CreateTruncatingCase<T>() where T : unmanaged, System.Numerics.INumberBase<T> => new(K.CreateTruncating<T>, rng =>
    {
        float[] f = FloatsWithEdges(rng, 40);
        int[] x = [.. IntEdges, .. Ints(rng, f.Length - IntEdges.Length, int.MinValue, int.MaxValue)];
        return (Cover(x.Length), [x, f, new T[2 * x.Length]]);
    });

    private static Case CreateSaturatingCase<T>() where T : unmanaged, System.Numerics.INumberBase<T> => new(K.CreateSaturating<T>, rng =>
    {
        double[] d = [double.NaN, double.PositiveInfinity, double.NegativeInfinity, 1e300, -1e300, 0.0, -0.0, 2.5, -2.5, 65535.9, 2147483647.5, -2147483648.9,
            .. Doubles(rng, 40, 1e10)];
        long[] x = [.. LongEdges, .. Longs(rng, d.Length - LongEdges.Length)];
        return (Cover(x.Length), [x, d, new T[2 * x.Length]]);
    });

    private static Case TypeDispatchCase<T>(Func<Random, T> make) where T : unmanaged => new(K.TypeDispatch<T>, rng =>
    {
        T[] x = Enumerable.Range(0, 70).Select(_ => make(rng)).ToArray();
        return (Cover(x.Length), [x, Filled(x.Length, float.NaN)]);
    });

    private static Case GenericNumbersCase<T>(Func<Random, T> make) where T : unmanaged, System.Numerics.INumber<T> => new(K.GenericNumbers<T>, rng =>
    {
        T[] x = Enumerable.Range(0, 70).Select(_ => make(rng)).ToArray();
        return (Cover(x.Length), [x, new T[2 * x.Length]]);
    });

    private static Dictionary<string, Case> ThirdBatchCases() => new()
    {
        ["generic math: float.CreateTruncating from int and float"] = CreateTruncatingCase<float>(),
        ["generic math: double.CreateTruncating from int and float"] = CreateTruncatingCase<double>(),
        ["generic math: int.CreateTruncating from int and float (saturating, NaN to 0)"] = CreateTruncatingCase<int>(),
        ["generic math: long.CreateTruncating from int and float"] = CreateTruncatingCase<long>(),
        ["generic math: short.CreateTruncating from int and float"] = CreateTruncatingCase<short>(),
        ["generic math: int.CreateSaturating from long and double"] = CreateSaturatingCase<int>(),
        ["generic math: ushort.CreateSaturating from long and double"] = CreateSaturatingCase<ushort>(),
        ["generic math: float.CreateSaturating from long and double"] = CreateSaturatingCase<float>(),
        ["typeof dispatch with (T)(object) casts: float"] = TypeDispatchCase(rng => (float)rng.NextDouble()),
        ["typeof dispatch with (T)(object) casts: int"] = TypeDispatchCase(rng => rng.Next()),
        ["typeof dispatch with (T)(object) casts: long"] = TypeDispatchCase(rng => rng.NextInt64()),
        ["typeof dispatch with (T)(object) casts: double (no branch taken)"] = TypeDispatchCase(rng => rng.NextDouble()),
        ["generic numbers (Zero, One, operators, Max, Abs): int"] = GenericNumbersCase(rng => rng.Next(-1000, 1000)),
        ["generic numbers (Zero, One, operators, Max, Abs): double"] = GenericNumbersCase(rng => rng.NextDouble() * 10 - 5),
    };
}
