using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Engine.Numerics;

namespace Engine.IO;

/// <summary>Element types of the safetensors format, under the format's own names.</summary>
public enum SafeTensorDType
{
    /// <summary>Boolean, one byte.</summary>
    BOOL,
    /// <summary>Unsigned 8-bit integer.</summary>
    U8,
    /// <summary>Signed 8-bit integer.</summary>
    I8,
    /// <summary>Signed 16-bit integer.</summary>
    I16,
    /// <summary>Unsigned 16-bit integer.</summary>
    U16,
    /// <summary>IEEE half precision.</summary>
    F16,
    /// <summary>Brain float 16.</summary>
    BF16,
    /// <summary>Signed 32-bit integer.</summary>
    I32,
    /// <summary>Unsigned 32-bit integer.</summary>
    U32,
    /// <summary>IEEE single precision.</summary>
    F32,
    /// <summary>Signed 64-bit integer.</summary>
    I64,
    /// <summary>Unsigned 64-bit integer.</summary>
    U64,
    /// <summary>IEEE double precision.</summary>
    F64,
}

/// <summary>One named tensor of a safetensors file: dtype, shape and little-endian row-major bytes.</summary>
public sealed class SafeTensorEntry
{
    /// <summary>Creates an entry; the byte count must match the shape and dtype.</summary>
    public SafeTensorEntry(string name, SafeTensorDType dtype, long[] shape, ReadOnlyMemory<byte> data)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        DType = dtype;
        Shape = shape;
        Data = data;
        long expected = ElementCount * SafeTensors.SizeOf(dtype);
        if (data.Length != expected)
            throw new ArgumentException($"Tensor '{name}' of shape [{string.Join(", ", shape)}] and dtype {dtype} needs {expected} bytes, got {data.Length}.");
    }

    /// <summary>The tensor's name.</summary>
    public string Name { get; }
    /// <summary>The element type.</summary>
    public SafeTensorDType DType { get; }
    /// <summary>The dimensions (empty for a scalar).</summary>
    public long[] Shape { get; }
    /// <summary>The raw bytes.</summary>
    public ReadOnlyMemory<byte> Data { get; }
    /// <summary>The number of elements.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>The values converted to float (F32, F64, F16 and BF16 entries).</summary>
    public float[] ToSingleArray()
    {
        var bytes = Data.Span;
        switch (DType)
        {
            case SafeTensorDType.F32: return MemoryMarshal.Cast<byte, float>(bytes).ToArray();
            case SafeTensorDType.F64: return Array.ConvertAll(MemoryMarshal.Cast<byte, double>(bytes).ToArray(), d => (float)d);
            case SafeTensorDType.F16: return Array.ConvertAll(MemoryMarshal.Cast<byte, Half>(bytes).ToArray(), h => (float)h);
            case SafeTensorDType.BF16:
                {
                    var result = new float[ElementCount];
                    BFloat16.ConvertToSingle(MemoryMarshal.Cast<byte, BFloat16>(bytes), result);
                    return result;
                }
            default:
                throw new InvalidOperationException($"Tensor '{Name}' holds {DType} values, not floating point.");
        }
    }

    /// <summary>An entry holding <paramref name="data"/>, stored as F32 or (rounded) BF16.</summary>
    public static SafeTensorEntry FromSingle(string name, float[] data, long[] shape, SafeTensorDType storeAs = SafeTensorDType.F32)
    {
        switch (storeAs)
        {
            case SafeTensorDType.F32:
                return new SafeTensorEntry(name, storeAs, shape, MemoryMarshal.AsBytes(data.AsSpan()).ToArray());
            case SafeTensorDType.BF16:
                {
                    var bf = new BFloat16[data.Length];
                    BFloat16.ConvertFromSingle(data, bf);
                    return new SafeTensorEntry(name, storeAs, shape, MemoryMarshal.AsBytes(bf.AsSpan()).ToArray());
                }
            default:
                throw new ArgumentException($"Floats are stored as F32 or BF16, not {storeAs}.", nameof(storeAs));
        }
    }
}

/// <summary>The tensors and metadata of one safetensors file.</summary>
public sealed class SafeTensorFile
{
    internal SafeTensorFile(string source, Dictionary<string, SafeTensorEntry> tensors, Dictionary<string, string> metadata)
    {
        Source = source;
        Tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>Where the file came from (for messages).</summary>
    public string Source { get; }
    /// <summary>The tensors by name.</summary>
    public IReadOnlyDictionary<string, SafeTensorEntry> Tensors { get; }
    /// <summary>The <c>__metadata__</c> strings.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The tensor called <paramref name="name"/>; a missing name lists some that exist.</summary>
    public SafeTensorEntry this[string name] => Tensors.TryGetValue(name, out var e) ? e
        : throw new KeyNotFoundException($"'{Source}' has no tensor '{name}'. It has {Tensors.Count}, e.g. {string.Join(", ", Tensors.Keys.Order().Take(5))}.");
}

/// <summary>
/// Reads and writes the safetensors format: an 8-byte little-endian header length N, N bytes of
/// UTF-8 JSON (<c>{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}</c>,
/// offsets relative to the end of the header), then the tensors' bytes, row-major, little-endian.
/// </summary>
public static class SafeTensors
{
    private const long MaxHeaderBytes = 100 << 20;

    /// <summary>Bytes per element of <paramref name="dtype"/>.</summary>
    public static int SizeOf(SafeTensorDType dtype) => dtype switch
    {
        SafeTensorDType.BOOL or SafeTensorDType.U8 or SafeTensorDType.I8 => 1,
        SafeTensorDType.I16 or SafeTensorDType.U16 or SafeTensorDType.F16 or SafeTensorDType.BF16 => 2,
        SafeTensorDType.I32 or SafeTensorDType.U32 or SafeTensorDType.F32 => 4,
        _ => 8,
    };

    /// <summary>
    /// Writes the tensors (sorted by name, for reproducible files) and metadata to <paramref name="path"/>
    /// atomically. The header is padded with spaces to a multiple of 8 bytes.
    /// </summary>
    public static void Write(string path, IEnumerable<SafeTensorEntry> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.OrderBy(t => t.Name, StringComparer.Ordinal).ToList();
        var dup = list.GroupBy(t => t.Name).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new ArgumentException($"Tensor name '{dup.Key}' appears twice.");
        using var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) json.WriteString(k, v);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in list)
            {
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", t.DType.ToString());
                json.WriteStartArray("shape");
                foreach (var d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + t.Data.Length);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += t.Data.Length;
            }
            json.WriteEndObject();
        }
        int pad = (int)((8 - header.Length % 8) % 8);
        for (int i = 0; i < pad; i++) header.WriteByte((byte)' ');
        AtomicFile.Write(path, stream =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
            stream.Write(len);
            header.Position = 0;
            header.CopyTo(stream);
            foreach (var t in list) stream.Write(t.Data.Span);
        });
    }

    /// <summary>Reads a file; a truncated or malformed file gets an <see cref="InvalidDataException"/> that says what is wrong.</summary>
    public static SafeTensorFile Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Safetensors file '{path}' does not exist.", path);
        return Read(File.ReadAllBytes(path), path);
    }

    /// <summary>Parses the bytes of a safetensors file; <paramref name="sourceName"/> names it in messages.</summary>
    public static SafeTensorFile Read(ReadOnlyMemory<byte> bytes, string sourceName)
    {
        InvalidDataException Bad(string why) => new($"'{sourceName}' is not a valid safetensors file: {why}");
        if (bytes.Length < 8) throw Bad($"it has {bytes.Length} bytes, fewer than the 8-byte header length (truncated or empty).");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes.Span);
        if (headerLength > (ulong)Math.Min(MaxHeaderBytes, bytes.Length - 8))
            throw Bad($"the header says it is {headerLength} bytes but the file has only {bytes.Length - 8} after the length (truncated or corrupt).");
        var dataStart = 8 + (int)headerLength;
        var data = bytes[dataStart..];
        JsonDocument doc;
        try { doc = JsonDocument.Parse(bytes.Slice(8, (int)headerLength)); }
        catch (JsonException e) { throw Bad($"the header is not valid JSON ({e.Message})."); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Bad("the header is not a JSON object.");
            var tensors = new Dictionary<string, SafeTensorEntry>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var ranges = new List<(long Begin, long End, string Name)>();
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__")
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object) throw Bad("__metadata__ must be an object of strings.");
                    foreach (var m in prop.Value.EnumerateObject())
                        metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : throw Bad($"metadata '{m.Name}' is not a string.");
                    continue;
                }
                if (tensors.ContainsKey(prop.Name)) throw Bad($"tensor '{prop.Name}' appears twice.");
                var (dtype, shape, begin, end) = ParseInfo(prop, Bad);
                if (begin < 0 || end < begin || end > data.Length)
                    throw Bad($"tensor '{prop.Name}' has data_offsets [{begin}, {end}] outside the {data.Length} data bytes (truncated or corrupt).");
                long count = 1;
                foreach (var d in shape)
                {
                    if (d < 0) throw Bad($"tensor '{prop.Name}' has a negative dimension.");
                    count = checked(count * d);
                }
                if (count * SizeOf(dtype) != end - begin)
                    throw Bad($"tensor '{prop.Name}' ({dtype}, shape [{string.Join(", ", shape)}]) needs {count * SizeOf(dtype)} bytes but its offsets span {end - begin}.");
                ranges.Add((begin, end, prop.Name));
                tensors[prop.Name] = new SafeTensorEntry(prop.Name, dtype, shape, data[(int)begin..(int)end]);
            }
            ranges.Sort();
            long covered = 0;
            foreach (var (b, e, name) in ranges)
            {
                if (b < covered) throw Bad($"tensor '{name}' overlaps the tensor before it.");
                if (b > covered) throw Bad($"there is a gap of {b - covered} bytes before tensor '{name}'.");
                covered = e;
            }
            if (covered != data.Length) throw Bad($"the tensors cover {covered} of the {data.Length} data bytes.");
            return new SafeTensorFile(sourceName, tensors, metadata);
        }
    }

    private static (SafeTensorDType, long[], long, long) ParseInfo(JsonProperty prop, Func<string, InvalidDataException> bad)
    {
        var v = prop.Value;
        if (v.ValueKind != JsonValueKind.Object
            || !v.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String
            || !v.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array
            || !v.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw bad($"tensor '{prop.Name}' needs \"dtype\", \"shape\" and a two-element \"data_offsets\".");
        if (!Enum.TryParse<SafeTensorDType>(dt.GetString(), ignoreCase: false, out var dtype) || !Enum.IsDefined(dtype))
            throw bad($"tensor '{prop.Name}' has unknown dtype '{dt.GetString()}'.");
        try
        {
            var shape = sh.EnumerateArray().Select(e => e.GetInt64()).ToArray();
            return (dtype, shape, off[0].GetInt64(), off[1].GetInt64());
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException)
        {
            throw bad($"tensor '{prop.Name}' has a shape or offsets that are not integers.");
        }
    }

    /// <summary>Formats a number for metadata with round-trip precision.</summary>
    public static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
