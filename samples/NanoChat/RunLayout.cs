namespace NanoChat;

/// <summary>
/// Where each stage of a run reads and writes: one folder per run, so that a speedrun, its
/// checkpoints and its report travel together.
/// </summary>
/// <remarks>
/// <code>
/// run/data/        train.jsonl, val.jsonl ({"text": ...} per line), members.jsonl, data.json
/// run/tokenizer/   tokenizer.tiktoken, tokenizer.json
/// run/shards/      train_000.bin, ..., val_000.bin (Engine.Data.TokenShard)
/// run/base/        the pretrained checkpoint (model, optimizer state, step, data position)
/// run/sft/         the chat model
/// run/logs/        pretrain.csv, sft.csv (one row per step)
/// run/metrics/     one JSON file per stage, read by the report
/// run/report.md    with its charts under run/charts/
/// </code>
/// </remarks>
internal sealed record RunLayout(string Root)
{
    /// <summary>The device every stage computes on (--device: cpu, cuda, or auto for the GPU when there is one).</summary>
    public Engine.Device Device { get; init; } = Engine.Device.Cpu;

    public string DataDir => Path.Combine(Root, "data");
    public string TokenizerDir => Path.Combine(Root, "tokenizer");
    public string ShardDir => Path.Combine(Root, "shards");
    public string BaseDir => Path.Combine(Root, "base");
    public string SftDir => Path.Combine(Root, "sft");
    public string LogDir => Path.Combine(Root, "logs");
    public string MetricsDir => Path.Combine(Root, "metrics");
    public string ChartDir => Path.Combine(Root, "charts");
    public string ReportFile => Path.Combine(Root, "report.md");

    public const string TrainFile = "train.jsonl";
    public const string ValFile = "val.jsonl";
    public const string MembersFile = "members.jsonl";

    public IReadOnlyList<string> Shards(string split, string? shardDir = null)
    {
        var dir = shardDir ?? ShardDir;
        var files = Directory.Exists(dir)
            ? Directory.GetFiles(dir, split + "_*.bin").OrderBy(f => f, StringComparer.Ordinal).ToArray()
            : [];
        if (files.Length == 0)
            throw new UserException($"No {split} shards in '{dir}'. Run `nanochat data tokenize --run {Root}` first.");
        return files;
    }

    /// <summary>The chat model if SFT has run, else the base model.</summary>
    public string LatestModel => File.Exists(Path.Combine(SftDir, Engine.IO.Checkpoint.ModelFile)) ? SftDir : BaseDir;
}

/// <summary>A problem the user can fix (a missing file, a bad option): printed without a stack trace.</summary>
internal sealed class UserException(string message) : Exception(message);
