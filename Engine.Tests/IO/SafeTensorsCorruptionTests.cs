using System.Buffers.Binary;
using System.Text;
using Engine.IO;

namespace Engine.Tests.IO;

/// <summary>Every way a file can break the format gets an InvalidDataException naming the file and the problem.</summary>
public class SafeTensorsCorruptionTests
{
    /// <summary>A file with the given header text (padded to 8 bytes unless told not to) and that many data bytes.</summary>
    private static byte[] Craft(string json, int dataBytes, bool pad = true) => Craft(Encoding.UTF8.GetBytes(json), dataBytes, pad);

    private static byte[] Craft(byte[] header, int dataBytes, bool pad = true)
    {
        var h = header.ToList();
        while (pad && h.Count % 8 != 0) h.Add((byte)' ');
        return [.. BitConverter.GetBytes((ulong)h.Count), .. h, .. Enumerable.Range(0, dataBytes).Select(i => (byte)i)];
    }

    private static string T(string name, string dtype, string shape, long begin, long end) =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":[{begin},{end}]}}";

    private static byte[] Valid() => Craft("{" + T("a", "F32", "[2]", 0, 8) + "," + T("b", "I64", "[1]", 8, 16) + "}", 16);

    public static TheoryData<string, byte[], string> Corruptions => new()
    {
        { "empty file", [], "fewer than the 8-byte header length" },
        { "five bytes", [1, 2, 3, 4, 5], "fewer than the 8-byte header length" },
        { "header length past the end", WithLength(Valid(), 1UL << 40), "truncated or corrupt: the header says 1099511627776 bytes" },
        { "header length one past the end", WithLength(Valid(), (ulong)Valid().Length - 7), "truncated or corrupt" },
        { "header length zero", WithLength(Valid(), 0), "too few" },
        { "not JSON", Craft("{not json}", 0), "not valid JSON" },
        { "JSON array", Craft("[1, 2]", 0), "not an object" },
        { "bytes after the object", Craft("{}x", 0), "after its JSON object" },
        { "invalid UTF-8", Craft([(byte)'{', (byte)'"', 0xFF, 0xFE, (byte)'"', (byte)':', (byte)'1', (byte)'}'], 0), "not valid UTF-8 (bad byte at file offset 10)" },
        { "lone surrogate escape", Craft("{\"\\ud800\":{}}", 0), "cannot be decoded" },
        { "unknown dtype", Craft("{" + T("a", "Q32", "[2]", 0, 8) + "}", 8), "unknown dtype 'Q32'" },
        { "numeric dtype", Craft("{" + T("a", "9", "[2]", 0, 8) + "}", 8), "unknown dtype '9'" },
        { "lower-case dtype", Craft("{" + T("a", "f32", "[2]", 0, 8) + "}", 8), "unknown dtype 'f32'" },
        { "no dtype", Craft("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "no \"dtype\"" },
        { "no shape", Craft("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8), "no \"shape\" array" },
        { "tensor info not an object", Craft("{\"a\":5}", 0), "must be an object" },
        { "shape disagrees with bytes", Craft("{" + T("a", "F32", "[2,3]", 0, 20) + "}", 20), "needs 6 x 4 = 24 bytes" },
        { "negative dimension", Craft("{" + T("a", "F32", "[-1]", 0, 0) + "}", 0), "non-negative integers" },
        { "fractional dimension", Craft("{" + T("a", "F32", "[1.5]", 0, 4) + "}", 4), "non-negative integers" },
        { "overflowing shape", Craft("{" + T("a", "F32", "[4294967296,4294967296]", 0, 4) + "}", 4), "more elements than any file can hold" },
        { "three offsets", Craft("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8), "must have 2" },
        { "offsets reversed", Craft("{" + T("a", "F32", "[2]", 8, 0) + "}", 8), "end before they begin" },
        { "offsets past the data", Craft("{" + T("a", "F32", "[2]", 0, 8) + "}", 4), "past the end of the 4 data bytes" },
        { "overlapping tensors", Craft("{" + T("a", "F32", "[2]", 0, 8) + "," + T("b", "F32", "[2]", 4, 12) + "}", 12), "overlaps tensor 'a'" },
        { "same range twice", Craft("{" + T("a", "F32", "[2]", 0, 8) + "," + T("b", "F32", "[2]", 0, 8) + "}", 8), "overlaps" },
        { "gap at the start", Craft("{" + T("a", "F32", "[2]", 4, 12) + "}", 12), "the first 4 data bytes belong to no tensor" },
        { "gap between tensors", Craft("{" + T("a", "F32", "[1]", 0, 4) + "," + T("b", "F32", "[1]", 8, 12) + "}", 12), "belong to no tensor" },
        { "trailing bytes", [.. Valid(), 0, 0, 0, 0], "cover 16 of the 20 data bytes" },
        { "truncated data", Valid()[..^3], "past the end" },
        { "duplicate tensor names", Craft("{" + T("a", "F32", "[1]", 0, 4) + "," + T("a", "F32", "[1]", 4, 8) + "}", 8), "tensor 'a' appears twice" },
        { "duplicate metadata", Craft("{\"__metadata__\":{},\"__metadata__\":{}}", 0), "'__metadata__' appears twice" },
        { "metadata value not a string", Craft("{\"__metadata__\":{\"k\":1}}", 0), "metadata values must be strings" },
        { "metadata not an object", Craft("{\"__metadata__\":[1]}", 0), "object of strings" },
        { "duplicate metadata key", Craft("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0), "metadata key 'k' appears twice" },
    };

    private static byte[] WithLength(byte[] file, ulong length)
    {
        var c = (byte[])file.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(c, length);
        return c;
    }

    [Theory]
    [MemberData(nameof(Corruptions))]
    public void Corrupt_files_get_a_clear_InvalidDataException(string what, byte[] bytes, string message)
    {
        var path = SafeTensorsTests.TempFile();
        File.WriteAllBytes(path, bytes);
        var fromFile = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(path));
        Assert.Contains(message, fromFile.Message);
        Assert.Contains(path, fromFile.Message);
        var fromBytes = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(bytes, what));
        Assert.Contains(message, fromBytes.Message);
        Assert.Contains($"'{what}'", fromBytes.Message);
    }

    [Fact]
    public void The_valid_base_of_the_corruptions_reads()
    {
        // So that each corruption above fails for its own reason, not because the base was broken.
        var file = SafeTensors.Read(Valid(), "valid");
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7], file["a"].Data.ToArray());
        Assert.Equal([8, 9, 10, 11, 12, 13, 14, 15], file["b"].Data.ToArray());
    }

    [Fact]
    public void A_header_over_the_format_limit_is_refused()
    {
        var bytes = new byte[8L + SafeTensors.MaxHeaderBytes + 8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)SafeTensors.MaxHeaderBytes + 1);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(bytes, "huge"));
        Assert.Contains("limit of 100000000", e.Message);
    }

    [Fact]
    public void Variants_the_format_allows_are_read()
    {
        // No padding, a pretty-printed header, header keys out of data order, unknown extra fields,
        // null metadata, empty tensors sharing an offset with a full one, a zero-sized file body.
        var pretty = "{\n  \"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8], \"extra\": true},\n"
                   + "  \"e\": {\"dtype\": \"I64\", \"shape\": [0, 7], \"data_offsets\": [4, 4]},\n"
                   + "  \"__metadata__\": null,\n  \"a\": {\"dtype\": \"F32\", \"shape\": [], \"data_offsets\": [0, 4]}\n}";
        foreach (var pad in new[] { false, true })
        {
            var file = SafeTensors.Read(Craft(pretty, 8, pad), "pretty");
            Assert.Equal(["a", "e", "b"], file.Names);
            Assert.Empty(file.Metadata);
            Assert.Equal([0, 1, 2, 3], file["a"].Data.ToArray());
            Assert.Equal([4, 5, 6, 7], file["b"].Data.ToArray());
            Assert.Equal([0L, 7], file["e"].Shape);
        }
        Assert.Equal(0, SafeTensors.Read(Craft("{}", 0, pad: false), "tiny").Count);
    }

    [Fact]
    public void Random_damage_never_escapes_as_anything_but_InvalidDataException()
    {
        var stream = new MemoryStream();
        SafeTensors.Write(stream,
        [
            SafeTensorEntry.FromSingle("w", [1f, 2f, 3f, 4f, 5f, 6f], [2, 3]),
            SafeTensorEntry.FromArray<long>("ids", [1, 2, 3], [3]),
            SafeTensorEntry.FromSingle("s", [7f], []),
        ], new Dictionary<string, string> { ["k"] = "v" });
        var good = stream.ToArray();
        var r = new Random(123);
        int parsed = 0, refused = 0;
        for (int trial = 0; trial < 5000; trial++)
        {
            var bad = (byte[])good.Clone();
            switch (trial % 4)
            {
                case 0: bad[r.Next(bad.Length)] = (byte)r.Next(256); break;                     // any byte
                case 1: bad[r.Next(8, 8 + 40)] = (byte)"0123456789,[]{}\":-. e"[r.Next(21)]; break;   // JSON-ish damage in the header
                case 2: bad = bad[..r.Next(bad.Length)]; break;                                   // truncation
                case 3: BinaryPrimitives.WriteUInt64LittleEndian(bad, (ulong)r.NextInt64(0, 300)); break;   // wrong length
            }
            try
            {
                SafeTensors.Read(bad, "damaged");
                parsed++;
            }
            catch (InvalidDataException e)
            {
                Assert.Contains("'damaged'", e.Message);
                refused++;
            }
        }
        Assert.True(refused > 2500, $"only {refused} of 5000 damaged files were refused");
        Assert.True(parsed > 0, "some damage (e.g. inside tensor data) leaves a valid file");
    }
}
