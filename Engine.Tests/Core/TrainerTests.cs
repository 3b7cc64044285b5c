using Engine.Data;
using Engine.NN;
using Engine.Optim;
using Engine.Training;

namespace Engine.Tests.Core;

public class TrainerTests
{
    private static readonly GptConfig Config = new() { SequenceLen = 8, VocabSize = 20, NLayer = 2, NHead = 2, NKvHead = 1, NEmbd = 16, WindowPattern = "SL" };

    private static string MakeShard(string dir)
    {
        var r = new Random(1);
        var tokens = new List<int>();
        for (int doc = 0; doc < 200; doc++)
        {
            tokens.Add(0);
            int start = r.Next(1, 20);
            for (int i = 0; i < r.Next(3, 12); i++) tokens.Add(1 + (start + i) % 19);   // counting documents: learnable
        }
        var path = Path.Combine(dir, "train.bin");
        TokenShard.Write(path, [.. tokens], Config.VocabSize);
        return path;
    }

    private static List<double> Train(string shard, int steps, string? resumeFrom, string? checkpointDir, int stopAfter = int.MaxValue)
    {
        using var model = new Gpt(Config, seed: 3);
        using var opt = new GptOptimizers(model);
        using var loader = new BatchLoader([shard], 0, 2, Config.SequenceLen);
        var trainer = new Trainer(model, opt, new LrSchedule(steps, WarmupSteps: 2), loader, null,
            new TrainerOptions(steps, GradAccumulation: 2, CheckpointEvery: 3, CheckpointDirectory: checkpointDir));
        if (resumeFrom is not null) trainer.Resume(resumeFrom);
        var losses = new List<double>();
        using var cts = new CancellationTokenSource();
        trainer.StepCompleted += r =>
        {
            losses.Add(r.Loss);
            if (r.Step >= stopAfter) cts.Cancel();
        };
        trainer.Run(cts.Token);
        return losses;
    }

    [Fact]
    public void A_run_stopped_and_resumed_repeats_the_uninterrupted_loss_sequence()
    {
        var dir = Directory.CreateTempSubdirectory("engine-trainer-");
        try
        {
            var shard = MakeShard(dir.FullName);
            var full = Train(shard, 10, null, null);
            var ckpt = Path.Combine(dir.FullName, "ckpt");
            var first = Train(shard, 10, null, ckpt, stopAfter: 4);              // cancelled after step 4: saves on the way out
            Assert.Equal(4, first.Count);
            var rest = Train(shard, 10, ckpt, ckpt);
            Assert.Equal(full, first.Concat(rest).ToList());
            Assert.True(full[^1] < full[0], $"loss should fall: {string.Join(", ", full)}");
        }
        finally { dir.Delete(recursive: true); }
    }

    [Fact]
    public void A_non_finite_loss_stops_the_run_naming_the_step()
    {
        var dir = Directory.CreateTempSubdirectory("engine-trainer-");
        try
        {
            var shard = MakeShard(dir.FullName);
            using var model = new Gpt(Config);
            model.Wte.Fill(double.NaN);
            using var opt = new GptOptimizers(model);
            using var loader = new BatchLoader([shard], 0, 2, Config.SequenceLen);
            var trainer = new Trainer(model, opt, new LrSchedule(5), loader, null, new TrainerOptions(5));
            var e = Assert.Throws<TrainingDivergedException>(() => trainer.Run(TestContext.Current.CancellationToken));
            Assert.Contains("step 1", e.Message);
            Assert.Contains("NaN", e.Message);
        }
        finally { dir.Delete(recursive: true); }
    }
}
