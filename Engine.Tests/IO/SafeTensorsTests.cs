using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Engine.IO;
using Engine.Numerics;

namespace Engine.Tests.IO;

public class SafeTensorsTests
{
    internal static string TempFile() => Path.Combine(Directory.CreateTempSubdirectory("engine-st-").FullName, "t.safetensors");

    private static SafeTensorEntry Raw(string name, SafeTensorDType dtype, long[] shape, byte seed)
    {
        long n = shape.Aggregate(1L, (a, b) => a * b) * dtype.SizeOf();
        return new SafeTensorEntry(name, dtype, shape, Enumerable.Range(0, (int)n).Select(i => (byte)(i * 31 + seed)).ToArray());
    }

    /// <summary>One tensor of every dtype plus a scalar and empty tensors, with odd byte counts so alignment matters.</summary>
    private static SafeTensorEntry[] Assortment() =>
    [
        Raw("b.f64", SafeTensorDType.F64, [2, 3], 1), Raw("a.bf16", SafeTensorDType.BF16, [5], 2),
        Raw("scalar", SafeTensorDType.F32, [], 3), Raw("empty", SafeTensorDType.I64, [0, 4], 4),
        Raw("ids", SafeTensorDType.I32, [3, 1], 5), Raw("mask", SafeTensorDType.BOOL, [3], 6),
        Raw("u8", SafeTensorDType.U8, [7], 7), Raw("i8", SafeTensorDType.I8, [1, 1, 1], 8),
        Raw("h", SafeTensorDType.F16, [3], 9), Raw("i16", SafeTensorDType.I16, [1], 10),
        Raw("u16", SafeTensorDType.U16, [2], 11), Raw("u32", SafeTensorDType.U32, [1], 12),
        Raw("u64", SafeTensorDType.U64, [2], 13), Raw("f8a", SafeTensorDType.F8_E4M3, [3], 14),
        Raw("f8b", SafeTensorDType.F8_E5M2, [1], 15), Raw("big.i64", SafeTensorDType.I64, [2, 2], 16),
        Raw("empty.scalarlike", SafeTensorDType.F32, [0], 17), Raw("ünï.naming", SafeTensorDType.F32, [1], 18),
    ];

    [Fact]
    public void Round_trips_every_dtype_scalars_empties_and_metadata_through_a_file_and_through_bytes()
    {
        var path = TempFile();
        var entries = Assortment();
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode \"quoted\" \\ back\nslash", ["empty"] = "" };
        SafeTensors.Write(path, entries, metadata);
        var fromFile = SafeTensors.Read(path);
        var fromBytes = SafeTensors.Read(File.ReadAllBytes(path), "in-memory");
        foreach (var file in new[] { fromFile, fromBytes })
        {
            Assert.Equal(metadata, file.Metadata);
            Assert.Equal(entries.Length, file.Count);
            foreach (var e in entries)
            {
                var got = file[e.Name];
                Assert.Equal(e.DType, got.DType);
                Assert.Equal(e.Shape, got.Shape);
                Assert.Equal(e.ElementCount, got.ElementCount);
                Assert.Equal(e.Data.ToArray(), got.Data.ToArray());
            }
        }
        Assert.Equal(path, fromFile.Source);
        Assert.Equal("in-memory", fromBytes.Source);
        Assert.Equal(1, fromFile["scalar"].ElementCount);
        Assert.Equal(0, fromFile["scalar"].Rank);
        Assert.Equal(0, fromFile["empty"].ElementCount);
    }

    [Fact]
    public void Layout_matches_the_format_byte_for_byte()
    {
        var path = TempFile();
        var entries = Assortment();
        SafeTensors.Write(path, entries, new Dictionary<string, string> { ["z"] = "last key", ["format"] = "pt" });
        var bytes = File.ReadAllBytes(path);

        // 8-byte little-endian length, then a header padded with spaces to a multiple of 8.
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, n % 8);
        var headerText = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.StartsWith("{", headerText);
        int close = Array.LastIndexOf(bytes, (byte)'}', (int)(8 + n - 1));
        Assert.InRange(8 + n - 1 - close, 0, 7);                                  // under 8 bytes of padding ...
        Assert.All(bytes[(close + 1)..(int)(8 + n)], b => Assert.Equal((byte)' ', b));   // ... all of them spaces

        using var doc = JsonDocument.Parse(headerText);
        var props = doc.RootElement.EnumerateObject().ToArray();
        Assert.Equal("__metadata__", props[0].Name);
        Assert.Equal(["format", "z"], props[0].Value.EnumerateObject().Select(p => p.Name).ToArray());

        // Tensors: largest element size first, then by ordinal name; contiguous; each aligned to its element size.
        var expectedOrder = entries.OrderByDescending(e => e.DType.SizeOf()).ThenBy(e => e.Name, StringComparer.Ordinal).Select(e => e.Name).ToArray();
        Assert.Equal(expectedOrder, props.Skip(1).Select(p => p.Name).ToArray());
        long dataStart = 8 + n, offset = 0;
        foreach (var p in props.Skip(1))
        {
            var e = entries.Single(x => x.Name == p.Name);
            Assert.Equal(e.DType.Name(), p.Value.GetProperty("dtype").GetString());
            Assert.Equal(e.Shape, p.Value.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray());
            var offsets = p.Value.GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).ToArray();
            Assert.Equal([offset, offset + e.Data.Length], offsets);
            Assert.Equal(0, (dataStart + offsets[0]) % e.DType.SizeOf());
            Assert.Equal(e.Data.ToArray(), bytes[(int)(dataStart + offsets[0])..(int)(dataStart + offsets[1])]);
            offset = offsets[1];
        }
        Assert.Equal(bytes.Length, dataStart + offset);
    }

    [Fact]
    public void A_small_file_has_exactly_the_expected_bytes()
    {
        var stream = new MemoryStream();
        SafeTensors.Write(stream, [SafeTensorEntry.FromSingle("w", [1f, -2f], [1, 2])]);
        const string json = """{"w":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}}""";   // 56 bytes: no padding needed
        var expected = new List<byte>();
        expected.AddRange(BitConverter.GetBytes((ulong)json.Length));
        expected.AddRange(Encoding.ASCII.GetBytes(json));
        expected.AddRange([0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0]);   // 1f and -2f, little-endian
        Assert.Equal(expected.ToArray(), stream.ToArray());

        stream = new MemoryStream();
        SafeTensors.Write(stream, []);
        Assert.Equal([8, 0, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'}', 32, 32, 32, 32, 32, 32], stream.ToArray());
        var empty = SafeTensors.Read(stream.ToArray(), "empty");
        Assert.Equal(0, empty.Count);
        Assert.Empty(empty.Metadata);
    }

    [Fact]
    public void Writing_is_deterministic_whatever_the_input_order()
    {
        var entries = Assortment();
        var meta = new Dictionary<string, string> { ["b"] = "2", ["a"] = "1" };
        var s1 = new MemoryStream();
        var s2 = new MemoryStream();
        SafeTensors.Write(s1, entries, meta);
        SafeTensors.Write(s2, entries.Reverse(), new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" });
        Assert.Equal(s1.ToArray(), s2.ToArray());
        var path = TempFile();
        SafeTensors.Write(path, entries, meta);
        Assert.Equal(s1.ToArray(), File.ReadAllBytes(path));
    }

    [Fact]
    public void Float_storage_converts_with_the_documented_rounding()
    {
        var r = new Random(11);
        var values = Enumerable.Range(0, 1000).Select(_ => (float)(r.NextDouble() * 200 - 100)).ToArray();
        var path = TempFile();
        SafeTensors.Write(path,
        [
            SafeTensorEntry.FromSingle("f32", values, [10, 100]),
            SafeTensorEntry.FromSingle("bf16", values, [1000], SafeTensorDType.BF16),
            SafeTensorEntry.FromSingle("f16", values, [1000], SafeTensorDType.F16),
            SafeTensorEntry.FromSingle("f64", values, [1000], SafeTensorDType.F64),
        ]);
        var file = SafeTensors.Read(path);
        Assert.Equal(values, file["f32"].ToSingleArray());
        Assert.Equal(values, file["f64"].ToSingleArray());
        Assert.Equal(values.Select(v => (float)(Half)v), file["f16"].ToSingleArray());
        Assert.Equal(values.Select(v => (float)(BFloat16)v), file["bf16"].ToSingleArray());
        Assert.Equal(values.Select(v => ((BFloat16)v).RawValue), file["bf16"].ToArray<BFloat16>().Select(b => b.RawValue));
        Assert.Equal(values.Select(v => (double)v), file["f64"].ToArray<double>());
        // The relative error of bf16 storage is bounded by half a unit in the 8th bit.
        var bf = file["bf16"].ToSingleArray();
        for (int i = 0; i < values.Length; i++) Assert.True(Math.Abs(bf[i] - values[i]) <= Math.Abs(values[i]) * Math.Pow(2, -8), $"{values[i]} -> {bf[i]}");

        var into = new float[1000];
        into.AsSpan().Fill(float.NaN);
        file["bf16"].CopyToSingle(into);
        Assert.Equal(bf, into);
        Assert.Throws<ArgumentException>(() => file["bf16"].CopyToSingle(new float[999]));
    }

    [Fact]
    public void Typed_arrays_round_trip_and_mismatched_types_are_refused()
    {
        var path = TempFile();
        long[] ids = [-(1L << 62), -1, 0, 1L << 40];
        SafeTensors.Write(path,
        [
            SafeTensorEntry.FromArray<long>("ids", ids, [2, 2]),
            SafeTensorEntry.FromArray<bool>("mask", [true, false, true], [3]),
            SafeTensorEntry.FromArray<Half>("h", [(Half)1.5f], []),
        ]);
        var file = SafeTensors.Read(path);
        Assert.Equal(SafeTensorDType.I64, file["ids"].DType);
        Assert.Equal(ids, file["ids"].ToArray<long>());
        Assert.Equal([true, false, true], file["mask"].ToArray<bool>());
        Assert.Equal(1.5f, file["h"].ToSingleArray().Single());
        var wrongType = Assert.Throws<InvalidOperationException>(() => file["ids"].ToArray<int>());
        Assert.Contains("I64", wrongType.Message);
        var notFloat = Assert.Throws<InvalidOperationException>(() => file["ids"].ToSingleArray());
        Assert.Contains("ToArray", notFloat.Message);
        Assert.Throws<NotSupportedException>(() => SafeTensorDTypeInfo.Of<decimal>());
    }

    [Fact]
    public void Lookups_name_the_file_and_suggest_near_names()
    {
        var path = TempFile();
        SafeTensors.Write(path,
        [
            SafeTensorEntry.FromSingle("transformer.h.0.attn.c_q.weight", [1], [1]),
            SafeTensorEntry.FromSingle("transformer.h.0.attn.c_k.weight", [1], [1]),
            SafeTensorEntry.FromSingle("lm_head.weight", [1], [1]),
        ]);
        var file = SafeTensors.Read(path);
        var e = Assert.Throws<KeyNotFoundException>(() => file["transformer.h.0.attn.c_v.weight"]);
        Assert.Contains(path, e.Message);
        Assert.Contains("transformer.h.0.attn.c_v.weight", e.Message);
        Assert.True(e.Message.IndexOf("c_k.weight", StringComparison.Ordinal) < e.Message.IndexOf("lm_head", StringComparison.Ordinal),
            "names sharing the longest prefix come first: " + e.Message);
        Assert.True(file.TryGet("lm_head.weight", out var head));
        Assert.Equal("lm_head.weight", head.Name);
        Assert.False(file.TryGet("nope", out _));
        Assert.True(file.Contains("lm_head.weight"));
        Assert.Equal(3, file.Names.Count);
    }

    [Fact]
    public void Bad_entries_are_refused_when_made_or_written()
    {
        var wrongBytes = Assert.Throws<ArgumentException>(() => new SafeTensorEntry("w", SafeTensorDType.F32, [2, 3], new byte[20]));
        Assert.Contains("24", wrongBytes.Message);
        Assert.Throws<ArgumentException>(() => new SafeTensorEntry("w", SafeTensorDType.F32, [-1], Array.Empty<byte>()));
        Assert.Throws<ArgumentException>(() => new SafeTensorEntry("__metadata__", SafeTensorDType.F32, [], new byte[4]));
        Assert.Throws<ArgumentException>(() => new SafeTensorEntry("", SafeTensorDType.F32, [], new byte[4]));
        Assert.Throws<ArgumentException>(() => SafeTensorEntry.FromSingle("w", [1f, 2f], [3]));
        Assert.Throws<ArgumentException>(() => SafeTensorEntry.FromSingle("w", [1f], [1], SafeTensorDType.I32));

        var path = TempFile();
        var dup = Assert.Throws<ArgumentException>(() => SafeTensors.Write(path,
            [SafeTensorEntry.FromSingle("w", [1f], [1]), SafeTensorEntry.FromSingle("w", [2f], [1])]));
        Assert.Contains("'w'", dup.Message);
        Assert.False(File.Exists(path));

        // The shape given to an entry is copied, and the one handed out is a copy too.
        long[] shape = [2];
        var entry = SafeTensorEntry.FromSingle("w", [1f, 2f], shape);
        shape[0] = 99;
        entry.Shape[0] = 77;
        Assert.Equal([2L], entry.Shape);
    }

    [Fact]
    public void Dtype_names_are_the_formats_and_parse_strictly()
    {
        foreach (var d in Enum.GetValues<SafeTensorDType>())
        {
            Assert.True(SafeTensorDTypeInfo.TryParse(d.Name(), out var back));
            Assert.Equal(d, back);
            Assert.InRange(d.SizeOf(), 1, 8);
        }
        Assert.Equal("BF16", SafeTensorDType.BF16.Name());
        Assert.Equal(2, SafeTensorDType.BF16.SizeOf());
        Assert.Equal(8, SafeTensorDType.I64.SizeOf());
        Assert.Equal(1, SafeTensorDType.BOOL.SizeOf());
        foreach (var bad in new[] { "f32", "9", "F32, I8", " F32", "FLOAT", "", null })
            Assert.False(SafeTensorDTypeInfo.TryParse(bad, out _), bad ?? "null");
    }
}
