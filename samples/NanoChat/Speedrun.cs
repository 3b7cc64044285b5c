using System.Diagnostics;
using NanoChat.Data;
using NanoChat.Evaluation;
using NanoChat.Report;
using NanoChat.Tokenizing;
using NanoChat.Training;

namespace NanoChat;

/// <summary>Overrides a speedrun accepts on top of its preset.</summary>
internal sealed record SpeedrunOptions(Preset Preset, IReadOnlyList<string> Data, int? Steps = null, int? SftSteps = null, int? MaxDocuments = null, double PeakGflops = 0);

/// <summary>
/// Stage 10: the whole pipeline in one command: data, tokenizer, shards, pretraining, SFT,
/// evaluation, report; each stage's own command does the same work on its own.
/// </summary>
internal static class Speedrun
{
    public static int Run(RunLayout run, SpeedrunOptions o, Action<string> log, CancellationToken cancellation)
    {
        var p = o.Preset;
        var clock = Stopwatch.StartNew();
        var times = new Dictionary<string, object> { ["preset"] = p.Name };
        void Stage(string name, Action body)
        {
            log($"\n== {name} ==");
            var t = Stopwatch.StartNew();
            body();
            times[name.Replace(' ', '_') + "_seconds"] = t.Elapsed.TotalSeconds;
        }

        Stage("data prepare", () =>
        {
            var s = Corpus.Prepare(o.Data, run.DataDir, log, maxDocuments: o.MaxDocuments ?? p.MaxDocuments);
            log($"{s.TrainDocuments:N0} train / {s.ValDocuments:N0} validation documents ({s.TrainBytes / 1e6:F1} / {s.ValBytes / 1e6:F1} MB) in {s.Seconds:F1} s");
        });
        Stage("tokenizer", () =>
        {
            var metrics = new MetricsStore(run.MetricsDir);
            var tok = TokenizerStage.Train(Path.Combine(run.DataDir, RunLayout.TrainFile), run.TokenizerDir, p.VocabSize, TokenizerStage.DefaultMaxChars, log, metrics);
            TokenizerStage.Evaluate(tok, Path.Combine(run.DataDir, RunLayout.TrainFile), Path.Combine(run.DataDir, RunLayout.ValFile), log, metrics);
        });
        Stage("shards", () => Cli.WriteShards(run, ShardWriter.DefaultShardTokens, log));
        if (cancellation.IsCancellationRequested) return Cli.Interrupted;
        Stage("pretrain", () => Pretraining.Run(run, new PretrainOptions
        {
            Model = p.ModelConfig(p.VocabSize),
            DeviceBatch = p.DeviceBatch,
            TotalBatchTokens = p.TotalBatchTokens,
            Steps = o.Steps ?? p.DefaultPretrainSteps,
            EvalEvery = p.EvalEvery,
            EvalBatches = p.EvalBatches,
            CheckpointEvery = Math.Max(1, (o.Steps ?? p.DefaultPretrainSteps) / 3),
            PeakGflops = o.PeakGflops,
        }, log, cancellation));
        if (cancellation.IsCancellationRequested) return Cli.Interrupted;
        Stage("sft", () => SftTraining.Run(run, new SftOptions { Steps = o.SftSteps ?? p.SftSteps, Batch = p.SftBatch, DeviceBatchTokens = (long)p.DeviceBatch * p.SequenceLen }, log, cancellation));
        if (cancellation.IsCancellationRequested) return Cli.Interrupted;
        Stage("eval", () => ChatEvaluation.Run(run, run.SftDir, p.EvalQuestions, p.EvalBatches, log));
        times["seconds"] = clock.Elapsed.TotalSeconds;
        new MetricsStore(run.MetricsDir).Write("speedrun", times);
        Stage("report", () => log($"wrote {ReportWriter.Write(run)}"));

        log($"\nspeedrun '{p.Name}' finished in {clock.Elapsed.TotalMinutes:F1} min.");
        log($"  chat model: {Path.GetFullPath(run.SftDir)}");
        log($"  base model: {Path.GetFullPath(run.BaseDir)}");
        log($"  report:     {Path.GetFullPath(run.ReportFile)}");
        log($"  talk to it: dotnet run -c Release --project samples/NanoChat -- chat --run {run.Root}");
        return 0;
    }
}
