using System.Text;
using Engine.Tokenizers;
using NanoChat;
using NanoChat.Data;
using NanoChat.Tokenizing;

namespace Engine.Tests.NanoChat;

/// <summary>
/// A run folder with a small generated corpus, a 300-token tokenizer and shards, shared by the
/// nanochat tests so each starts from prepared data without depending on the SDK docs.
/// </summary>
public sealed class MicroRun : IDisposable
{
    private static readonly string[] Words = ["the", "value", "returns", "string", "number", "list", "gets", "sets", "a", "an", "of", "to", "and",
        "object", "method", "type", "array", "index", "count", "true", "false", "when", "is", "in", "collection", "element", "specified"];

    public MicroRun()
    {
        Root = Directory.CreateTempSubdirectory("nanochat-test-").FullName;
        Corpus = WriteCorpus(Path.Combine(Root, "corpus.txt"), documents: 600, seed: 1);
        Run = new RunLayout(Path.Combine(Root, "run"));
        global::NanoChat.Data.Corpus.Prepare([Corpus], Run.DataDir, _ => { });
        Tokenizer = TokenizerStage.Train(Path.Combine(Run.DataDir, RunLayout.TrainFile), Run.TokenizerDir, 300, long.MaxValue, _ => { });
        ShardWriter.Write(Tokenizer, Run.DataDir, Run.ShardDir, ShardWriter.DefaultShardTokens, _ => { });
    }

    public string Root { get; }
    public string Corpus { get; }
    internal RunLayout Run { get; }
    public BpeTokenizer Tokenizer { get; }

    /// <summary>Paragraphs of made-up API-doc sentences, one document each.</summary>
    public static string WriteCorpus(string path, int documents, int seed)
    {
        var random = new Random(seed);
        var sb = new StringBuilder();
        for (int d = 0; d < documents; d++)
        {
            int sentences = random.Next(2, 6);
            for (int s = 0; s < sentences; s++)
            {
                int n = random.Next(4, 12);
                var words = Enumerable.Range(0, n).Select(_ => Words[random.Next(Words.Length)]).ToArray();
                words[0] = char.ToUpperInvariant(words[0][0]) + words[0][1..];
                sb.Append(string.Join(' ', words)).Append(random.Next(3) == 0 ? $" {random.Next(1000)}. " : ". ");
            }
            sb.Append("\n\n");
        }
        File.WriteAllText(path, sb.ToString());
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
