using System.Diagnostics;
using Engine.Data;
using Engine.Inference;
using Engine.IO;
using NanoChat.Chat;
using NanoChat.Tasks;
using NanoChat.Tokenizing;

namespace NanoChat.Evaluation;

/// <summary>
/// Stage 7: validation bits per byte on the held-out corpus and accuracy on held-out generated
/// questions, answered by greedy generation (the calculator runs during generation, as in chat).
/// </summary>
internal static class ChatEvaluation
{
    public static Dictionary<string, object> Run(RunLayout run, string? checkpoint, int questions, int bpbBatches, Action<string> log, int maxTokens = 96)
    {
        var wall = Stopwatch.StartNew();
        var tokenizer = TokenizerStage.Load(run.TokenizerDir);
        string dir = checkpoint ?? run.LatestModel;
        if (!File.Exists(Path.Combine(dir, Checkpoint.ModelFile)))
            throw new UserException($"No model in '{dir}'. Run `nanochat pretrain` (and `nanochat sft`) first, or pass --checkpoint DIR.");
        using var model = Checkpoint.Load(dir, run.Device);
        var metrics = new Dictionary<string, object> { ["checkpoint"] = Path.GetFileName(Path.GetFullPath(dir)) };

        using (var val = new BatchLoader(run.Shards("val"), tokenizer.BosId, 8, model.Config.SequenceLen))
        {
            int batches = (int)Math.Max(1, Math.Min(bpbBatches, (val.RowsPerEpoch + 7) / 8));
            double bpb = Engine.Training.Evaluation.BitsPerByte(model, val, batches, ShardWriter.TokenByteLengths(tokenizer));
            log($"{dir}: validation bits per byte {bpb:F4} ({batches} batches of 8 x {model.Config.SequenceLen})");
            metrics["val_bpb"] = bpb;
        }

        var session = new ChatSession(model, new ChatFormat(tokenizer));
        var suite = TaskSuite.ForRun(run);
        var greedy = new SamplingOptions(Temperature: 0);
        foreach (var (task, _) in suite.Tasks)
        {
            double score = 0, overlap = 0;
            int n = 0;
            TaskExample? shown = null;
            string shownReply = "";
            foreach (var example in task.Examples(seed: 2024, evaluation: true).Take(questions))
            {
                var (reply, _) = session.Complete(example.Prompt, maxTokens, greedy);
                score += task.Score(example, reply);
                if (task is DocsTask) overlap += DocsTask.Overlap(reply, example.Reference);
                if (shown is null) { shown = example; shownReply = reply; }
                n++;
            }
            if (n == 0) continue;
            metrics[task.Name + "_accuracy"] = score / n;
            string extra = task is DocsTask ? $", token-overlap F1 {overlap / n:F3}" : "";
            if (task is DocsTask) metrics["docs_overlap_f1"] = overlap / n;
            log($"{task.Name}: {score / n:P1} of {n} held-out questions{extra}");
            if (shown is not null)
                log($"  e.g. Q: {shown.Prompt.Messages[^1].Text}\n       A: {OneLine(shownReply)}\n       expected: {OneLine(shown.Reference)}");
        }
        metrics["questions_per_task"] = questions;
        metrics["seconds"] = wall.Elapsed.TotalSeconds;
        new MetricsStore(run.MetricsDir).Write("eval", metrics);
        return metrics;
    }

    private static string OneLine(string s)
    {
        s = s.Replace('\n', ' ');
        return s.Length > 120 ? s[..120] + "..." : s;
    }
}
