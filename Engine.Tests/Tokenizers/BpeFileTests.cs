using System.Text;
using Engine.Tokenizers;

namespace Engine.Tests.Tokenizers;

public class BpeFileTests
{
    private static string TempDir() => Directory.CreateTempSubdirectory("engine-tok-").FullName;

    private static string SavedSmall()
    {
        var dir = TempDir();
        TokenizerFixtures.Small.Save(dir);
        return dir;
    }

    [Fact]
    public void Save_then_load_gives_the_same_vocabulary_and_the_same_ids()
    {
        var tok = TokenizerFixtures.Small;
        var dir = SavedSmall();
        var back = BpeTokenizer.Load(dir);
        Assert.Equal(tok.VocabSize, back.VocabSize);
        Assert.Equal(tok.SpecialTokens, back.SpecialTokens);
        Assert.Equal(tok.SplitPattern, back.SplitPattern);
        for (int id = 0; id < tok.VocabSize; id++) Assert.Equal(tok.GetTokenBytes(id).ToArray(), back.GetTokenBytes(id).ToArray());
        var r = new Random(31);
        for (int i = 0; i < 500; i++)
        {
            var s = TokenizerFixtures.RandomString(r);
            Assert.Equal(tok.Encode(s, allowSpecial: true), back.Encode(s, allowSpecial: true));
        }
        Assert.Equal(["tokenizer.json", "tokenizer.tiktoken"], Directory.GetFiles(dir).Select(Path.GetFileName).Order());   // no temporaries left
    }

    [Fact]
    public void The_ranks_file_is_tiktokens_text_format()
    {
        var dir = SavedSmall();
        var lines = File.ReadAllLines(Path.Combine(dir, BpeTokenizer.RanksFileName));
        Assert.Equal(TokenizerFixtures.Small.MergeableCount, lines.Length);
        Assert.Equal("AA== 0", lines[0]);
        Assert.Equal("YQ== 97", lines[97]);   // "a"
        var last = TokenizerFixtures.Small.MergeableCount - 1;
        Assert.Equal($"{Convert.ToBase64String(TokenizerFixtures.Small.GetTokenBytes(last))} {last}", lines[last]);
        var json = File.ReadAllText(Path.Combine(dir, BpeTokenizer.ConfigFileName));
        Assert.Contains($"\"<|bos|>\": {TokenizerFixtures.Small.BosId}", json.Replace("\\u003C", "<").Replace("\\u003E", ">").Replace("\\u007C", "|"));
    }

    [Theory]
    [InlineData("not-base64! 3", "line 4", "base64")]
    [InlineData("YQ==", "line 4", "<base64 bytes> <rank>")]
    [InlineData("YQ== x", "line 4", "not a non-negative integer")]
    [InlineData("YQ== 7", "line 4", "expected 3")]
    [InlineData("AA== 3", "line 4", "repeats the bytes of rank 0")]
    [InlineData(" 3", "line 4", "<base64 bytes> <rank>")]
    public void A_malformed_ranks_line_is_reported_with_its_number(string badLine, string where, string what)
    {
        var dir = SavedSmall();
        var path = Path.Combine(dir, BpeTokenizer.RanksFileName);
        var lines = File.ReadAllLines(path);
        lines[3] = badLine;
        File.WriteAllLines(path, lines);
        var e = Assert.Throws<InvalidDataException>(() => BpeTokenizer.Load(dir));
        Assert.Contains(where, e.Message);
        Assert.Contains(what, e.Message);
        Assert.Contains(BpeTokenizer.RanksFileName, e.Message);
    }

    [Fact]
    public void A_vocabulary_missing_a_single_byte_is_refused()
    {
        var dir = SavedSmall();
        var path = Path.Combine(dir, BpeTokenizer.RanksFileName);
        var lines = File.ReadAllLines(path);
        lines[65] = $"{Convert.ToBase64String("zzz"u8)} 65";   // "A" (0x41) is gone
        File.WriteAllLines(path, lines);
        var e = Assert.Throws<InvalidDataException>(() => BpeTokenizer.Load(dir));
        Assert.Contains("0x41", e.Message);
    }

    [Theory]
    [InlineData("{ not json", "not valid JSON")]
    [InlineData("[]", "JSON object")]
    [InlineData("{\"format\":\"other\",\"version\":1}", "\"format\"")]
    [InlineData("{\"format\":\"engine-bpe\",\"version\":9,\"pattern\":\"x\",\"special_tokens\":{}}", "newer")]
    [InlineData("{\"format\":\"engine-bpe\",\"version\":1,\"special_tokens\":{}}", "\"pattern\"")]
    [InlineData("{\"format\":\"engine-bpe\",\"version\":1,\"pattern\":\"x\"}", "\"special_tokens\"")]
    [InlineData("{\"format\":\"engine-bpe\",\"version\":1,\"pattern\":\"x\",\"special_tokens\":{\"<|bos|>\":\"a\"}}", "<|bos|>")]
    [InlineData("{\"format\":\"engine-bpe\",\"version\":1,\"pattern\":\"x\",\"special_tokens\":{\"<|bos|>\":9999}}", "without gaps")]
    [InlineData("{\"format\":\"engine-bpe\",\"version\":1,\"pattern\":\"(unclosed\",\"special_tokens\":{}}", "split pattern")]
    [InlineData("{\"format\":\"engine-bpe\",\"version\":1,\"pattern\":\"x\",\"mergeable_ranks\":\"../x\",\"special_tokens\":{}}", "plain file name")]
    public void A_malformed_config_is_reported_with_what_is_wrong(string json, string what)
    {
        var dir = SavedSmall();
        File.WriteAllText(Path.Combine(dir, BpeTokenizer.ConfigFileName), json);
        var e = Assert.Throws<InvalidDataException>(() => BpeTokenizer.Load(dir));
        Assert.Contains(what, e.Message);
    }

    [Fact]
    public void Missing_files_are_named()
    {
        var dir = TempDir();
        var e = Assert.Throws<FileNotFoundException>(() => BpeTokenizer.Load(dir));
        Assert.Contains(BpeTokenizer.ConfigFileName, e.Message);
        TokenizerFixtures.Small.Save(dir);
        File.Delete(Path.Combine(dir, BpeTokenizer.RanksFileName));
        e = Assert.Throws<FileNotFoundException>(() => BpeTokenizer.Load(dir));
        Assert.Contains(BpeTokenizer.RanksFileName, e.Message);
    }

    [Fact]
    public void Files_from_tiktoken_with_bytes_in_another_order_load()
    {
        // cl100k_base lists the single bytes in a different order from 0..255: ranks are not bytes in general.
        var tokens = Enumerable.Range(0, 256).Select(b => new[] { (byte)(255 - b) }).ToList();
        tokens.Add("ab"u8.ToArray());
        var dir = TempDir();
        File.WriteAllLines(Path.Combine(dir, BpeTokenizer.RanksFileName), tokens.Select((t, i) => $"{Convert.ToBase64String(t)} {i}"));
        File.WriteAllText(Path.Combine(dir, BpeTokenizer.ConfigFileName),
            $"{{\"format\":\"engine-bpe\",\"version\":1,\"pattern\":{System.Text.Json.JsonSerializer.Serialize(SplitPatterns.Gpt4)},\"special_tokens\":{{\"<|bos|>\":257}}}}");
        var tok = BpeTokenizer.Load(dir);
        Assert.Equal([256, 255 - 'c'], tok.Encode("abc"));
        Assert.Equal("abc", tok.Decode(tok.Encode("abc")));
        Assert.Equal(257, tok.BosId);
        Assert.Equal(Encoding.UTF8.GetBytes("<|bos|>"), tok.GetTokenBytes(257).ToArray());
    }
}
