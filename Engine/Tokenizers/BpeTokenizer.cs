using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace Engine.Tokenizers;

/// <summary>
/// A byte-level BPE tokenizer in the style of GPT-4 and nanochat: text is cut into pieces by a split
/// pattern, each piece becomes bytes, and the bytes are merged by rank, exactly as tiktoken does, so a
/// tokenizer saved here and loaded into tiktoken (or the reverse) gives the same ids (except around letters and
/// digits outside the Basic Multilingual Plane; see <see cref="SplitPatterns"/>). Ids 0 to
/// <see cref="MergeableCount"/> − 1 are byte sequences (for a trained tokenizer the first 256 are the
/// single bytes, in order); the special tokens follow.
/// </summary>
/// <remarks>
/// <para>Encode and decode are exact inverses on every .NET string, not only well-formed ones:
/// <c>Decode(Encode(s)) == s</c>. Text becomes UTF-8, except that a lone surrogate (which UTF-8 cannot
/// express) becomes the 3-byte form of its code point, as in WTF-8; decoding turns such forms back into
/// the same lone surrogate. A sequence of ids that does not come from an encoding can decode to bytes
/// that are not valid; each maximal invalid subpart decodes to U+FFFD (<see cref="DecodeBytes"/> gives the raw bytes).</para>
/// <para>An instance never changes after construction (apart from an internal cache of encoded pieces) and is safe to use from several threads at once.</para>
/// </remarks>
public sealed partial class BpeTokenizer
{
    /// <summary>Pieces up to this many UTF-16 units have their ids cached: long pieces are rare and would crowd out the common ones.</summary>
    private const int CachedPieceMaxLength = 64;
    private const int CacheCapacity = 1 << 16;

    private readonly byte[][] _tokens;                       // id -> bytes, mergeable ids then specials
    private readonly Dictionary<byte[], int> _ranks;         // bytes -> id, mergeable only
    private readonly Dictionary<byte[], int>.AlternateLookup<ReadOnlySpan<byte>> _rankLookup;
    private readonly int[] _byteIds = new int[256];
    private readonly string[] _specials;
    private readonly Dictionary<string, int> _specialIds;
    private readonly Regex _split;
    private readonly Regex? _specialSplit;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _cacheLookup;
    private int _cacheCount;

    /// <summary>Builds a tokenizer from its vocabulary.</summary>
    /// <param name="mergeableTokens">The byte sequence of each mergeable token, indexed by id (which is also its merge rank). Must hold every single byte and no duplicates.</param>
    /// <param name="specialTokens">Special tokens, given ids <c>mergeableTokens.Count</c>, <c>+1</c>, ... in this order; for example <see cref="ChatTokens.All"/>.</param>
    /// <param name="splitPattern">The .NET regular expression that cuts text into pieces; for example <see cref="SplitPatterns.NanoChat"/>.</param>
    /// <exception cref="ArgumentException">A token is empty or repeated, a single byte has no token, a special token is empty or repeated, or the pattern does not parse.</exception>
    public BpeTokenizer(IReadOnlyList<byte[]> mergeableTokens, IReadOnlyList<string> specialTokens, string splitPattern)
    {
        ArgumentNullException.ThrowIfNull(mergeableTokens);
        ArgumentNullException.ThrowIfNull(specialTokens);
        ArgumentNullException.ThrowIfNull(splitPattern);

        int m = mergeableTokens.Count;
        _tokens = new byte[m + specialTokens.Count][];
        _ranks = new Dictionary<byte[], int>(m, ByteSequenceComparer.Instance);
        Array.Fill(_byteIds, -1);
        for (int id = 0; id < m; id++)
        {
            // A private copy: the caller's arrays could change under the dictionary's keys.
            var bytes = (byte[]?)mergeableTokens[id]?.Clone() ?? throw new ArgumentException($"Token {id} is null.", nameof(mergeableTokens));
            if (bytes.Length == 0) throw new ArgumentException($"Token {id} is empty; every token must be at least one byte.", nameof(mergeableTokens));
            if (!_ranks.TryAdd(bytes, id))
                throw new ArgumentException($"Tokens {_ranks[bytes]} and {id} are the same bytes ({Convert.ToHexString(bytes)}); each byte sequence may have one id only.", nameof(mergeableTokens));
            if (bytes.Length == 1) _byteIds[bytes[0]] = id;
            _tokens[id] = bytes;
        }
        int missing = Array.IndexOf(_byteIds, -1);
        if (missing >= 0)
            throw new ArgumentException($"No token holds the single byte 0x{missing:X2}; a byte-level vocabulary needs all 256 single bytes, or some text could not be encoded.", nameof(mergeableTokens));
        _rankLookup = _ranks.GetAlternateLookup<ReadOnlySpan<byte>>();

        _specials = [.. specialTokens];
        _specialIds = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < _specials.Length; i++)
        {
            var s = _specials[i];
            if (string.IsNullOrEmpty(s)) throw new ArgumentException($"Special token {i} is empty.", nameof(specialTokens));
            if (!_specialIds.TryAdd(s, m + i)) throw new ArgumentException($"Special token '{s}' appears twice.", nameof(specialTokens));
            _tokens[m + i] = Wtf8.GetBytes(s);
        }

        SplitPattern = splitPattern;
        try
        {
            _split = new Regex(splitPattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"The split pattern does not parse as a .NET regular expression: {e.Message}", nameof(splitPattern), e);
        }
        if (_specials.Length > 0)
        {
            // Longest first, so that a special token that begins with another one wins.
            var alternatives = _specials.OrderByDescending(s => s.Length).ThenBy(s => s, StringComparer.Ordinal).Select(Regex.Escape);
            _specialSplit = new Regex(string.Join("|", alternatives), RegexOptions.Compiled | RegexOptions.CultureInvariant);
        }
        _cacheLookup = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>How many ids there are: the mergeable tokens plus the special tokens.</summary>
    public int VocabSize => _tokens.Length;

    /// <summary>How many ids are byte sequences (ids below this); the special tokens take the ids from here on.</summary>
    public int MergeableCount => _ranks.Count;

    /// <summary>The special tokens, in id order (the first has id <see cref="MergeableCount"/>).</summary>
    public IReadOnlyList<string> SpecialTokens => _specials;

    /// <summary>The regular expression that cuts text into pieces before BPE.</summary>
    public string SplitPattern { get; }

    /// <summary>The id of <c>&lt;|bos|&gt;</c>.</summary>
    /// <exception cref="InvalidOperationException">This tokenizer has no <c>&lt;|bos|&gt;</c> token.</exception>
    public int BosId => _specialIds.TryGetValue(ChatTokens.Bos, out int id) ? id
        : throw new InvalidOperationException($"This tokenizer has no {ChatTokens.Bos} token; its special tokens are: {string.Join(", ", _specials)}.");

    /// <summary>Trains a tokenizer on <paramref name="texts"/>, nanochat's way.</summary>
    /// <param name="texts">The training corpus, one document per string; enumerated once, in parallel.</param>
    /// <param name="vocabSize">The size of the whole vocabulary, special tokens included (as in nanochat): 256 bytes, then <c>vocabSize − 256 − specials</c> merges, then the specials.
    /// If the corpus runs out of pairs first, the vocabulary is smaller; <see cref="VocabSize"/> tells.</param>
    /// <param name="specialTokens">The special tokens; <see cref="ChatTokens.All"/> if omitted.</param>
    /// <param name="splitPattern">The split pattern; <see cref="SplitPatterns.NanoChat"/> if omitted.</param>
    /// <remarks>Each merge joins the most frequent adjacent pair of tokens within the pieces; a tie goes to the pair with the
    /// smaller left id, then the smaller right id, so the same corpus always gives the same vocabulary.</remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="vocabSize"/> leaves no room for the 256 bytes and the special tokens.</exception>
    public static BpeTokenizer Train(IEnumerable<string> texts, int vocabSize, IReadOnlyList<string>? specialTokens = null, string? splitPattern = null)
    {
        ArgumentNullException.ThrowIfNull(texts);
        specialTokens ??= ChatTokens.All;
        splitPattern ??= SplitPatterns.NanoChat;
        int merges = vocabSize - 256 - specialTokens.Count;
        if (merges < 0)
            throw new ArgumentOutOfRangeException(nameof(vocabSize), vocabSize,
                $"The vocabulary must hold the 256 bytes and the {specialTokens.Count} special tokens: ask for at least {256 + specialTokens.Count}.");

        // Build the tokenizer first: it validates the pattern and specials before the costly part.
        var empty = new BpeTokenizer(ByteTokens(), specialTokens, splitPattern);
        var pieces = BpeTrainer.CountPieces(texts, empty._split);
        var learned = BpeTrainer.LearnMerges(pieces, merges);
        var all = ByteTokens();
        all.AddRange(learned);
        return new BpeTokenizer(all, specialTokens, splitPattern);
    }

    private static List<byte[]> ByteTokens()
    {
        var list = new List<byte[]>(256);
        for (int b = 0; b < 256; b++) list.Add([(byte)b]);
        return list;
    }

    /// <summary>The id of a special token.</summary>
    /// <exception cref="KeyNotFoundException">No such special token (the message lists the ones there are).</exception>
    public int GetSpecialId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return _specialIds.TryGetValue(token, out int id) ? id
            : throw new KeyNotFoundException($"'{token}' is not a special token of this tokenizer; it has: {string.Join(", ", _specials)}.");
    }

    /// <summary>The id of a special token, if it is one.</summary>
    public bool TryGetSpecialId(string token, out int id) => _specialIds.TryGetValue(token, out id);

    /// <summary>True if <paramref name="id"/> is a special token's id.</summary>
    public bool IsSpecial(int id) => id >= MergeableCount && id < VocabSize;

    /// <summary>The bytes that <paramref name="id"/> stands for (a special token's are its text in UTF-8).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is not in the vocabulary.</exception>
    public ReadOnlySpan<byte> GetTokenBytes(int id)
    {
        CheckId(id);
        return _tokens[id];
    }

    /// <summary>Encodes <paramref name="text"/> to ids.</summary>
    /// <param name="text">Any string, well-formed UTF-16 or not.</param>
    /// <param name="allowSpecial">If true, occurrences of special tokens' text become their single ids; if false (the default, and
    /// the safe choice for untrusted text), they are encoded as ordinary text.</param>
    public int[] Encode(string text, bool allowSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        Encode(text, ids, allowSpecial);
        return [.. ids];
    }

    /// <summary>Encodes many documents at once, on every core; the result's i-th entry is <c>Encode(texts[i], allowSpecial)</c>.</summary>
    /// <param name="texts">The documents.</param>
    /// <param name="allowSpecial">As for <see cref="Encode(string, bool)"/>.</param>
    public int[][] EncodeBatch(IReadOnlyList<string> texts, bool allowSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var result = new int[texts.Count][];
        ParallelErrors.Run(() => Parallel.For(0, texts.Count,
            i => result[i] = Encode(texts[i] ?? throw new ArgumentNullException(nameof(texts), $"Document {i} is null."), allowSpecial)));
        return result;
    }

    /// <summary>Encodes <paramref name="texts"/> (on every core) and counts bytes and tokens, to compare tokenizers on held-out text.</summary>
    /// <param name="texts">The documents; special tokens' text in them counts as ordinary text.</param>
    public CompressionStats MeasureCompression(IEnumerable<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        long bytes = 0, tokens = 0;
        ParallelErrors.Run(() => Parallel.ForEach(texts, () => (0L, 0L), (text, state, local) =>
        {
            if (text is null) throw new ArgumentNullException(nameof(texts), "A document is null.");
            var ids = new List<int>(text.Length / 3 + 4);
            EncodeOrdinary(text, ids);
            long n = 0;
            foreach (int id in ids) n += _tokens[id].Length;
            return (local.Item1 + n, local.Item2 + ids.Count);
        }, local =>
        {
            Interlocked.Add(ref bytes, local.Item1);
            Interlocked.Add(ref tokens, local.Item2);
        }));
        return new CompressionStats(bytes, tokens);
    }

    /// <summary>Encodes <paramref name="text"/>, recognising special tokens' text; the same as <c>Encode(text, allowSpecial: true)</c>,
    /// for rendering chat transcripts that are written with the special tokens inline.</summary>
    public int[] EncodeWithSpecials(string text) => Encode(text, allowSpecial: true);

    /// <summary>Encodes <paramref name="text"/> and appends the ids to <paramref name="output"/>, which lets a caller
    /// build one sequence from many parts (special ids, then text, and so on) without copying.</summary>
    /// <param name="text">Any text.</param>
    /// <param name="output">Where the ids go.</param>
    /// <param name="allowSpecial">As for <see cref="Encode(string, bool)"/>.</param>
    public void Encode(ReadOnlySpan<char> text, List<int> output, bool allowSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (!allowSpecial || _specialSplit == null)
        {
            EncodeOrdinary(text, output);
            return;
        }
        int at = 0;
        foreach (var m in _specialSplit.EnumerateMatches(text))
        {
            EncodeOrdinary(text[at..m.Index], output);
            output.Add(_specialIds.GetAlternateLookup<ReadOnlySpan<char>>()[text.Slice(m.Index, m.Length)]);
            at = m.Index + m.Length;
        }
        EncodeOrdinary(text[at..], output);
    }

    private void EncodeOrdinary(ReadOnlySpan<char> text, List<int> output)
    {
        Span<byte> small = stackalloc byte[Wtf8.MaxByteCount(CachedPieceMaxLength)];
        foreach (var (start, length) in Pieces.Split(text, _split))
        {
            var piece = text.Slice(start, length);
            bool cacheable = length <= CachedPieceMaxLength;
            if (cacheable && _cacheLookup.TryGetValue(piece, out var cached))
            {
                output.AddRange(cached);
                continue;
            }
            var buffer = cacheable ? small : new byte[Wtf8.MaxByteCount(length)];
            int n = Wtf8.Encode(piece, buffer);
            int before = output.Count;
            EncodePiece(buffer[..n], output);
            if (cacheable)
            {
                // Bounded: when full, start over rather than track recency; the common pieces come back within a few documents.
                if (Interlocked.Increment(ref _cacheCount) > CacheCapacity)
                {
                    _cache.Clear();
                    Interlocked.Exchange(ref _cacheCount, 0);
                }
                _cacheLookup.TryAdd(piece, CollectionsMarshal.AsSpan(output)[before..].ToArray());
            }
        }
    }

    /// <summary>Empties the piece cache, so a benchmark can measure encoding from cold.</summary>
    internal void ClearCache()
    {
        _cache.Clear();
        Interlocked.Exchange(ref _cacheCount, 0);
    }

    /// <summary>
    /// tiktoken's rule: start from single bytes, and repeatedly join the adjacent two parts whose joined bytes have the
    /// lowest rank (the leftmost on a tie), until no adjacent join is a token.
    /// </summary>
    private void EncodePiece(ReadOnlySpan<byte> piece, List<int> output)
    {
        if (piece.Length == 1) { output.Add(_byteIds[piece[0]]); return; }
        if (_rankLookup.TryGetValue(piece, out int whole)) { output.Add(whole); return; }
        if (piece.Length > LongPieceBytes) { EncodeLongPiece(piece, output); return; }

        // Short pieces: a scan per join, quadratic but with tiny constants and no allocation.
        int n = piece.Length;
        Span<int> starts = stackalloc int[n + 1];   // part k is piece[starts[k]..starts[k+1]]
        Span<int> ranks = stackalloc int[n];        // ranks[k]: rank of parts k and k+1 joined
        for (int i = 0; i <= n; i++) starts[i] = i;
        int parts = n;
        for (int k = 0; k + 1 < parts; k++) ranks[k] = RankOf(piece, starts, parts, k);

        while (parts > 1)
        {
            int best = -1, bestRank = int.MaxValue;
            for (int k = 0; k + 1 < parts; k++)
                if (ranks[k] < bestRank) { bestRank = ranks[k]; best = k; }
            if (best < 0) break;
            // Join parts best and best+1: drop the boundary between them.
            starts[(best + 2)..(parts + 1)].CopyTo(starts[(best + 1)..]);
            ranks[(best + 2)..parts].CopyTo(ranks[(best + 1)..]);
            parts--;
            if (best + 1 < parts) ranks[best] = RankOf(piece, starts, parts, best);
            if (best > 0) ranks[best - 1] = RankOf(piece, starts, parts, best - 1);
        }
        for (int k = 0; k < parts; k++)
        {
            var part = piece[starts[k]..starts[k + 1]];
            output.Add(part.Length == 1 ? _byteIds[part[0]] : _rankLookup[part]);
        }
    }

    /// <summary>Above this many bytes a piece is encoded with a heap, so that a long run without split points
    /// (a base64 blob, a minified line) costs n log n rather than n².</summary>
    private const int LongPieceBytes = 128;

    /// <summary>The same rule as <see cref="EncodePiece"/>, with the parts in a linked list and the candidate joins in a
    /// min-heap keyed by (rank, position), which pops exactly the join the scan would pick. A part's candidate only
    /// ever grows, so its rank never returns to an old value, and an entry is current iff it matches the part's rank now.</summary>
    private void EncodeLongPiece(ReadOnlySpan<byte> piece, List<int> output)
    {
        int n = piece.Length;
        var next = new int[n];      // part starting at i spans piece[i..next[i]]
        var prev = new int[n];
        var rankAt = new int[n];    // rank of part i joined with the part after it; int.MaxValue if none (or i is gone)
        var heap = new PriorityQueue<int, long>(n);
        for (int i = 0; i < n; i++) { next[i] = i + 1; prev[i] = i - 1; }
        for (int i = 0; i + 1 < n; i++)
        {
            rankAt[i] = _rankLookup.TryGetValue(piece.Slice(i, 2), out int r) ? r : int.MaxValue;
            if (rankAt[i] != int.MaxValue) heap.Enqueue(i, ((long)rankAt[i] << 32) | (uint)i);
        }
        rankAt[n - 1] = int.MaxValue;

        while (heap.TryDequeue(out int i, out long key))
        {
            if (rankAt[i] != (int)(key >> 32)) continue;   // stale: part i changed (or was absorbed) since this entry
            int j = next[i], k = next[j];
            next[i] = k;
            rankAt[j] = int.MaxValue;                       // j is absorbed into i
            if (k < n) prev[k] = i;
            rankAt[i] = k < n ? RankOrMax(piece[i..next[k]]) : int.MaxValue;
            if (rankAt[i] != int.MaxValue) heap.Enqueue(i, ((long)rankAt[i] << 32) | (uint)i);
            int p = prev[i];
            if (p >= 0)
            {
                rankAt[p] = RankOrMax(piece[p..k]);
                if (rankAt[p] != int.MaxValue) heap.Enqueue(p, ((long)rankAt[p] << 32) | (uint)p);
            }
        }
        for (int i = 0; i < n; i = next[i])
        {
            var part = piece[i..next[i]];
            output.Add(part.Length == 1 ? _byteIds[part[0]] : _rankLookup[part]);
        }
    }

    private int RankOrMax(ReadOnlySpan<byte> bytes) => _rankLookup.TryGetValue(bytes, out int r) ? r : int.MaxValue;

    private int RankOf(ReadOnlySpan<byte> piece, ReadOnlySpan<int> starts, int parts, int k)
        => k + 2 <= parts && _rankLookup.TryGetValue(piece[starts[k]..starts[k + 2]], out int r) ? r : int.MaxValue;

    /// <summary>Decodes ids to text; the inverse of <see cref="Encode(string, bool)"/>. Special tokens decode to their text.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is not in the vocabulary (the message names it and the vocabulary size).</exception>
    public string Decode(ReadOnlySpan<int> ids)
    {
        int total = 0;
        foreach (int id in ids) { CheckId(id); total += _tokens[id].Length; }
        byte[]? rented = null;
        Span<byte> bytes = total <= 1024 ? stackalloc byte[total] : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(total));
        try
        {
            int o = 0;
            foreach (int id in ids) { _tokens[id].CopyTo(bytes[o..]); o += _tokens[id].Length; }
            return Wtf8.GetString(bytes[..total]);
        }
        finally
        {
            if (rented != null) System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>The bytes that <paramref name="ids"/> stand for, concatenated: UTF-8 (WTF-8 where the text had lone surrogates)
    /// when the ids came from <see cref="Encode(string, bool)"/>, arbitrary bytes for an arbitrary sequence.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is not in the vocabulary.</exception>
    public byte[] DecodeBytes(ReadOnlySpan<int> ids)
    {
        int total = 0;
        foreach (int id in ids) { CheckId(id); total += _tokens[id].Length; }
        var bytes = new byte[total];
        int o = 0;
        foreach (int id in ids) { _tokens[id].CopyTo(bytes, o); o += _tokens[id].Length; }
        return bytes;
    }

    private void CheckId(int id)
    {
        if ((uint)id >= (uint)_tokens.Length)
            throw new ArgumentOutOfRangeException(nameof(id), id, $"Token id {id} is not in the vocabulary: ids run from 0 to {_tokens.Length - 1} (vocabulary size {_tokens.Length}).");
    }
}
