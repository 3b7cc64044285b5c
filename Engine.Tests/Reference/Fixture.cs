using Engine;
using Engine.IO;

namespace Engine.Tests.Reference;

/// <summary>Reads the PyTorch fixtures written by tools/fixtures/make_gpt_fixtures.py.</summary>
internal sealed class Fixture
{
    private readonly SafeTensorFile _file;

    private Fixture(SafeTensorFile file) => _file = file;

    public static Fixture Load(string name) =>
        new(SafeTensors.Read(Path.Combine(AppContext.BaseDirectory, "Fixtures", name)));

    public string Meta(string key) => _file.Metadata[key];

    public int MetaInt(string key) => int.Parse(Meta(key), System.Globalization.CultureInfo.InvariantCulture);

    public double MetaDouble(string key) => double.Parse(Meta(key), System.Globalization.CultureInfo.InvariantCulture);

    public bool Has(string name) => _file.Tensors.ContainsKey(name);

    public int[] Shape(string name) => _file[name].Shape.Select(d => (int)d).ToArray();

    public float[] Floats(string name) => _file[name].ToSingleArray();

    /// <summary>A float32 tensor (or float64 when <paramref name="dtype"/> says so) holding the fixture's values.</summary>
    public Tensor Tensor(string name, DType dtype = DType.Float32)
    {
        var t = Engine.Tensor.FromArray(Floats(name), Shape(name));
        if (dtype == DType.Float32) return t;
        var c = t.To(dtype);
        t.Dispose();
        return c;
    }

    public Tensor Longs(string name)
    {
        var e = _file[name];
        var data = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(e.Data.Span).ToArray();
        return Engine.Tensor.FromArray(data, Shape(name));
    }

    /// <summary>‖a − b‖ / ‖b‖ over the whole tensor.</summary>
    public static double RelativeError(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        double diff = 0, norm = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = (double)actual[i] - expected[i];
            diff += d * d;
            norm += (double)expected[i] * expected[i];
        }
        return Math.Sqrt(diff) / Math.Max(Math.Sqrt(norm), 1e-30);
    }

    public static void Close(string what, ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, double tolerance)
    {
        double rel = RelativeError(actual, expected);
        Assert.True(rel < tolerance, $"{what}: relative error {rel:E3} exceeds {tolerance:E1}");
    }
}
