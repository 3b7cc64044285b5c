using System.Text;
using System.Text.RegularExpressions;
using Engine.Tokenizers;

namespace Engine.Tests.Tokenizers;

public class BpeTrainingTests
{
    private static string Hex(string s) => Convert.ToHexString(Encoding.UTF8.GetBytes(s));

    [Fact]
    public void Aaab_learns_aa_then_ab_then_aaab_and_stops_when_pairs_run_out()
    {
        var tok = BpeTokenizer.Train(Enumerable.Repeat("aaab", 50), vocabSize: 1000, specialTokens: []);
        // "aaab": pairs aa twice and ab once per word, so aa first (left to right, "aa a b"); then (a,b) and (aa,a)
        // tie at 50 each and the smaller pair, (97,98), wins; then (aa,ab); then nothing is left to merge.
        Assert.Equal([Hex("aa"), Hex("ab"), Hex("aaab")], TokenizerFixtures.Learned(tok));
        Assert.Equal(259, tok.VocabSize);
        Assert.Equal([258], tok.Encode("aaab"));
        Assert.Equal([256, 97], tok.Encode("aaa"));   // "aaa" is no token: aa (lowest rank, leftmost) then a
    }

    [Fact]
    public void Ties_go_to_the_smaller_pair()
    {
        var tok = BpeTokenizer.Train(["cd", "ab", "xy ab", "cd"], vocabSize: 256 + 2, specialTokens: []);
        // (a,b) and (c,d) both occur twice; (a,b) has the smaller ids.
        Assert.Equal([Hex("ab"), Hex("cd")], TokenizerFixtures.Learned(tok));
    }

    [Fact]
    public void Incremental_training_matches_a_full_recount_per_merge()
    {
        var corpus = TokenizerFixtures.Corpus(120, seed: 5);
        // Include surrogate-heavy and repetitive text: overlapping pairs (aaaa) are where incremental counts go wrong.
        corpus.Add("aaaaaaa bbbb aaaa abab abab ababab \uD800x \uDC00y 😀😀😀 1111111");
        var expected = TokenizerFixtures.ReferenceTrain(corpus, merges: 200, SplitPatterns.NanoChat);
        Assert.Equal(200, expected.Count);   // the corpus has pairs to spare, so every merge is compared
        var tok = BpeTokenizer.Train(corpus, 256 + 200, specialTokens: []);
        Assert.Equal(expected, TokenizerFixtures.Learned(tok));
    }

    [Fact]
    public void Training_is_deterministic()
    {
        var corpus = TokenizerFixtures.Corpus(300, seed: 8);
        var a = BpeTokenizer.Train(corpus, 600);
        var b = BpeTokenizer.Train(corpus.AsEnumerable().Reverse(), 600);   // document order (and so thread timing) must not matter
        Assert.Equal(TokenizerFixtures.Learned(a), TokenizerFixtures.Learned(b));
        Assert.Equal(600, a.VocabSize);
    }

    [Fact]
    public void Specials_follow_the_merges_in_nanochats_order()
    {
        var tok = TokenizerFixtures.Small;
        Assert.Equal(256 + 300, tok.MergeableCount);
        Assert.Equal(256 + 300 + 9, tok.VocabSize);
        Assert.Equal(ChatTokens.All, tok.SpecialTokens);
        for (int i = 0; i < ChatTokens.All.Count; i++) Assert.Equal(tok.MergeableCount + i, tok.GetSpecialId(ChatTokens.All[i]));
        Assert.Equal(tok.MergeableCount, tok.BosId);
        for (int b = 0; b < 256; b++) Assert.Equal(new[] { (byte)b }, tok.GetTokenBytes(b).ToArray());
    }

    [Fact]
    public void Too_small_a_vocabulary_is_refused_with_the_minimum()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => BpeTokenizer.Train(["abc"], 260));
        Assert.Contains("265", e.Message);
    }

    [Fact]
    public void A_custom_pattern_that_leaves_gaps_loses_no_text()
    {
        // Only letter runs match: everything between them must still be encoded (tiktoken would drop it).
        var tok = BpeTokenizer.Train(TokenizerFixtures.Corpus(100, seed: 4), 256 + 50, specialTokens: [], splitPattern: @"\p{L}+");
        var r = new Random(17);
        for (int i = 0; i < 500; i++)
        {
            var s = TokenizerFixtures.RandomString(r);
            Assert.Equal(s, tok.Decode(tok.Encode(s)));
        }
        var pieces = new List<string>();
        const string text = "ab 12!cd..";
        foreach (var (start, length) in Pieces.Split(text, new Regex(@"\p{L}+"))) pieces.Add(text.Substring(start, length));
        Assert.Equal(["ab", " 12!", "cd", ".."], pieces);
    }

    [Fact]
    public void The_constructor_refuses_an_unusable_vocabulary()
    {
        var bytes = Enumerable.Range(0, 256).Select(b => new[] { (byte)b }).ToList();
        Assert.Contains("0x07", Assert.Throws<ArgumentException>(() => new BpeTokenizer(bytes.Where(b => b[0] != 7).ToList(), [], SplitPatterns.NanoChat)).Message);
        Assert.Contains("same bytes", Assert.Throws<ArgumentException>(() => new BpeTokenizer([.. bytes, [1]], [], SplitPatterns.NanoChat)).Message);
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => new BpeTokenizer([.. bytes, []], [], SplitPatterns.NanoChat)).Message);
        Assert.Contains("twice", Assert.Throws<ArgumentException>(() => new BpeTokenizer(bytes, ["<|a|>", "<|a|>"], SplitPatterns.NanoChat)).Message);
        Assert.Contains("split pattern", Assert.Throws<ArgumentException>(() => new BpeTokenizer(bytes, [], "(")).Message);
        var ok = new BpeTokenizer(bytes, ["<|a|>"], SplitPatterns.Gpt4);
        Assert.Equal(257, ok.VocabSize);
        Assert.Equal("héllo<|a|>", ok.Decode(ok.EncodeWithSpecials("héllo<|a|>")));
        Assert.Throws<InvalidOperationException>(() => ok.BosId);
    }

    [Fact]
    public void A_null_document_is_reported_as_such_not_wrapped()
    {
        var e = Assert.Throws<ArgumentNullException>(() => BpeTokenizer.Train(["abc", null!, "def"], 300));
        Assert.Contains("null", e.Message);
        Assert.Throws<ArgumentNullException>(() => TokenizerFixtures.Small.EncodeBatch(["a", null!]));
        Assert.Throws<ArgumentNullException>(() => TokenizerFixtures.Small.MeasureCompression(["a", null!]));
    }

    [Fact]
    public void Digits_split_in_groups_of_one_or_two_with_nanochats_pattern_and_three_with_gpt4s()
    {
        static string[] Split(string pattern, string text) => new Regex(pattern).Matches(text).Select(m => m.Value).ToArray();
        Assert.Equal(["12", "34", "56", "7"], Split(SplitPatterns.NanoChat, "1234567"));
        Assert.Equal(["123", "456", "7"], Split(SplitPatterns.Gpt4, "1234567"));
        Assert.Equal(["Hello", " world", "'s", "  \n\n", " ", "12", "3", "!!!\n"], Split(SplitPatterns.NanoChat, "Hello world's  \n\n 123!!!\n"));
        Assert.Equal(["I", "'LL", " go", " ", " now", "...", " 😀😀"], Split(SplitPatterns.NanoChat, "I'LL go  now... 😀😀"));

        // A tokenizer trained on number-heavy text never learns a token of three digits.
        var numbers = Enumerable.Range(0, 300).Select(i => $"{i * 7919 % 100000} {i * 31337} {i}").ToList();
        var tok = BpeTokenizer.Train(numbers, 256 + 200 + 9);
        var digitTokens = Enumerable.Range(256, tok.MergeableCount - 256)
            .Select(id => Encoding.UTF8.GetString(tok.GetTokenBytes(id))).Where(s => s.All(char.IsAsciiDigit)).ToList();
        Assert.NotEmpty(digitTokens);
        Assert.All(digitTokens, t => Assert.InRange(t.Length, 1, 2));
        Assert.Equal(["12", "34", "5"], tok.Encode("12345").Select(id => tok.Decode([id])));
    }

    [Fact]
    public void Specials_encode_to_their_single_ids_only_when_allowed()
    {
        var tok = TokenizerFixtures.Small;
        string chat = "<|user_start|>hi<|user_end|><|assistant_start|>2+2=<|python_start|>2+2<|python_end|><|output_start|>4<|output_end|><|assistant_end|>";
        var ids = tok.EncodeWithSpecials("<|bos|>" + chat);
        Assert.Equal(ids, tok.Encode("<|bos|>" + chat, allowSpecial: true));
        Assert.Equal(tok.BosId, ids[0]);
        Assert.Equal(9, ids.Count(tok.IsSpecial));
        Assert.Equal(
            ChatTokens.All.Select(tok.GetSpecialId),
            ids.Where(tok.IsSpecial).Order());
        Assert.Equal("<|bos|>" + chat, tok.Decode(ids));

        var plain = tok.Encode("<|bos|>" + chat);
        Assert.DoesNotContain(plain, tok.IsSpecial);
        Assert.True(plain.Length > 20);
        Assert.Equal("<|bos|>" + chat, tok.Decode(plain));

        // Appending into one list is how a chat is rendered from parts.
        var rendered = new List<int> { tok.BosId };
        tok.Encode("hello", rendered);
        Assert.Equal([tok.BosId, .. tok.Encode("hello")], rendered);
        Assert.Throws<KeyNotFoundException>(() => tok.GetSpecialId("<|nope|>"));
    }

    [Fact]
    public void Out_of_range_ids_are_refused_naming_the_id_and_the_vocabulary_size()
    {
        var tok = TokenizerFixtures.Small;
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => tok.Decode([1, 2, tok.VocabSize]));
        Assert.Contains($"{tok.VocabSize}", e.Message);
        Assert.Contains("vocabulary size", e.Message);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => tok.DecodeBytes([-3]));
        Assert.Contains("-3", e.Message);
    }
}
