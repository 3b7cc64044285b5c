using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using Engine.IO;

namespace Engine.Data;

/// <summary>
/// A file of token ids: a 32-byte header (magic <c>ENGTOKS1</c>, bytes per token, vocabulary size,
/// token count) then the ids, little-endian, as uint16 when the vocabulary fits in 16 bits, else
/// uint32. Read through a memory map, so a shard larger than RAM costs only the pages a batch touches.
/// </summary>
public sealed class TokenShard : IDisposable
{
    private const int HeaderBytes = 32;
    private static readonly byte[] Magic = "ENGTOKS1"u8.ToArray();

    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;

    private TokenShard(string path, MemoryMappedFile file, MemoryMappedViewAccessor view, int tokenBytes, int vocabSize, long count)
    {
        Path = path;
        _file = file;
        _view = view;
        TokenBytes = tokenBytes;
        VocabSize = vocabSize;
        Count = count;
    }

    /// <summary>Where the shard lives.</summary>
    public string Path { get; }
    /// <summary>2 (uint16) or 4 (uint32).</summary>
    public int TokenBytes { get; }
    /// <summary>The vocabulary the ids index.</summary>
    public int VocabSize { get; }
    /// <summary>Tokens in the shard.</summary>
    public long Count { get; }

    /// <summary>Writes <paramref name="tokens"/> as a shard, atomically; every id must be below <paramref name="vocabSize"/>.</summary>
    public static void Write(string path, ReadOnlySpan<int> tokens, int vocabSize)
    {
        if (vocabSize <= 0) throw new ArgumentOutOfRangeException(nameof(vocabSize), vocabSize, "The vocabulary size must be positive.");
        for (int i = 0; i < tokens.Length; i++)
            if ((uint)tokens[i] >= (uint)vocabSize)
                throw new ArgumentOutOfRangeException(nameof(tokens), tokens[i], $"Token id {tokens[i]} at position {i} is out of range for a vocabulary of {vocabSize}.");
        int width = vocabSize <= 65536 ? 2 : 4;
        var bytes = new byte[HeaderBytes + (long)tokens.Length * width];
        Magic.CopyTo(bytes, 0);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), width);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(12), vocabSize);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(16), tokens.Length);
        var body = bytes.AsSpan(HeaderBytes);
        if (width == 2)
            for (int i = 0; i < tokens.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(body[(2 * i)..], (ushort)tokens[i]);
        else
            for (int i = 0; i < tokens.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(body[(4 * i)..], tokens[i]);
        AtomicFile.WriteAllBytes(path, bytes);
    }

    /// <summary>Opens a shard; a truncated or foreign file gets an <see cref="InvalidDataException"/> that says which.</summary>
    public static TokenShard Open(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"Token shard '{path}' does not exist.", path);
        if (info.Length < HeaderBytes) throw new InvalidDataException($"'{path}' is not a token shard: {info.Length} bytes is shorter than the {HeaderBytes}-byte header.");
        Span<byte> header = stackalloc byte[HeaderBytes];
        using (var s = File.OpenRead(path)) s.ReadExactly(header);
        if (!header[..8].SequenceEqual(Magic)) throw new InvalidDataException($"'{path}' is not a token shard (no ENGTOKS1 magic).");
        int width = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
        int vocab = BinaryPrimitives.ReadInt32LittleEndian(header[12..]);
        long count = BinaryPrimitives.ReadInt64LittleEndian(header[16..]);
        if (width is not (2 or 4) || vocab <= 0 || count < 0)
            throw new InvalidDataException($"'{path}' has a corrupt header (token width {width}, vocabulary {vocab}, count {count}).");
        if (info.Length != HeaderBytes + count * width)
            throw new InvalidDataException($"'{path}' is truncated or padded: the header promises {count} tokens ({HeaderBytes + count * width} bytes) but the file has {info.Length} bytes.");
        var file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        var view = file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        return new TokenShard(path, file, view, width, vocab, count);
    }

    /// <summary>Copies tokens [<paramref name="start"/>, start + destination.Length) into <paramref name="destination"/>.</summary>
    public void Read(long start, Span<long> destination)
    {
        if (start < 0 || start + destination.Length > Count)
            throw new ArgumentOutOfRangeException(nameof(start), $"Tokens {start} to {start + destination.Length} are outside '{Path}' ({Count} tokens).");
        for (int i = 0; i < destination.Length; i++)
        {
            long offset = HeaderBytes + (start + i) * TokenBytes;
            destination[i] = TokenBytes == 2 ? _view.ReadUInt16(offset) : _view.ReadInt32(offset);
        }
    }

    /// <summary>Unmaps the file.</summary>
    public void Dispose()
    {
        _view.Dispose();
        _file.Dispose();
    }
}
