using System.Diagnostics;
using Engine.Data;
using Engine.Tokenizers;
using NanoChat.Data;

namespace NanoChat.Tokenizing;

/// <summary>
/// Stage 3: encodes the prepared splits into token shards (Engine.Data.TokenShard, uint16 ids when the
/// vocabulary fits, else uint32), every document preceded by bos so the batch loader can align rows
/// to document starts.
/// </summary>
internal static class ShardWriter
{
    public const int DefaultShardTokens = 50_000_000;

    public static (long TrainTokens, long ValTokens, double Seconds) Write(BpeTokenizer tokenizer, string dataDir, string shardDir, int shardTokens, Action<string> log)
    {
        var clock = Stopwatch.StartNew();
        Directory.CreateDirectory(shardDir);
        foreach (var old in Directory.GetFiles(shardDir, "*_*.bin")) File.Delete(old);
        long train = WriteSplit(tokenizer, Path.Combine(dataDir, RunLayout.TrainFile), shardDir, "train", shardTokens, log);
        long val = WriteSplit(tokenizer, Path.Combine(dataDir, RunLayout.ValFile), shardDir, "val", shardTokens, log);
        return (train, val, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Encodes one split's documents into shards of at most <paramref name="shardTokens"/> tokens (a document is never cut).</summary>
    public static long WriteSplit(BpeTokenizer tokenizer, string splitFile, string shardDir, string split, int shardTokens, Action<string> log)
    {
        var buffer = new List<int>();
        int shard = 0;
        long total = 0;
        void Flush()
        {
            if (buffer.Count == 0) return;
            var path = Path.Combine(shardDir, $"{split}_{shard++:D3}.bin");
            TokenShard.Write(path, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(buffer), tokenizer.VocabSize);
            log($"{path}: {buffer.Count:N0} tokens");
            total += buffer.Count;
            buffer.Clear();
        }
        foreach (var chunk in Corpus.ReadSplit(splitFile).Chunk(4096))
        {
            foreach (var ids in tokenizer.EncodeBatch(chunk))
            {
                if (buffer.Count > 0 && buffer.Count + ids.Length + 1 > shardTokens) Flush();
                buffer.Add(tokenizer.BosId);
                buffer.AddRange(ids);
            }
        }
        Flush();
        return total;
    }

    /// <summary>The UTF-8 byte length of every token (0 for specials), as bits-per-byte needs.</summary>
    public static int[] TokenByteLengths(BpeTokenizer tokenizer)
    {
        var lengths = new int[tokenizer.VocabSize];
        for (int id = 0; id < lengths.Length; id++)
            lengths[id] = tokenizer.IsSpecial(id) ? 0 : tokenizer.GetTokenBytes(id).Length;
        return lengths;
    }
}
