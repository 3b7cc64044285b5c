using System.Globalization;
using Engine.IO;
using Engine.Numerics;

namespace Engine.Tests.IO;

/// <summary>
/// Reads a file written on the PyTorch side by tools/fixtures/make_safetensors_fixture.py (json +
/// struct, tensors from torch), and checks every value against the formulas the script documents,
/// and our bf16 rounding against PyTorch's.
/// </summary>
public class SafeTensorsPythonFixtureTests
{
    private static readonly string FixturePath = Path.Combine(AppContext.BaseDirectory, "Fixtures", "safetensors_python.safetensors");

    [Fact]
    public void Python_written_file_reads_with_its_dtypes_shapes_and_metadata()
    {
        var file = SafeTensors.Read(FixturePath);
        Assert.Equal(13, file.Count);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal("unicode ✓ and \"quotes\"", file.Metadata["note"]);

        var grid = file["f32_grid"];
        Assert.Equal(SafeTensorDType.F32, grid.DType);
        Assert.Equal([2L, 3, 4], grid.Shape);
        var g = grid.ToSingleArray();
        for (int i = 0; i < g.Length; i++) Assert.Equal(0.25f * i - 3f, g[i]);
        Assert.Equal(double.Parse(file.Metadata["f32_grid_sum"], CultureInfo.InvariantCulture), g.Sum(x => (double)x));

        Assert.Equal([-1.0, -0.5, 0, 0.5, 1], file["f64_line"].ToArray<double>());
        Assert.Equal([], file["scalar"].Shape);
        Assert.Equal([3.5f], file["scalar"].ToSingleArray());
        Assert.Equal([0L, 3], file["empty"].Shape);
        Assert.Equal(0, file["empty"].Data.Length);
        Assert.Equal([-(1L << 62), -1, 0, 1, 1L << 40, 1L << 62], file["i64"].ToArray<long>());
        Assert.Equal([int.MinValue, -1, 0, int.MaxValue], file["i32"].ToArray<int>());
        Assert.Equal([short.MinValue, (short)-1, (short)0, short.MaxValue], file["i16"].ToArray<short>());
        Assert.Equal([sbyte.MinValue, (sbyte)-1, (sbyte)0, sbyte.MaxValue], file["i8"].ToArray<sbyte>());
        Assert.Equal([0, 1, 128, 255], file["u8"].ToArray<byte>());
        Assert.Equal([true, false, false, true, true], file["flags"].ToArray<bool>());
    }

    [Fact]
    public void Our_bf16_and_f16_rounding_matches_PyTorchs()
    {
        var file = SafeTensors.Read(FixturePath);
        var source = file["bf16_source"].ToArray<float>();
        Assert.Equal(int.Parse(file.Metadata["bf16_count"], CultureInfo.InvariantCulture), source.Length);
        var torchBits = file["bf16_torch"].ToArray<BFloat16>();
        var ours = new BFloat16[source.Length];
        BFloat16.ConvertFromSingle(source, ours);
        int nans = 0;
        for (int i = 0; i < source.Length; i++)
        {
            if (float.IsNaN(source[i]))
            {
                // PyTorch writes one canonical NaN; we keep the payload. Both must be NaN.
                Assert.True(BFloat16.IsNaN(torchBits[i]) && BFloat16.IsNaN(ours[i]));
                nans++;
                continue;
            }
            Assert.True(torchBits[i].RawValue == ours[i].RawValue,
                $"[{i}] 0x{BitConverter.SingleToUInt32Bits(source[i]):X8}: torch 0x{torchBits[i].RawValue:X4}, ours 0x{ours[i].RawValue:X4}");
            Assert.Equal(torchBits[i].RawValue, ((BFloat16)source[i]).RawValue);
        }
        Assert.Equal(1, nans);

        // F16: .NET's float -> Half rounding against PyTorch's, and our F16 reading.
        var f16 = file["f16_torch"].ToSingleArray();
        for (int i = 0; i < source.Length; i++)
        {
            float want = (float)(Half)source[i];
            Assert.True(float.IsNaN(want) ? float.IsNaN(f16[i]) : want.Equals(f16[i]), $"[{i}] {source[i]:R}: torch {f16[i]:R}, .NET {want:R}");
        }
    }

    [Fact]
    public void Rewriting_the_python_file_keeps_every_tensor_and_the_metadata()
    {
        var original = SafeTensors.Read(FixturePath);
        var path = SafeTensorsTests.TempFile();
        SafeTensors.Write(path, original.Tensors.Values, original.Metadata);
        var again = SafeTensors.Read(path);
        Assert.Equal(original.Metadata, again.Metadata);
        foreach (var name in original.Names)
        {
            Assert.Equal(original[name].DType, again[name].DType);
            Assert.Equal(original[name].Shape, again[name].Shape);
            Assert.Equal(original[name].Data.ToArray(), again[name].Data.ToArray());
        }
    }
}
