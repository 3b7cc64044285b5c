using System.Buffers.Binary;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Unicode;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace Engine.IO;

/// <summary>
/// Reads and writes the safetensors format of Hugging Face, which PyTorch and HF tooling load:
/// an 8-byte little-endian header length N, N bytes of UTF-8 JSON
/// (<c>{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ..., "__metadata__": {"k": "v"}}</c>,
/// offsets counted from the first byte after the header), then the tensors' bytes, little-endian,
/// row-major, packed with no gaps and no overlaps.
/// </summary>
/// <remarks>
/// Reading checks every rule of the format and reports a broken file with an
/// <see cref="InvalidDataException"/> that names the file and what is wrong with it. Writing is
/// deterministic (the same tensors give the same bytes) and atomic (see <see cref="AtomicFile"/>).
/// </remarks>
public static class SafeTensors
{
    /// <summary>The header key that holds the file's string-to-string metadata.</summary>
    public const string MetadataKey = "__metadata__";

    /// <summary>The largest header the format allows (the reference reader's limit), in bytes.</summary>
    public const int MaxHeaderBytes = 100_000_000;

    /// <summary>Bytes per element of <paramref name="dtype"/> (same as <see cref="SafeTensorDTypeInfo.SizeOf"/>).</summary>
    public static int SizeOf(SafeTensorDType dtype) => dtype.SizeOf();

    /// <summary>
    /// Writes the tensors and metadata to <paramref name="path"/> atomically: a reader sees the old
    /// file or the complete new one, never a partial write.
    /// </summary>
    /// <remarks>
    /// Tensors are laid out by element size, largest first, then by name (ordinal). With the header
    /// padded with spaces to a multiple of 8 bytes, every tensor then starts at a multiple of its
    /// element size, so readers can view the data in place; the same inputs always give the same bytes.
    /// The header lists the tensors in that same order, after <c>__metadata__</c> (sorted by key).
    /// </remarks>
    /// <param name="path">The file to create or replace; its folder is created if missing.</param>
    /// <param name="tensors">The tensors; names must be unique.</param>
    /// <param name="metadata">Optional strings stored under <c>__metadata__</c>.</param>
    /// <exception cref="ArgumentException">Two tensors share a name, or the header would exceed <see cref="MaxHeaderBytes"/>.</exception>
    public static void Write(string path, IEnumerable<SafeTensorEntry> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var (header, ordered) = Prepare(tensors, metadata);
        AtomicFile.Write(path, stream => WriteTo(stream, header, ordered));
    }

    /// <summary>Writes the same bytes as <see cref="Write(string, IEnumerable{SafeTensorEntry}, IReadOnlyDictionary{string, string}?)"/> to a stream.</summary>
    /// <exception cref="ArgumentException">Two tensors share a name, or the header would exceed <see cref="MaxHeaderBytes"/>.</exception>
    public static void Write(Stream destination, IEnumerable<SafeTensorEntry> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var (header, ordered) = Prepare(tensors, metadata);
        WriteTo(destination, header, ordered);
    }

    /// <summary>
    /// Reads a safetensors file. Each tensor's bytes are read into an array of their own, so files
    /// larger than 2 GiB are fine as long as no single tensor is.
    /// </summary>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">The file breaks the format; the message says how.</exception>
    /// <exception cref="NotSupportedException">One tensor holds more bytes than a .NET array can.</exception>
    public static SafeTensorFile Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Safetensors file '{path}' does not exist.", path);
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        long length = RandomAccess.GetLength(handle);
        Span<byte> prefix = stackalloc byte[8];
        int got = RandomAccess.Read(handle, prefix, 0);
        int headerLength = CheckHeaderLength(prefix[..got], length, path);
        var headerBytes = new byte[headerLength];
        ReadExactly(handle, headerBytes, 8, path);
        long dataStart = 8L + headerLength;
        var (infos, metadata) = ParseHeader(headerBytes, length - dataStart, path);
        var entries = new List<SafeTensorEntry>(infos.Count);
        foreach (var t in infos)
        {
            long size = t.End - t.Begin;
            if (size > Array.MaxLength)
                throw new NotSupportedException(
                    $"'{path}': tensor '{t.Name}' holds {size} bytes, more than one .NET array can ({Array.MaxLength}); split it into smaller tensors.");
            var data = GC.AllocateUninitializedArray<byte>((int)size);
            ReadExactly(handle, data, dataStart + t.Begin, path);
            entries.Add(new SafeTensorEntry(t.Name, t.DType, t.Shape, data));
        }
        return new SafeTensorFile(path, entries, metadata);
    }

    /// <summary>
    /// Parses the bytes of a whole safetensors file. The entries' <see cref="SafeTensorEntry.Data"/>
    /// are slices of <paramref name="bytes"/>, not copies.
    /// </summary>
    /// <param name="bytes">The file's contents.</param>
    /// <param name="sourceName">What to call the file in messages and in <see cref="SafeTensorFile.Source"/>.</param>
    /// <exception cref="InvalidDataException">The bytes break the format; the message says how.</exception>
    public static SafeTensorFile Read(ReadOnlyMemory<byte> bytes, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(sourceName);
        int headerLength = CheckHeaderLength(bytes.Span[..Math.Min(8, bytes.Length)], bytes.Length, sourceName);
        int dataStart = 8 + headerLength;
        var (infos, metadata) = ParseHeader(bytes.Span.Slice(8, headerLength), bytes.Length - dataStart, sourceName);
        var entries = infos.Select(t => new SafeTensorEntry(t.Name, t.DType, t.Shape, bytes.Slice(dataStart + (int)t.Begin, (int)(t.End - t.Begin)))).ToList();
        return new SafeTensorFile(sourceName, entries, metadata);
    }

    /// <summary>Formats a number for metadata so that it parses back to the same double.</summary>
    public static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private readonly record struct TensorInfo(string Name, SafeTensorDType DType, long[] Shape, long Begin, long End);

    private static InvalidDataException Bad(string source, string why) => new($"'{source}' is not a valid safetensors file: {why}");

    /// <summary>Validates the 8-byte length prefix against the file's size and returns the header length.</summary>
    private static int CheckHeaderLength(ReadOnlySpan<byte> prefix, long fileLength, string source)
    {
        RequireLittleEndian();
        if (prefix.Length < 8 || fileLength < 8)
            throw Bad(source, $"it has {fileLength} bytes, fewer than the 8-byte header length that starts every safetensors file (empty or truncated).");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n > (ulong)(fileLength - 8))
            throw Bad(source, $"truncated or corrupt: the header says {n} bytes, but the file has {fileLength} bytes, only {fileLength - 8} after the 8-byte length.");
        if (n > MaxHeaderBytes)
            throw Bad(source, $"the header says {n} bytes, more than the format's limit of {MaxHeaderBytes} (corrupt, or not a safetensors file).");
        if (n < 2)
            throw Bad(source, $"the header says {n} bytes, too few for even an empty JSON object '{{}}'.");
        return (int)n;
    }

    /// <summary>
    /// Parses and checks the JSON header against a data section of <paramref name="dataLength"/>
    /// bytes; returns the tensors sorted by their offsets, and the metadata.
    /// </summary>
    private static (List<TensorInfo> Tensors, Dictionary<string, string> Metadata) ParseHeader(ReadOnlySpan<byte> header, long dataLength, string source)
    {
        if (!Utf8.IsValid(header))
        {
            Utf8.ToUtf16(header, new char[header.Length], out int valid, out _, replaceInvalidSequences: false);
            throw Bad(source, $"the header is not valid UTF-8 (bad byte at file offset {8 + valid}).");
        }
        JsonDocument doc;
        try
        {
            var reader = new Utf8JsonReader(header, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, AllowTrailingCommas = false });
            doc = JsonDocument.ParseValue(ref reader);
            // ParseValue stops after the first value; only the spaces used as padding may follow it.
            foreach (var b in header[(int)reader.BytesConsumed..])
            {
                if (b is not ((byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r'))
                {
                    doc.Dispose();
                    throw Bad(source, $"the header has bytes after its JSON object (at file offset {8 + reader.BytesConsumed}); only space padding may follow it.");
                }
            }
        }
        catch (JsonException e)
        {
            throw Bad(source, $"the header is not valid JSON ({e.Message}).");
        }

        using (doc)
        {
            try
            {
                return CheckHeader(doc.RootElement, dataLength, source);
            }
            catch (InvalidOperationException e)
            {
                // System.Text.Json's own complaints about text it cannot decode (e.g. an escaped lone surrogate).
                throw Bad(source, $"the header has text that cannot be decoded ({e.Message}).");
            }
        }
    }

    private static (List<TensorInfo> Tensors, Dictionary<string, string> Metadata) CheckHeader(JsonElement root, long dataLength, string source)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw Bad(source, $"the header is a JSON {root.ValueKind.ToString().ToLowerInvariant()}, not an object of tensors.");
        var tensors = new List<TensorInfo>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        Dictionary<string, string>? metadata = null;
        foreach (var prop in root.EnumerateObject())
        {
            if (prop.Name == MetadataKey)
            {
                if (metadata is not null) throw Bad(source, $"'{MetadataKey}' appears twice in the header.");
                metadata = ParseMetadata(prop.Value, source);
                continue;
            }
            if (!names.Add(prop.Name)) throw Bad(source, $"tensor '{prop.Name}' appears twice in the header.");
            tensors.Add(ParseTensor(prop.Name, prop.Value, dataLength, source));
        }

        // The data section must be tiled exactly: sorted by offset, each tensor starts where the
        // previous one ended, the first at 0 and the last at the end of the file.
        tensors.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long covered = 0;
        TensorInfo? previous = null;
        foreach (var t in tensors)
        {
            if (t.Begin < covered)
                throw Bad(source, $"tensor '{t.Name}' (data_offsets [{t.Begin}, {t.End}]) overlaps tensor '{previous!.Value.Name}' ([{previous.Value.Begin}, {previous.Value.End}]).");
            if (t.Begin > covered)
                throw Bad(source, previous is null
                    ? $"the first {t.Begin} data bytes belong to no tensor (the first tensor, '{t.Name}', starts at {t.Begin}, not 0)."
                    : $"the {t.Begin - covered} data bytes between tensor '{previous.Value.Name}' (ends at {covered}) and tensor '{t.Name}' (starts at {t.Begin}) belong to no tensor.");
            covered = t.End;
            previous = t;
        }
        if (covered != dataLength)
            throw Bad(source, $"the tensors cover {covered} of the {dataLength} data bytes; the last {dataLength - covered} bytes belong to no tensor (corrupt, or data appended after writing).");
        return (tensors, metadata ?? new Dictionary<string, string>(StringComparer.Ordinal));
    }

    private static Dictionary<string, string> ParseMetadata(JsonElement value, string source)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        if (value.ValueKind == JsonValueKind.Null) return metadata;
        if (value.ValueKind != JsonValueKind.Object)
            throw Bad(source, $"'{MetadataKey}' is a JSON {value.ValueKind.ToString().ToLowerInvariant()}; it must be an object of strings.");
        foreach (var m in value.EnumerateObject())
        {
            if (m.Value.ValueKind != JsonValueKind.String)
                throw Bad(source, $"metadata '{m.Name}' is a JSON {m.Value.ValueKind.ToString().ToLowerInvariant()}; metadata values must be strings.");
            if (!metadata.TryAdd(m.Name, m.Value.GetString()!))
                throw Bad(source, $"metadata key '{m.Name}' appears twice.");
        }
        return metadata;
    }

    private static TensorInfo ParseTensor(string name, JsonElement v, long dataLength, string source)
    {
        if (v.ValueKind != JsonValueKind.Object)
            throw Bad(source, $"tensor '{name}' is described by a JSON {v.ValueKind.ToString().ToLowerInvariant()}; it must be an object with \"dtype\", \"shape\" and \"data_offsets\".");
        if (!v.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw Bad(source, $"tensor '{name}' has no \"dtype\" string.");
        if (!SafeTensorDTypeInfo.TryParse(dt.GetString(), out var dtype))
            throw Bad(source, $"tensor '{name}' has unknown dtype '{dt.GetString()}'; known dtypes are {string.Join(", ", Enum.GetValues<SafeTensorDType>().Select(d => d.Name()))}.");
        var shape = Integers(v, "shape", null);
        var offsets = Integers(v, "data_offsets", 2);
        long begin = offsets[0], end = offsets[1];
        long count = SafeTensorEntry.CountElements(shape, out var error);
        if (error is not null) throw Bad(source, $"tensor '{name}': {error}");
        long bytes = count * dtype.SizeOf();
        if (end < begin)
            throw Bad(source, $"tensor '{name}' has data_offsets [{begin}, {end}] that end before they begin.");
        if (end - begin != bytes)
            throw Bad(source, $"tensor '{name}' ({dtype.Name()}, shape {SafeTensorEntry.FormatShape(shape)}) needs {count} x {dtype.SizeOf()} = {bytes} bytes, but its data_offsets [{begin}, {end}] span {end - begin}.");
        if (end > dataLength)
            throw Bad(source, $"tensor '{name}' has data_offsets [{begin}, {end}] past the end of the {dataLength} data bytes (truncated or corrupt).");
        return new TensorInfo(name, dtype, shape, begin, end);

        long[] Integers(JsonElement obj, string key, int? length)
        {
            if (!obj.TryGetProperty(key, out var arr) || arr.ValueKind != JsonValueKind.Array)
                throw Bad(source, $"tensor '{name}' has no \"{key}\" array.");
            if (length is int n && arr.GetArrayLength() != n)
                throw Bad(source, $"tensor '{name}' has a \"{key}\" of {arr.GetArrayLength()} numbers; it must have {n}.");
            var result = new long[arr.GetArrayLength()];
            int i = 0;
            foreach (var e in arr.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt64(out var x) || x < 0)
                    throw Bad(source, $"tensor '{name}' has \"{key}\" {arr.GetRawText()}; it must hold non-negative integers.");
                result[i++] = x;
            }
            return result;
        }
    }

    private static (byte[] Header, List<SafeTensorEntry> Ordered) Prepare(IEnumerable<SafeTensorEntry> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        RequireLittleEndian();
        ArgumentNullException.ThrowIfNull(tensors);
        var ordered = tensors.ToList();
        if (ordered.Any(t => t is null)) throw new ArgumentException("The tensors include a null entry.", nameof(tensors));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in ordered)
            if (!seen.Add(t.Name)) throw new ArgumentException($"Tensor name '{t.Name}' appears twice; safetensors names must be unique.", nameof(tensors));
        ordered.Sort((a, b) =>
        {
            int bySize = b.DType.SizeOf().CompareTo(a.DType.SizeOf());
            return bySize != 0 ? bySize : string.CompareOrdinal(a.Name, b.Name);
        });

        using var buffer = new MemoryStream();
        // Relaxed escaping keeps non-ASCII names readable in the header; the output is still plain JSON.
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (k, v) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                {
                    if (k is null || v is null) throw new ArgumentException("Metadata keys and values must not be null.", nameof(metadata));
                    json.WriteString(k, v);
                }
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in ordered)
            {
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", t.DType.Name());
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
        while (buffer.Length % 8 != 0) buffer.WriteByte((byte)' ');
        if (buffer.Length > MaxHeaderBytes)
            throw new ArgumentException($"The header would be {buffer.Length} bytes, over the format's limit of {MaxHeaderBytes}; write the tensors into several files.", nameof(tensors));
        return (buffer.ToArray(), ordered);
    }

    private static void WriteTo(Stream stream, byte[] header, List<SafeTensorEntry> ordered)
    {
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        stream.Write(length);
        stream.Write(header);
        foreach (var t in ordered) stream.Write(t.Data.Span);
    }

    private static void ReadExactly(SafeFileHandle handle, Span<byte> destination, long offset, string source)
    {
        while (destination.Length > 0)
        {
            int n = RandomAccess.Read(handle, destination, offset);
            if (n == 0) throw Bad(source, $"the file ended at byte {offset} while reading it; was it changed or truncated while being read?");
            destination = destination[n..];
            offset += n;
        }
    }

    private static void RequireLittleEndian()
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("Safetensors data is little-endian and this reader/writer does not byte-swap; big-endian hosts are not supported.");
    }
}
