using System.Text;
using Engine.Tokenizers;

namespace Engine.Tests.Tokenizers;

public class BpeRoundTripTests
{
    [Fact]
    public void Decode_inverts_encode_on_thousands_of_random_strings_including_lone_surrogates()
    {
        var tok = TokenizerFixtures.Small;
        var r = new Random(12345);
        int withLoneSurrogate = 0;
        for (int i = 0; i < 5000; i++)
        {
            var s = TokenizerFixtures.RandomString(r);
            if (HasLoneSurrogate(s)) withLoneSurrogate++;
            var plain = tok.Encode(s);
            Assert.Equal(s, tok.Decode(plain));
            Assert.All(plain, id => Assert.InRange(id, 0, tok.MergeableCount - 1));   // specials are plain text unless allowed
            Assert.Equal(TokenizerFixtures.ReferenceWtf8(s), tok.DecodeBytes(plain));
            var special = tok.Encode(s, allowSpecial: true);
            Assert.Equal(s, tok.Decode(special));
        }
        Assert.True(withLoneSurrogate > 500, $"only {withLoneSurrogate} strings had a lone surrogate");   // the generator does what it claims
    }

    [Fact]
    public void Encode_matches_the_slow_reference_rule_of_tiktoken()
    {
        var tok = TokenizerFixtures.Small;
        var r = new Random(777);
        var corpus = TokenizerFixtures.Corpus(30, seed: 99);   // text like the training text, so that long merges apply
        for (int i = 0; i < 600; i++)
        {
            var s = i < corpus.Count ? corpus[i] : TokenizerFixtures.RandomString(r);
            Assert.Equal(TokenizerFixtures.ReferenceEncode(tok, s), tok.Encode(s));
            Assert.Equal(TokenizerFixtures.ReferenceEncode(tok, s), tok.Encode(s));   // again, now from the piece cache
        }
    }

    [Fact]
    public void Long_pieces_take_the_heap_path_and_still_match_the_reference_rule()
    {
        // Runs of letters with no split point, longer than the short-piece limit (128 bytes), from the corpus's own syllables
        // so that long merges apply, and from a two-letter alphabet so that equal-rank ties are everywhere.
        var tok = TokenizerFixtures.Small;
        var r = new Random(91);
        string[] syllables = ["ka", "lo", "tra", "ven", "ing", "tion", "語", "ß", "a", "b"];
        for (int i = 0; i < 40; i++)
        {
            var sb = new System.Text.StringBuilder();
            int len = r.Next(130, 500);
            while (sb.Length < len) sb.Append(i % 2 == 0 ? syllables[r.Next(syllables.Length)] : "ab"[r.Next(2)].ToString());
            var s = sb.ToString();
            Assert.Equal(TokenizerFixtures.ReferenceEncode(tok, s), tok.Encode(s));
        }
        var huge = string.Concat(Enumerable.Repeat("kalotraven", 30_000));   // one 300,000-byte piece: quadratic would not finish
        Assert.Equal(huge, tok.Decode(tok.Encode(huge)));
    }

    [Fact]
    public void Valid_text_becomes_plain_utf8_and_lone_surrogates_their_wtf8_form()
    {
        var tok = TokenizerFixtures.Small;
        var text = "héllo 日本 😀 <|bos|>";
        Assert.Equal(Encoding.UTF8.GetBytes(text), tok.DecodeBytes(tok.Encode(text)));
        Assert.Equal(new byte[] { 0xED, 0xA0, 0x80 }, tok.DecodeBytes(tok.Encode("\uD800")));
        Assert.Equal(new byte[] { 0xED, 0xBF, 0xBF }, tok.DecodeBytes(tok.Encode("\uDFFF")));
        Assert.Equal("\uDE00\uD83D", tok.Decode(tok.Encode("\uDE00\uD83D")));   // a reversed pair stays two lone surrogates
        Assert.Equal("a\uD83D", tok.Decode(tok.Encode("a\uD83D")));
    }

    [Fact]
    public void Invalid_byte_sequences_decode_like_dotnets_utf8_decoder()
    {
        // Ids below 256 are single bytes in a trained tokenizer, so any byte string can be written as ids.
        var tok = TokenizerFixtures.Small;
        var r = new Random(4242);
        var pool = new byte[] { 0x41, 0x7F, 0x80, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xE2, 0xEC, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF, 0x9F, 0x90, 0x8F };
        for (int i = 0; i < 3000; i++)
        {
            var bytes = new byte[r.Next(0, 10)];
            for (int j = 0; j < bytes.Length; j++) bytes[j] = pool[r.Next(pool.Length)];
            // 0xED is left out of the pool: ED A0..BF is where this decoder deliberately differs (it reads a lone surrogate).
            var ids = bytes.Select(b => (int)b).ToArray();
            Assert.Equal(Encoding.UTF8.GetString(bytes), tok.Decode(ids));
            Assert.Equal(bytes, tok.DecodeBytes(ids));
        }
        // A truncated surrogate form is a valid WTF-8 prefix, so it is one maximal invalid subpart: one U+FFFD (.NET, strict, gives two).
        Assert.Equal("\uFFFD", tok.Decode([0xED, 0xA0]));
        Assert.Equal("\uFFFDA", tok.Decode([0xED, 0xA0, 0x41]));
    }

    [Fact]
    public void EncodeBatch_gives_what_encode_gives_document_by_document()
    {
        var tok = TokenizerFixtures.Small;
        var r = new Random(2);
        var docs = Enumerable.Range(0, 300).Select(_ => TokenizerFixtures.RandomString(r)).ToList();
        var batch = tok.EncodeBatch(docs, allowSpecial: true);
        Assert.Equal(docs.Count, batch.Length);
        for (int i = 0; i < docs.Count; i++) Assert.Equal(tok.Encode(docs[i], allowSpecial: true), batch[i]);
    }

    [Fact]
    public void Compression_counts_the_bytes_and_the_tokens_of_every_document()
    {
        var tok = TokenizerFixtures.Small;
        var r = new Random(3);
        var docs = TokenizerFixtures.Corpus(50, seed: 77).Concat(Enumerable.Range(0, 50).Select(_ => TokenizerFixtures.RandomString(r))).ToList();
        var stats = tok.MeasureCompression(docs);
        Assert.Equal(docs.Sum(d => (long)TokenizerFixtures.ReferenceWtf8(d).Length), stats.Bytes);
        Assert.Equal(docs.Sum(d => (long)tok.Encode(d).Length), stats.Tokens);
        Assert.Equal((double)stats.Bytes / stats.Tokens, stats.BytesPerToken);
        Assert.True(stats.BytesPerToken > 1.5, $"{stats.BytesPerToken} bytes/token on text like the training text");   // merges do compress
        Assert.Equal(0, tok.MeasureCompression([]).BytesPerToken);
    }

    [Fact]
    public void Empty_and_whitespace_only_strings_round_trip()
    {
        var tok = TokenizerFixtures.Small;
        Assert.Empty(tok.Encode(""));
        Assert.Equal("", tok.Decode([]));
        foreach (var s in new[] { " ", "\n", "\r\n", "   \n\n\t ", new string(' ', 5000), new string('a', 3000), new string('7', 999) })
            Assert.Equal(s, tok.Decode(tok.Encode(s)));
    }

    private static bool HasLoneSurrogate(string s)
    {
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) { i++; continue; }
            if (char.IsSurrogate(s[i])) return true;
        }
        return false;
    }
}
