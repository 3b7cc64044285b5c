using System.Diagnostics;
using System.Text;
using Engine.Tokenizers;
using NanoChat.Data;

namespace NanoChat.Tokenizing;

/// <summary>Stage 2: train the BPE tokenizer on the training split and measure it on the validation split.</summary>
internal static class TokenizerStage
{
    /// <summary>nanochat caps the tokenizer's training text; so do we (characters, and per document).</summary>
    public const long DefaultMaxChars = 2_000_000_000;
    public const int DocumentCap = 10_000;

    public static BpeTokenizer Train(string trainFile, string outDir, int vocabSize, long maxChars, Action<string> log, MetricsStore? metrics = null)
    {
        var texts = new List<string>();
        long chars = 0, bytes = 0;
        foreach (var text in Corpus.ReadSplit(trainFile))
        {
            var t = text.Length > DocumentCap ? text[..DocumentCap] : text;
            texts.Add(t);
            chars += t.Length;
            bytes += Encoding.UTF8.GetByteCount(t);
            if (chars >= maxChars) break;
        }
        log($"training a {vocabSize}-token BPE on {texts.Count:N0} documents, {bytes / 1e6:F1} MB");
        var clock = Stopwatch.StartNew();
        var tokenizer = BpeTokenizer.Train(texts, vocabSize);
        double seconds = clock.Elapsed.TotalSeconds;
        tokenizer.Save(outDir);
        log($"vocabulary {tokenizer.VocabSize} ({tokenizer.MergeableCount - 256} merges + {tokenizer.SpecialTokens.Count} specials) in {seconds:F2} s, {bytes / 1e6 / seconds:F1} MB/s; saved to {outDir}");
        metrics?.Write("tokenizer", new()
        {
            ["vocab_size"] = tokenizer.VocabSize,
            ["train_bytes"] = bytes,
            ["train_seconds"] = seconds,
            ["train_mb_per_s"] = bytes / 1e6 / seconds,
        });
        return tokenizer;
    }

    public static BpeTokenizer Load(string dir)
    {
        if (!File.Exists(Path.Combine(dir, BpeTokenizer.ConfigFileName)))
            throw new UserException($"No tokenizer in '{dir}'. Run `nanochat tokenizer train` first.");
        return BpeTokenizer.Load(dir);
    }

    /// <summary>Compression on the validation split (and the training split, for comparison) and encoding speed.</summary>
    public static Dictionary<string, object> Evaluate(BpeTokenizer tokenizer, string trainFile, string valFile, Action<string> log, MetricsStore? metrics = null)
    {
        var val = Corpus.ReadSplit(valFile).ToList();
        var train = Corpus.ReadSplit(trainFile).Take(Math.Max(val.Count, 1000)).ToList();
        var clock = Stopwatch.StartNew();
        var valStats = tokenizer.MeasureCompression(val);
        double encodeSeconds = clock.Elapsed.TotalSeconds;
        var trainStats = tokenizer.MeasureCompression(train);
        log($"validation: {valStats.Bytes:N0} bytes -> {valStats.Tokens:N0} tokens, {valStats.BytesPerToken:F3} bytes/token");
        log($"train (first {train.Count:N0} documents): {trainStats.BytesPerToken:F3} bytes/token");
        log($"encoding speed: {valStats.Bytes / 1e6 / encodeSeconds:F1} MB/s (one thread)");
        var values = new Dictionary<string, object>
        {
            ["val_bytes_per_token"] = valStats.BytesPerToken,
            ["train_bytes_per_token"] = trainStats.BytesPerToken,
            ["encode_mb_per_s"] = valStats.Bytes / 1e6 / encodeSeconds,
        };
        if (metrics?.Read("tokenizer") is { } trained && trained.TryGetValue("train_mb_per_s", out var mbps))
        {
            log($"training speed (from `tokenizer train`): {mbps.GetDouble():F1} MB/s");
        }
        metrics?.Merge("tokenizer", values);
        return values;
    }
}
