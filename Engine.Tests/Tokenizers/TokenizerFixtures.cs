using System.Text;
using System.Text.RegularExpressions;
using Engine.Tokenizers;

namespace Engine.Tests.Tokenizers;

/// <summary>Corpora, random strings and slow-but-obvious reference implementations for the tokenizer tests.</summary>
internal static class TokenizerFixtures
{
    private static readonly string[] Words =
    [
        "the", "model", "learns", "token", "tokens", "byte", "pair", "merge", "merges", "encoding", "training", "data",
        "hello", "world", "it's", "we're", "they'll", "I'd", "don't", "GPU", "kernel", "tensor", "attention", "nanochat",
        "über", "naïve", "café", "日本語", "中文", "Москва", "😀", "🚀", "42", "3.14159", "2026", "1000000", "x", "y", "z",
    ];

    private static readonly string[] Syllables =
    [
        "ka", "lo", "mi", "tra", "ven", "sor", "qu", "ex", "ple", "dro", "gan", "ith", "ul", "bre", "zo", "cha", "mpt", "yst",
        "Wa", "Ne", "ō", "ß", "ä", "語", "ть", "ing", "tion", "est", "ly", "re", "un", "ab", "cd",
    ];

    /// <summary>Sentences of the words above with numbers, punctuation and line breaks, the same for a given seed.</summary>
    public static List<string> Corpus(int documents, int seed)
    {
        var r = new Random(seed);
        var docs = new List<string>(documents);
        for (int d = 0; d < documents; d++)
        {
            var sb = new StringBuilder();
            int n = r.Next(5, 60);
            for (int i = 0; i < n; i++)
            {
                if (r.Next(3) == 0)
                    for (int k = r.Next(1, 4); k > 0; k--) sb.Append(Syllables[r.Next(Syllables.Length)]);   // made-up words: many distinct pairs
                else
                    sb.Append(Words[(int)(Math.Pow(r.NextDouble(), 2) * Words.Length)]);   // skewed, like real word frequencies
                int p = r.Next(20);
                sb.Append(p switch { 0 => ", ", 1 => ". ", 2 => "\n", 3 => "  ", 4 => $" {r.Next(100000)} ", 5 => "! ", _ => " " });
            }
            docs.Add(sb.ToString());
        }
        return docs;
    }

    private static readonly Lazy<BpeTokenizer> s_small = new(() => BpeTokenizer.Train(Corpus(400, 1), 256 + 300 + ChatTokens.All.Count));

    /// <summary>A tokenizer trained once on a small corpus (300 merges plus nanochat's specials), shared by tests that only use it.</summary>
    public static BpeTokenizer Small => s_small.Value;

    private static readonly string[] Contractions = ["'s", "'LL", "'ve", "'re", "'d", "'M", "'t"];

    /// <summary>A random string meant to hit every path: ASCII words, digit runs, whitespace runs, punctuation, apostrophes,
    /// accented and CJK letters, emoji (surrogate pairs), lone high and low surrogates, and special tokens' text.</summary>
    public static string RandomString(Random r)
    {
        var sb = new StringBuilder();
        int parts = r.Next(0, 12);
        for (int p = 0; p < parts; p++)
        {
            switch (r.Next(12))
            {
                case 0: for (int i = r.Next(1, 8); i > 0; i--) sb.Append((char)r.Next('a', 'z' + 1)); break;
                case 1: for (int i = r.Next(1, 9); i > 0; i--) sb.Append((char)r.Next('0', '9' + 1)); break;
                case 2: for (int i = r.Next(1, 6); i > 0; i--) sb.Append(" \t\n\r\u00A0\u3000\v\f"[r.Next(8)]); break;
                case 3: sb.Append("!?.,;:'\"()[]{}<>|-_=+*/\\#$%^&~`@"[r.Next(32)]); break;
                case 4: sb.Append(Contractions[r.Next(Contractions.Length)]); break;
                case 5: sb.Append("éüñçßøåÆœ"[r.Next(9)]); break;
                case 6: sb.Append((char)r.Next(0x4E00, 0x9FFF)); break;
                case 7: sb.Append(char.ConvertFromUtf32(r.Next(0x1F300, 0x1FAFF))); break;
                case 8: sb.Append((char)r.Next(0xD800, 0xDC00)); break;   // lone high surrogate (unless a low one happens to follow)
                case 9: sb.Append((char)r.Next(0xDC00, 0xE000)); break;   // lone low surrogate
                case 10: sb.Append(ChatTokens.All[r.Next(ChatTokens.All.Count)]); break;
                default: sb.Append((char)r.Next(0, 0x10000)); break;      // any UTF-16 unit at all
            }
        }
        return sb.ToString();
    }

    /// <summary>tiktoken's encoding rule, written the slow and obvious way: split, take bytes, then repeatedly join the
    /// leftmost adjacent pair whose joined bytes have the lowest rank.</summary>
    public static List<int> ReferenceEncode(BpeTokenizer tok, string text)
    {
        var ranks = new Dictionary<string, int>();
        for (int id = 0; id < tok.MergeableCount; id++) ranks[Convert.ToHexString(tok.GetTokenBytes(id))] = id;
        var ids = new List<int>();
        var split = new Regex(tok.SplitPattern);
        int end = 0;
        var pieces = new List<string>();
        foreach (Match m in split.Matches(text))
        {
            if (m.Length == 0) continue;
            if (m.Index > end) pieces.Add(text[end..m.Index]);
            pieces.Add(m.Value);
            end = m.Index + m.Length;
        }
        if (end < text.Length) pieces.Add(text[end..]);
        foreach (var piece in pieces)
        {
            var parts = ReferenceWtf8(piece).Select(b => new[] { b }).ToList();
            while (true)
            {
                int best = -1, bestRank = int.MaxValue;
                for (int k = 0; k + 1 < parts.Count; k++)
                    if (ranks.TryGetValue(Convert.ToHexString([.. parts[k], .. parts[k + 1]]), out int rk) && rk < bestRank) { bestRank = rk; best = k; }
                if (best < 0) break;
                parts[best] = [.. parts[best], .. parts[best + 1]];
                parts.RemoveAt(best + 1);
            }
            ids.AddRange(parts.Select(p => ranks[Convert.ToHexString(p)]));
        }
        return ids;
    }

    /// <summary>WTF-8 by its definition: code points (a lone surrogate is its own code point), then the generic UTF-8 bit layout.</summary>
    public static byte[] ReferenceWtf8(string s)
    {
        var bytes = new List<byte>();
        for (int i = 0; i < s.Length; i++)
        {
            int cp = s[i];
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) cp = char.ConvertToUtf32(s[i], s[++i]);
            if (cp < 0x80) bytes.Add((byte)cp);
            else if (cp < 0x800) bytes.AddRange([(byte)(0xC0 | cp >> 6), (byte)(0x80 | cp & 0x3F)]);
            else if (cp < 0x10000) bytes.AddRange([(byte)(0xE0 | cp >> 12), (byte)(0x80 | cp >> 6 & 0x3F), (byte)(0x80 | cp & 0x3F)]);
            else bytes.AddRange([(byte)(0xF0 | cp >> 18), (byte)(0x80 | cp >> 12 & 0x3F), (byte)(0x80 | cp >> 6 & 0x3F), (byte)(0x80 | cp & 0x3F)]);
        }
        return [.. bytes];
    }

    /// <summary>BPE training with a full recount of every pair before each merge, and the same tie rule (highest count,
    /// then smallest left id, then smallest right id): the oracle for the incremental trainer.</summary>
    public static List<string> ReferenceTrain(IEnumerable<string> texts, int merges, string pattern)
    {
        var split = new Regex(pattern);
        var counts = new Dictionary<string, long>();
        foreach (var t in texts)
            foreach (Match m in split.Matches(t))
                counts[m.Value] = counts.GetValueOrDefault(m.Value) + 1;
        var words = counts.Select(kv => (Ids: ReferenceWtf8(kv.Key).Select(b => (int)b).ToList(), Count: kv.Value)).ToList();
        var vocab = Enumerable.Range(0, 256).Select(b => new[] { (byte)b }).ToList();
        var learned = new List<string>();
        for (int step = 0; step < merges; step++)
        {
            var pairs = new Dictionary<(int, int), long>();
            foreach (var (ids, c) in words)
                for (int i = 0; i + 1 < ids.Count; i++)
                    pairs[(ids[i], ids[i + 1])] = pairs.GetValueOrDefault((ids[i], ids[i + 1])) + c;
            if (pairs.Count == 0) break;
            var best = pairs.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key.Item1).ThenBy(kv => kv.Key.Item2).First().Key;
            int id = vocab.Count;
            vocab.Add([.. vocab[best.Item1], .. vocab[best.Item2]]);
            learned.Add(Convert.ToHexString(vocab[id]));
            foreach (var (ids, _) in words)
                for (int i = 0; i + 1 < ids.Count; i++)
                    if (ids[i] == best.Item1 && ids[i + 1] == best.Item2) { ids[i] = id; ids.RemoveAt(i + 1); }
        }
        return learned;
    }

    /// <summary>The learned tokens (ids 256 up to the specials) as hex strings.</summary>
    public static List<string> Learned(BpeTokenizer tok)
        => Enumerable.Range(256, tok.MergeableCount - 256).Select(id => Convert.ToHexString(tok.GetTokenBytes(id))).ToList();
}
