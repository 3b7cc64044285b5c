using System.Diagnostics;
using System.Globalization;
using Engine;
using Engine.Autograd;
using Engine.Data;
using Engine.IO;
using Engine.Optim;
using NanoChat.Chat;
using NanoChat.Tasks;
using NanoChat.Tokenizing;

namespace NanoChat.Training;

internal sealed record SftOptions
{
    public int Steps { get; init; } = 300;
    public int Batch { get; init; } = 16;
    /// <summary>The fraction of the pretraining learning rates SFT starts at (decaying linearly to zero).</summary>
    public double LrFraction { get; init; } = 0.5;
    public int Seed { get; init; } = 1234;
    public IReadOnlyList<string> ChatData { get; init; } = [];
    public string? From { get; init; }
    public int LogEvery { get; init; } = 10;
    /// <summary>
    /// The share of each batch's rows that are plain pretraining text (loss on every token) rather than
    /// conversations, so fine-tuning does not wash out what pretraining learned; 0 turns it off.
    /// </summary>
    public double TextFraction { get; init; } = 0.25;
    /// <summary>
    /// Tokens (rows times padded length) in one forward and backward; a batch with more is split into
    /// micro-batches of whole rows whose gradients add up to the batch's. 0: eight rows of the model's context,
    /// the pretraining micro-batch of the CPU presets. Speedrun passes its preset's micro-batch, which is
    /// what was sized to fit the GPU's memory.
    /// </summary>
    public long DeviceBatchTokens { get; init; }
}

/// <summary>
/// Stage 6: supervised fine-tuning on chat-formatted conversations. Each row is one conversation,
/// padded to the batch's longest (rounded up to 32 so few shapes recur); only the tokens the
/// assistant writes carry targets, every other position is -1 (ignored by the loss). A batch larger than
/// the device's micro-batch is split by rows and its gradients accumulated, weighted so the step is the
/// one the whole batch would take: nanochat's SFT, with the micro-batch counted in tokens rather than
/// rows because padded conversations are mostly far shorter than the context.
/// </summary>
internal static class SftTraining
{
    public const int Pad = -1;

    /// <summary>Inputs and targets (B, T) for a batch of rendered conversations; targets are -1 wherever the mask is 0 and past each row's end.</summary>
    public static (long[] X, long[] Y, int T, int Targets) Collate(IReadOnlyList<(List<int> Ids, List<byte> Mask)> rows, int maxLen, int padId)
    {
        int longest = rows.Max(r => Math.Min(r.Ids.Count, maxLen + 1)) - 1;
        int t = Math.Min(maxLen, Math.Max(1, (longest + 31) / 32 * 32));
        var x = new long[rows.Count * t];
        var y = new long[rows.Count * t];
        Array.Fill(x, padId);
        Array.Fill(y, Pad);
        int targets = 0;
        for (int b = 0; b < rows.Count; b++)
        {
            var (ids, mask) = rows[b];
            int n = Math.Min(ids.Count - 1, t);
            for (int i = 0; i < n; i++)
            {
                x[b * t + i] = ids[i];
                if (mask[i + 1] == 1) { y[b * t + i] = ids[i + 1]; targets++; }
            }
        }
        return (x, y, t, targets);
    }

    public static Dictionary<string, object> Run(RunLayout run, SftOptions o, Action<string> log, CancellationToken cancellation)
    {
        var wall = Stopwatch.StartNew();
        var tokenizer = TokenizerStage.Load(run.TokenizerDir);
        var format = new ChatFormat(tokenizer);
        string from = o.From ?? run.BaseDir;
        if (!File.Exists(Path.Combine(from, Checkpoint.ModelFile)))
            throw new UserException($"No base model in '{from}'. Run `nanochat pretrain` first (or pass --from DIR).");
        using var model = Checkpoint.Load(from, run.Device);
        if (model.Config.VocabSize != tokenizer.VocabSize)
            throw new UserException($"The model in '{from}' has a vocabulary of {model.Config.VocabSize} but the tokenizer has {tokenizer.VocabSize}.");
        var userData = o.ChatData.SelectMany(Conversation.ReadJsonl).ToList();
        var suite = TaskSuite.ForRun(run);
        log($"SFT from {from}: tasks {string.Join(", ", suite.Tasks.Select(t => $"{t.Task.Name} {t.Weight:P0}"))}" +
            (userData.Count > 0 ? $", plus {userData.Count} user conversations (30%)" : ""));

        using var optimizers = new GptOptimizers(model, 0.2 * o.LrFraction, 0.004 * o.LrFraction, 0.02 * o.LrFraction);
        var schedule = new LrSchedule(o.Steps, WarmupSteps: 0, WarmdownRatio: 1.0);
        using var stream = suite.Mixture(o.Seed, userData).GetEnumerator();
        int seq = model.Config.SequenceLen;
        int textRows = (int)Math.Round(o.Batch * Math.Clamp(o.TextFraction, 0, 1));
        using BatchLoader? text = textRows == 0 ? null : TextLoader(run, format.Bos, textRows, seq, log);
        if (text is null) textRows = 0;
        int chatRows = o.Batch - textRows;
        long deviceTokens = o.DeviceBatchTokens > 0 ? o.DeviceBatchTokens : 8L * seq;

        Directory.CreateDirectory(run.LogDir);
        using var csv = new StreamWriter(Path.Combine(run.LogDir, "sft.csv"));
        csv.WriteLine("step,loss,lr_multiplier,tokens_per_s");
        long targetsSeen = 0, tokensSeen = 0;
        double trainSeconds = 0, lastLoss = double.NaN;
        int step = ConsoleUi.WithProgress("sft", o.Steps, 0, report =>
        {
            int s = 0;
            for (; s < o.Steps && !cancellation.IsCancellationRequested; s++)
            {
                var clock = Stopwatch.StartNew();
                var rows = new List<(List<int>, List<byte>)>(chatRows);
                while (rows.Count < chatRows)
                {
                    stream.MoveNext();
                    rows.Add(format.Render(stream.Current));
                }
                var (x, y, t, targets) = Collate(rows, seq, format.Bos);
                int assistantTargets = targets;
                if (text is not null) (x, y, targets) = AppendText(text, x, y, t, targets);
                if (assistantTargets == 0) continue;
                double loss = AccumulateGradients(model, x, y, o.Batch, t, deviceTokens);
                if (!double.IsFinite(loss))
                    throw new UserException($"SFT stopped: the loss became {loss} at step {s + 1}. Nothing was saved; lower --lr-fraction.");
                optimizers.Step(schedule, s);
                optimizers.ZeroGrad();
                double seconds = clock.Elapsed.TotalSeconds;
                trainSeconds += seconds;
                targetsSeen += assistantTargets;
                tokensSeen += (long)o.Batch * t;
                lastLoss = loss;
                double tps = o.Batch * t / seconds;
                csv.WriteLine(string.Join(",", (s + 1).ToString(CultureInfo.InvariantCulture), loss.ToString("R", CultureInfo.InvariantCulture),
                    schedule.Multiplier(s).ToString("R", CultureInfo.InvariantCulture), tps.ToString("F1", CultureInfo.InvariantCulture)));
                report(s + 1, $"sft | loss {loss:F3} | {tps:N0} tok/s");
                if (!ConsoleUi.Interactive && ((s + 1) % Math.Max(1, o.LogEvery) == 0 || s == 0) || s + 1 == o.Steps)
                    log($"sft step {s + 1}/{o.Steps} | loss {loss:F4} | lrm {schedule.Multiplier(s):F2} | {tps:N0} tok/s");
            }
            return s;
        });
        csv.Flush();

        // Held-out loss: the evaluation halves of the tasks, rendered and masked the same way.
        double heldOut = HeldOutLoss(model, format, suite, seq);
        Checkpoint.Save(run.SftDir, model);
        log($"sft done: {step} steps in {wall.Elapsed.TotalSeconds:F0} s, final loss {lastLoss:F4}, held-out loss {heldOut:F4}; chat model saved to {run.SftDir}");
        var metrics = new Dictionary<string, object>
        {
            ["steps"] = step,
            ["batch"] = o.Batch,
            ["lr_fraction"] = o.LrFraction,
            ["seconds"] = wall.Elapsed.TotalSeconds,
            ["tokens_per_s"] = trainSeconds > 0 ? tokensSeen / trainSeconds : 0,
            ["assistant_tokens"] = targetsSeen,
            ["final_loss"] = double.IsFinite(lastLoss) ? lastLoss : 0,
            ["heldout_loss"] = heldOut,
            ["user_conversations"] = userData.Count,
        };
        new MetricsStore(run.MetricsDir).Write("sft", metrics);
        return metrics;
    }

    /// <summary>
    /// Forward and backward of a (rows, t) batch in micro-batches of at most <paramref name="deviceTokens"/>
    /// tokens (at least one row each), adding into the parameters' gradients. Each micro-batch's mean loss is
    /// weighted by its share of the batch's targets, so the gradients and the returned loss are the mean over
    /// every target of the batch, whatever the split. Returns that loss (NaN or infinite: the caller stops).
    /// </summary>
    internal static double AccumulateGradients(Engine.NN.Gpt model, long[] x, long[] y, int rows, int t, long deviceTokens)
    {
        if (x.Length != (long)rows * t || y.Length != x.Length)
            throw new ArgumentException($"A batch of {rows} rows of {t} tokens needs {(long)rows * t} inputs and targets; got {x.Length} and {y.Length}.");
        int perPass = (int)Math.Clamp(deviceTokens / t, 1, rows);
        int[] rowTargets = new int[rows];
        for (int i = 0; i < y.Length; i++)
            if (y[i] != Pad) rowTargets[i / t]++;
        long total = rowTargets.Sum(c => (long)c);
        if (total == 0) return 0;
        double loss = 0;
        for (int first = 0; first < rows; first += perPass)
        {
            int count = Math.Min(perPass, rows - first);
            long targets = 0;
            for (int r = first; r < first + count; r++) targets += rowTargets[r];
            if (targets == 0) continue;
            double weight = (double)targets / total;
            using var scope = new TensorScope();
            var inputs = Tensor.FromArray(x[(first * t)..((first + count) * t)], count, t);
            var outputs = Tensor.FromArray(y[(first * t)..((first + count) * t)], count, t);
            var l = model.Loss(inputs, outputs);
            double part = l.Item();
            loss += part * weight;
            if (!double.IsFinite(part)) return part;
            (perPass >= rows ? l : l * weight).Backward();
        }
        return loss;
    }

    /// <summary>Rows of the pretraining shards for mixing into SFT, or null (with a note) when the run has none.</summary>
    private static BatchLoader? TextLoader(RunLayout run, int bos, int rows, int seq, Action<string> log)
    {
        string[] shards = Directory.Exists(run.ShardDir) ? Directory.GetFiles(run.ShardDir, "train_*.bin") : [];
        if (shards.Length == 0)
        {
            log($"no pretraining shards in {run.ShardDir}: SFT runs on conversations only");
            return null;
        }
        Array.Sort(shards, StringComparer.Ordinal);
        return new BatchLoader(shards, bos, rows, seq);
    }

    /// <summary>
    /// Appends the loader's next text rows to a collated chat batch, cut to the chat rows' length
    /// <paramref name="t"/>; every text position is a target.
    /// </summary>
    internal static (long[] X, long[] Y, int Targets) AppendText(BatchLoader text, long[] x, long[] y, int t, int targets)
    {
        var (inputs, outputs) = text.Next();
        long[] tx = inputs.ToArray<long>(), ty = outputs.ToArray<long>();
        inputs.Dispose();
        outputs.Dispose();
        int rows = text.BatchSize, seq = text.SequenceLength;
        var xs = new long[x.Length + rows * t];
        var ys = new long[y.Length + rows * t];
        x.CopyTo(xs, 0);
        y.CopyTo(ys, 0);
        for (int r = 0; r < rows; r++)
        {
            Array.Copy(tx, r * seq, xs, x.Length + r * t, t);
            Array.Copy(ty, r * seq, ys, y.Length + r * t, t);
        }
        return (xs, ys, targets + rows * t);
    }

    /// <summary>Mean assistant-token loss on 32 held-out examples of each task.</summary>
    public static double HeldOutLoss(Engine.NN.Gpt model, ChatFormat format, TaskSuite suite, int seq)
    {
        var rows = suite.Tasks.SelectMany(t => t.Task.Examples(777, evaluation: true).Take(32)).Select(e => format.Render(e.Conversation)).ToList();
        double total = 0;
        long count = 0;
        using var noGrad = GradMode.NoGrad();
        foreach (var chunk in rows.Chunk(16))
        {
            var (x, y, t, targets) = Collate(chunk, seq, format.Bos);
            if (targets == 0) continue;
            using var scope = new TensorScope();
            total += model.Loss(Tensor.FromArray(x, chunk.Length, t), Tensor.FromArray(y, chunk.Length, t)).Item() * targets;
            count += targets;
        }
        return count == 0 ? 0 : total / count;
    }
}
