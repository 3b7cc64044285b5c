using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Engine.Tokenizers;

namespace Engine.Benchmarks;

/// <summary>
/// BPE training and encoding on real English-and-code text: the XML API documentation that ships with the .NET SDK
/// (packs/Microsoft.NETCore.App.Ref/*/ref/net10.0/*.xml, about 31 MB), cut into 64 KiB documents. The first 10 MB train
/// a 4096-token vocabulary (nanochat's specials included); the next 2 MB, from other files, are held out for encoding and
/// compression. Run: <c>dotnet run -c Release --project Engine.Benchmarks -- --filter '*Tokenizer*'</c>.
/// </summary>
[Config(typeof(TokenizerConfig))]
public class TokenizerBenchmarks
{
    private const int TrainBytes = 10_000_000;
    private const int HeldOutBytes = 2_000_000;
    private const int VocabSize = 4096;

    private static List<string> s_train = [], s_heldOut = [];
    private static long s_trainBytes, s_heldOutBytes;
    private BpeTokenizer _tokenizer = null!;

    [GlobalSetup]
    public void Setup()
    {
        var folder = SdkDocsFolder();
        var docs = new List<string>();
        foreach (var file in Directory.GetFiles(folder, "*.xml").Order(StringComparer.Ordinal))
        {
            var text = File.ReadAllText(file);
            for (int i = 0; i < text.Length; i += 1 << 16) docs.Add(text.Substring(i, Math.Min(1 << 16, text.Length - i)));
        }
        s_train = []; s_heldOut = []; s_trainBytes = 0; s_heldOutBytes = 0;
        foreach (var d in docs)
        {
            long n = Encoding.UTF8.GetByteCount(d);
            if (s_trainBytes < TrainBytes) { s_train.Add(d); s_trainBytes += n; }
            else if (s_heldOutBytes < HeldOutBytes) { s_heldOut.Add(d); s_heldOutBytes += n; }
        }
        _tokenizer = BpeTokenizer.Train(s_train, VocabSize);
        var heldOut = _tokenizer.MeasureCompression(s_heldOut);
        var seen = _tokenizer.MeasureCompression(s_train);
        Console.WriteLine($"// corpus: {folder}, {docs.Count} documents of 64 KiB");
        Console.WriteLine($"// distinct pieces in the training text: {BpeTrainer.CountPieces(s_train, new System.Text.RegularExpressions.Regex(SplitPatterns.NanoChat)).Count}");
        Console.WriteLine($"// train: {s_trainBytes / 1e6:F2} MB, vocab {_tokenizer.VocabSize} ({_tokenizer.MergeableCount - 256} merges), {Environment.ProcessorCount} cores");
        Console.WriteLine($"// compression, held out: {heldOut.Bytes} bytes -> {heldOut.Tokens} tokens = {heldOut.BytesPerToken:F3} bytes/token");
        Console.WriteLine($"// compression, training text: {seen.BytesPerToken:F3} bytes/token");
    }

    /// <summary>The whole of training: split, count, merge.</summary>
    [Benchmark(Description = "Train 4096 on 10 MB")]
    public BpeTokenizer Train() => BpeTokenizer.Train(s_train, VocabSize);

    /// <summary>Encoding on one thread from an empty piece cache: what the first pass over new text costs.</summary>
    [Benchmark(Description = "Encode 2 MB, 1 thread, cold cache")]
    public long EncodeCold()
    {
        long n = 0;
        foreach (var d in s_heldOut) n += _tokenizer.Encode(d).Length;
        return n;
    }

    [IterationSetup(Target = nameof(EncodeCold))]
    public void EmptyCache() => _tokenizer.ClearCache();

    /// <summary>Encoding on one thread, piece cache warm after the first iteration.</summary>
    [Benchmark(Description = "Encode 2 MB, 1 thread, warm cache")]
    public long Encode()
    {
        long n = 0;
        foreach (var d in s_heldOut) n += _tokenizer.Encode(d).Length;
        return n;
    }

    /// <summary>Encoding on every core.</summary>
    [Benchmark(Description = "EncodeBatch 2 MB, all cores")]
    public int[][] EncodeBatch() => _tokenizer.EncodeBatch(s_heldOut);

    /// <summary>Decoding the held-out text's ids back to strings.</summary>
    [Benchmark(Description = "Decode 2 MB")]
    public long Decode()
    {
        long n = 0;
        foreach (var ids in _encoded ??= _tokenizer.EncodeBatch(s_heldOut)) n += _tokenizer.Decode(ids).Length;
        return n;
    }

    private int[][]? _encoded;

    private static string SdkDocsFolder()
    {
        // The runtime lives in <dotnet>/shared/Microsoft.NETCore.App/<version>/; the reference packs sit beside it.
        var root = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "..", "..", ".."));
        var packs = Path.Combine(root, "packs", "Microsoft.NETCore.App.Ref");
        var folder = Directory.Exists(packs)
            ? Directory.GetDirectories(packs).Select(v => Path.Combine(v, "ref", "net10.0")).Where(Directory.Exists).Order(StringComparer.Ordinal).LastOrDefault()
            : null;
        return folder ?? throw new DirectoryNotFoundException($"No .NET 10 reference pack under '{packs}': install the .NET 10 SDK, whose XML docs are the corpus.");
    }

    /// <summary>In-process (no separate build), one warm-up and five measured iterations: a minute or so for all five.</summary>
    private sealed class TokenizerConfig : ManualConfig
    {
        public TokenizerConfig()
        {
            AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithStrategy(RunStrategy.Monitoring)
                .WithLaunchCount(1).WithWarmupCount(1).WithIterationCount(5).WithId("Tokenizer"));
            AddColumn(StatisticColumn.Min, StatisticColumn.Median, new ThroughputColumn());
        }
    }

    private sealed class ThroughputColumn : IColumn
    {
        public string Id => "MBps";
        public string ColumnName => "MB/s";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "UTF-8 megabytes of text (10^6 bytes) over the median time";
        public bool IsAvailable(Summary summary) => true;
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var stats = summary[benchmarkCase]?.ResultStatistics;
            if (stats is null) return "-";
            long bytes = benchmarkCase.Descriptor.WorkloadMethod.Name == nameof(Train) ? s_trainBytes : s_heldOutBytes;
            return (bytes / (stats.Median / 1e9) / 1e6).ToString("F2");
        }
    }
}
