using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Engine.IO;

namespace Engine.Tests.IO;

public class SafeTensorsTests
{
    private static string TempFile() => Path.Combine(Directory.CreateTempSubdirectory("engine-st-").FullName, "t.safetensors");

    private static SafeTensorEntry Raw(string name, SafeTensorDType dtype, long[] shape, byte seed)
    {
        long n = shape.Aggregate(1L, (a, b) => a * b) * SafeTensors.SizeOf(dtype);
        return new SafeTensorEntry(name, dtype, shape, Enumerable.Range(0, (int)n).Select(i => (byte)(i * 31 + seed)).ToArray());
    }

    [Fact]
    public void Round_trips_dtypes_shapes_scalars_empties_and_metadata_with_the_documented_layout()
    {
        var path = TempFile();
        var entries = new[]
        {
            Raw("b.f64", SafeTensorDType.F64, [2, 3], 1), Raw("a.bf16", SafeTensorDType.BF16, [5], 2),
            Raw("scalar", SafeTensorDType.F32, [], 3), Raw("empty", SafeTensorDType.I64, [0, 4], 4), Raw("ids", SafeTensorDType.I32, [3, 1], 5),
        };
        SafeTensors.Write(path, entries, new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode" });
        var file = SafeTensors.Read(path);
        Assert.Equal("ünïcode", file.Metadata["note"]);
        foreach (var e in entries)
        {
            var got = file[e.Name];
            Assert.Equal(e.DType, got.DType);
            Assert.Equal(e.Shape, got.Shape);
            Assert.Equal(e.Data.ToArray(), got.Data.ToArray());
        }
        // Check the layout by hand: length prefix, 8-byte aligned header, names sorted, offsets contiguous.
        var bytes = File.ReadAllBytes(path);
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, headerLength % 8);
        using var doc = JsonDocument.Parse(Encoding.UTF8.GetString(bytes, 8, (int)headerLength));
        var names = doc.RootElement.EnumerateObject().Select(p => p.Name).Where(n => n != "__metadata__").ToArray();
        Assert.Equal(names.Order(StringComparer.Ordinal).ToArray(), names);
        Assert.Equal(bytes.Length - 8 - headerLength, entries.Sum(e => (long)e.Data.Length));
        Assert.Equal("BF16", doc.RootElement.GetProperty("a.bf16").GetProperty("dtype").GetString());
    }

    [Fact]
    public void Python_written_file_reads_back()
    {
        var file = SafeTensors.Read(Path.Combine(AppContext.BaseDirectory, "Fixtures", "attention_window.safetensors"));
        Assert.Equal([2L, 12, 4, 8], file["q"].Shape);
        Assert.Equal(2 * 12 * 4 * 8, file["q"].ToSingleArray().Length);
        Assert.Equal("5", file.Metadata["window"]);
        Assert.Contains("q", Assert.Throws<KeyNotFoundException>(() => file["nope"]).Message);
    }

    public static TheoryData<string, Func<byte[], byte[]>, string> Corruptions => new()
    {
        { "empty", _ => [], "fewer than the 8-byte" },
        { "truncated data", b => b[..^3], "outside" },
        { "header longer than file", b => { var c = (byte[])b.Clone(); BinaryPrimitives.WriteUInt64LittleEndian(c, 1UL << 40); return c; }, "header says" },
        { "bad json", b => { var c = (byte[])b.Clone(); c[8] = (byte)'['; c[9] = (byte)'x'; return c; }, "not valid JSON" },
        { "unknown dtype", b => Replace(b, "\"F32\"", "\"Q32\""), "unknown dtype" },
        { "shape disagrees with bytes", b => Replace(b, "[2,3]", "[3,3]"), "needs" },
        { "trailing bytes", b => [.. b, 0, 0, 0, 0], "cover" },
    };

    private static byte[] Replace(byte[] b, string from, string to)
    {
        var s = Encoding.Latin1.GetString(b);
        Assert.Contains(from, s);
        return Encoding.Latin1.GetBytes(s.Replace(from, to));
    }

    [Theory]
    [MemberData(nameof(Corruptions))]
    public void Corrupt_files_get_a_clear_InvalidDataException(string what, Func<byte[], byte[]> corrupt, string message)
    {
        var path = TempFile();
        SafeTensors.Write(path, [SafeTensorEntry.FromSingle("w", [1, 2, 3, 4, 5, 6], [2, 3])]);
        File.WriteAllBytes(path, corrupt(File.ReadAllBytes(path)));
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(path));
        Assert.Contains(message, e.Message);
        Assert.Contains(path, e.Message);
        Assert.False(string.IsNullOrEmpty(what));
    }

    [Fact]
    public void A_failing_writer_leaves_the_old_file_and_no_temporaries()
    {
        var path = TempFile();
        AtomicFile.WriteAllText(path, "old");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.Write("half of the new"u8);
            throw new InvalidOperationException("disk full");
        }));
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!));
    }
}
