using System.Diagnostics;
using System.Globalization;
using Engine.Data;
using Engine.IO;
using Engine.NN;
using Engine.Optim;
using Engine.Training;
using NanoChat.Tokenizing;

namespace NanoChat.Training;

/// <summary>Everything <c>nanochat pretrain</c> can be told.</summary>
internal sealed record PretrainOptions
{
    public required GptConfig Model { get; init; }
    public int DeviceBatch { get; init; } = 8;
    /// <summary>Tokens per optimizer step; micro-batches are accumulated to reach it.</summary>
    public int TotalBatchTokens { get; init; } = 4096;
    public int Steps { get; init; } = 300;
    public int EvalEvery { get; init; } = 50;
    public int EvalBatches { get; init; } = 8;
    public int CheckpointEvery { get; init; } = 100;
    public int LogEvery { get; init; } = 10;
    public bool Resume { get; init; }
    public int Seed { get; init; } = 42;
    public double MatrixLr { get; init; } = 0.02;
    public double EmbeddingLr { get; init; } = 0.2;
    public double UnembeddingLr { get; init; } = 0.004;
    public double WarmdownRatio { get; init; } = 0.2;
    /// <summary>The device's dense fp32 peak in GFLOP/s that MFU divides by; 0 reports FLOP/s only.</summary>
    public double PeakGflops { get; init; }
}

/// <summary>
/// Stage 4: base-model pretraining on the token shards with Engine's Trainer: Muon for block
/// matrices and AdamW for the embeddings (nanochat's learning rates), a constant learning rate with
/// a linear warmdown over the last 20% of steps, gradient accumulation up to the target batch,
/// validation bits per byte at intervals, checkpoints that resume exactly.
/// </summary>
internal static class Pretraining
{
    /// <summary>
    /// An assumed dense fp32 peak for this CPU: one 512-bit (or two 256-bit) FMA per cycle per core,
    /// 32 FLOP/cycle, at about 3.5 GHz (docs/cpu-sgemm.md infers that clock from the SGEMM kernel's
    /// measured rate): 112 GFLOP/s per core.
    /// </summary>
    public static double AssumedCpuPeakGflops => 112.0 * Environment.ProcessorCount;

    public static Dictionary<string, object> Run(RunLayout run, PretrainOptions o, Action<string> log, CancellationToken cancellation)
    {
        var wall = Stopwatch.StartNew();
        var tokenizer = TokenizerStage.Load(run.TokenizerDir);
        var config = o.Model with { VocabSize = tokenizer.VocabSize };
        config.Validate();
        int rowsPerStep = o.TotalBatchTokens / config.SequenceLen;
        if (rowsPerStep < o.DeviceBatch || rowsPerStep % o.DeviceBatch != 0)
            throw new UserException($"The total batch ({o.TotalBatchTokens} tokens = {rowsPerStep} rows of {config.SequenceLen}) must be a positive multiple of the device batch ({o.DeviceBatch} rows).");
        int accumulation = rowsPerStep / o.DeviceBatch;

        using var train = new BatchLoader(run.Shards("train"), tokenizer.BosId, o.DeviceBatch, config.SequenceLen);
        using var val = new BatchLoader(run.Shards("val"), tokenizer.BosId, o.DeviceBatch, config.SequenceLen);
        int evalBatches = (int)Math.Max(1, Math.Min(o.EvalBatches, (val.RowsPerEpoch + o.DeviceBatch - 1) / o.DeviceBatch));
        var tokenBytes = ShardWriter.TokenByteLengths(tokenizer);

        using var model = new Gpt(config, seed: o.Seed, device: run.Device);
        using var optimizers = new GptOptimizers(model, o.EmbeddingLr, o.UnembeddingLr, o.MatrixLr);
        var schedule = new LrSchedule(o.Steps, WarmupSteps: 0, WarmdownRatio: o.WarmdownRatio);
        var trainer = new Trainer(model, optimizers, schedule, train, validation: null,
            new TrainerOptions(o.Steps, accumulation, o.CheckpointEvery, run.BaseDir));

        if (o.Resume)
        {
            if (!File.Exists(Path.Combine(run.BaseDir, Checkpoint.OptimizerFile)))
                throw new UserException($"--resume: '{run.BaseDir}' holds no training checkpoint to resume from.");
            var saved = Checkpoint.LoadConfig(run.BaseDir);
            if (saved != config)
                throw new UserException($"--resume: the checkpoint's model ({saved.NLayer} layers, width {saved.NEmbd}, context {saved.SequenceLen}, vocab {saved.VocabSize}) differs from the one asked for ({config.NLayer}, {config.NEmbd}, {config.SequenceLen}, {config.VocabSize}); pass the same options as the first run.");
            trainer.Resume(run.BaseDir);
            log($"resumed from {run.BaseDir} at step {trainer.Step}");
        }

        double flopsPerToken = model.FlopsPerToken();
        long nonEmbedding = model.ParameterCount - model.Wte.Count;
        double peak = o.PeakGflops;
        log($"model: {config.NLayer} layers, width {config.NEmbd}, {config.NHead} heads ({config.NKvHead} kv), context {config.SequenceLen}, vocab {config.VocabSize}: " +
            $"{model.ParameterCount / 1e6:F2} M parameters ({nonEmbedding / 1e6:F2} M outside the embedding), {flopsPerToken / 1e6:F1} MFLOP/token");
        log($"batch: {o.DeviceBatch} x {config.SequenceLen} tokens x {accumulation} accumulation = {rowsPerStep * config.SequenceLen:N0} tokens/step; " +
            $"{o.Steps} steps = {(long)o.Steps * rowsPerStep * config.SequenceLen / 1e6:F2} M tokens; train data {train.RowsPerEpoch:N0} rows/epoch");
        string precision = run.Device.Autocast ? "bf16 autocast" : "fp32";
        log($"device: {run.Device.Name}{(run.Device.Accelerator is { } acc ? $" ({acc.Name})" : "")}, {precision}");
        log(peak > 0 ? $"MFU is measured against a peak of {peak:F0} GFLOP/s ({(run.Device.Autocast ? "bf16 tensor cores" : "fp32")}, dense)" : "no device peak given (--peak-gflops): reporting achieved FLOP/s only");

        Directory.CreateDirectory(run.LogDir);
        var csvPath = Path.Combine(run.LogDir, "pretrain.csv");
        var csvRows = o.Resume && File.Exists(csvPath)
            ? File.ReadLines(csvPath).Skip(1).Where(l => int.Parse(l.Split(',')[0], CultureInfo.InvariantCulture) <= trainer.Step).ToList()
            : [];
        using var csv = new StreamWriter(csvPath, append: false);
        csv.WriteLine("step,loss,lr_multiplier,tokens_per_s,val_bpb");
        foreach (var row in csvRows) csv.WriteLine(row);

        double trainSeconds = 0, lastLoss = double.NaN, lastBpb = double.NaN;
        long tokensThisRun = 0;
        int tokensPerStep = rowsPerStep * config.SequenceLen;
        int startStep = trainer.Step;

        double Bpb()
        {
            val.Position = 0;   // the same validation rows every time, so the curve compares like with like
            return Engine.Training.Evaluation.BitsPerByte(model, val, evalBatches, tokenBytes);
        }

        if (startStep == 0 && o.EvalEvery > 0)
        {
            lastBpb = Bpb();
            log($"step 0 | val bpb {lastBpb:F4}");
            csv.WriteLine($"0,,,,{lastBpb.ToString("R", CultureInfo.InvariantCulture)}");
        }

        // The device's high-water mark over the run (weights, optimizer state, a step's activations): what
        // sizes --device-batch on a GPU.
        run.Device.ResetPeakLiveBytes();
        int completed = ConsoleUi.WithProgress("pretrain", o.Steps, startStep, report =>
        {
            trainer.StepCompleted += r =>
            {
                trainSeconds += tokensPerStep / r.TokensPerSecond;
                tokensThisRun += tokensPerStep;
                lastLoss = r.Loss;
                double? bpb = null;
                if (o.EvalEvery > 0 && (r.Step % o.EvalEvery == 0 || r.Step == o.Steps)) bpb = lastBpb = Bpb();
                string mfu = peak > 0 ? $" | MFU {100 * r.FlopsPerSecond / (peak * 1e9):F1}%" : "";
                string line = $"step {r.Step}/{o.Steps} | loss {r.Loss:F4} | lrm {r.LearningRateMultiplier:F2} | {r.TokensPerSecond:N0} tok/s | {r.FlopsPerSecond / 1e9:F1} GFLOP/s{mfu}" +
                    $" | peak mem {run.Device.PeakLiveBytes / 1073741824.0:F2} GiB" + (bpb is { } b ? $" | val bpb {b:F4}" : "");
                csv.WriteLine(string.Join(",", r.Step.ToString(CultureInfo.InvariantCulture), r.Loss.ToString("R", CultureInfo.InvariantCulture),
                    r.LearningRateMultiplier.ToString("R", CultureInfo.InvariantCulture), r.TokensPerSecond.ToString("F1", CultureInfo.InvariantCulture),
                    bpb?.ToString("R", CultureInfo.InvariantCulture) ?? ""));
                csv.Flush();
                report(r.Step, $"pretrain | loss {r.Loss:F3} | {r.TokensPerSecond:N0} tok/s");
                // A live bar shows every step; plain logs get every LogEvery-th step. Both get evaluations.
                bool plainLine = !ConsoleUi.Interactive && (r.Step % Math.Max(1, o.LogEvery) == 0 || r.Step == startStep + 1);
                if (bpb is not null || plainLine || r.Step == o.Steps) log(line);
            };
            try
            {
                return trainer.Run(cancellation);
            }
            catch (TrainingDivergedException e)
            {
                throw new UserException("Training stopped: " + e.Message);
            }
        });

        double tokensPerSecond = trainSeconds > 0 ? tokensThisRun / trainSeconds : 0;
        var metrics = new Dictionary<string, object>
        {
            ["depth"] = config.NLayer,
            ["width"] = config.NEmbd,
            ["heads"] = config.NHead,
            ["sequence_len"] = config.SequenceLen,
            ["vocab_size"] = config.VocabSize,
            ["parameters"] = model.ParameterCount,
            ["flops_per_token"] = flopsPerToken,
            ["steps"] = completed,
            ["target_steps"] = o.Steps,
            ["tokens_per_step"] = tokensPerStep,
            ["tokens"] = (long)completed * tokensPerStep,
            ["seconds"] = wall.Elapsed.TotalSeconds,
            ["train_seconds"] = trainSeconds,
            ["tokens_per_s"] = tokensPerSecond,
            ["gflops_per_s"] = tokensPerSecond * flopsPerToken / 1e9,
            ["peak_gflops"] = peak,
            ["device"] = run.Device.Accelerator?.Name ?? "cpu",
            ["peak_memory_bytes"] = run.Device.PeakLiveBytes,
            ["precision"] = precision,
            ["mfu"] = peak > 0 ? tokensPerSecond * flopsPerToken / (peak * 1e9) : 0,
            ["final_loss"] = double.IsFinite(lastLoss) ? lastLoss : 0,
            ["val_bpb"] = double.IsFinite(lastBpb) ? lastBpb : 0,
            ["interrupted"] = completed < o.Steps,
        };
        if (completed < o.Steps)
            log($"stopped at step {completed}/{o.Steps}; checkpoint saved to {run.BaseDir}. Continue with `nanochat pretrain --resume` and the same options.");
        else
            log($"done: {completed} steps in {wall.Elapsed.TotalSeconds:F0} s, {tokensPerSecond:N0} tok/s, {tokensPerSecond * flopsPerToken / 1e9:F1} GFLOP/s" +
                (peak > 0 ? $" (MFU {100 * tokensPerSecond * flopsPerToken / (peak * 1e9):F1}% of {peak:F0})" : "") +
                $", val bpb {lastBpb:F4}; checkpoint in {run.BaseDir}");
        new MetricsStore(run.MetricsDir).Write("pretrain", metrics);
        return metrics;
    }
}
