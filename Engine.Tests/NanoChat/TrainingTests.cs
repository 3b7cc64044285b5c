using System.Buffers.Binary;
using System.Globalization;
using Engine.Data;
using Engine.IO;
using Engine.NN;
using Engine.Optim;
using Engine.Training;
using NanoChat;
using NanoChat.Training;

namespace Engine.Tests.NanoChat;

public class TrainingTests(MicroRun micro) : IClassFixture<MicroRun>
{
    private static PretrainOptions Options(int steps, bool resume = false) => new()
    {
        Model = Preset.Micro.ModelConfig(0),
        DeviceBatch = 2,
        TotalBatchTokens = 256,         // 2 rows of 64, accumulated twice
        Steps = steps,
        EvalEvery = 2,
        EvalBatches = 1,
        CheckpointEvery = 2,
        LogEvery = 1,
        Resume = resume,
        PeakGflops = 0,
    };

    private RunLayout CopyRun(string name)
    {
        var run = new RunLayout(Path.Combine(micro.Root, name));
        foreach (var dir in new[] { "data", "tokenizer", "shards" })
        {
            Directory.CreateDirectory(Path.Combine(run.Root, dir));
            foreach (var f in Directory.GetFiles(Path.Combine(micro.Run.Root, dir)))
                File.Copy(f, Path.Combine(run.Root, dir, Path.GetFileName(f)), overwrite: true);
        }
        return run;
    }

    [Fact]
    public void Gpu_presets_pretrain_for_twenty_tokens_per_parameter()
    {
        // nanochat's rule: 20 x parameters (embeddings and head included) in steps of 524,288 tokens.
        Assert.Equal(7080, Preset.Get("d12").DefaultPretrainSteps);     // 185,597,952 parameters
        Assert.Equal(21400, Preset.Get("d20").DefaultPretrainSteps);    // 560,988,160 parameters
        Assert.Equal(Preset.Tiny.PretrainSteps, Preset.Tiny.DefaultPretrainSteps);
        using var d12 = new Gpt(Preset.Get("d12").ModelConfig(65536) with { SequenceLen = 16 });
        Assert.Equal(185_597_952, d12.ParameterCount);
    }

    [Fact]
    public void Every_preset_micro_batch_divides_the_step_and_its_activations_fit_a_tensor()
    {
        foreach (var (name, p) in Preset.All)
        {
            // The largest activation a step holds whole is the MLP's hidden layer (the loss never holds all the logits).
            long hidden = (long)p.DeviceBatch * p.SequenceLen * 4 * p.Width;
            Assert.True(hidden <= int.MaxValue, $"{name}: {p.DeviceBatch} rows x {p.SequenceLen} x {4 * p.Width} = {hidden:N0} elements, more than a tensor holds");
            Assert.True(p.TotalBatchTokens % (p.DeviceBatch * p.SequenceLen) == 0, $"{name}: {p.TotalBatchTokens} tokens a step is not a whole number of {p.DeviceBatch}-row micro-batches");
        }
    }

    [Fact]
    public void Interrupted_and_resumed_pretraining_equals_an_uninterrupted_run()
    {
        var straight = CopyRun("straight");
        Pretraining.Run(straight, Options(6), _ => { }, CancellationToken.None);

        // Stop after step 3 as Ctrl+C would (the trainer saves on cancellation), then resume.
        var split = CopyRun("split");
        using var stop = new CancellationTokenSource();
        var first = Pretraining.Run(split, Options(6), line => { if (line.StartsWith("step 3/6", StringComparison.Ordinal)) stop.Cancel(); }, stop.Token);
        Assert.Equal(3, first["steps"]);
        Assert.True((bool)first["interrupted"]);
        Pretraining.Run(split, Options(6, resume: true), _ => { }, CancellationToken.None);

        using var a = Checkpoint.Load(straight.BaseDir);
        using var b = Checkpoint.Load(split.BaseDir);
        foreach (var ((name, ta), (_, tb)) in a.NamedParameters.Zip(b.NamedParameters))
            Assert.True(ta.ToArray<float>().AsSpan().SequenceEqual(tb.ToArray<float>()), $"{name} differs after resume");
        // The log of the resumed run continues the first one's.
        var steps = File.ReadLines(Path.Combine(split.LogDir, "pretrain.csv")).Skip(1).Select(l => l.Split(',')[0]).ToList();
        Assert.Equal(["0", "1", "2", "3", "4", "5", "6"], steps);
    }

    [Fact]
    public void Loss_command_equals_the_trainers_loss_on_the_same_tokens()
    {
        var config = Preset.Micro.ModelConfig(micro.Tokenizer.VocabSize);
        var dir = Path.Combine(micro.Root, "loss-ckpt");
        using var model = new Gpt(config, seed: 3);
        Checkpoint.Save(dir, model);

        const int batch = 4, batches = 3;
        var shards = micro.Run.Shards("val");
        using var rowsLoader = new BatchLoader(shards, micro.Tokenizer.BosId, batch, config.SequenceLen);
        var file = Path.Combine(micro.Root, "rows.u32");
        using (var f = File.Create(file))
        {
            Span<byte> id = stackalloc byte[4];
            for (int i = 0; i < batches; i++)
            {
                var (x, y) = rowsLoader.Next();
                long[] xs = x.ToArray<long>(), ys = y.ToArray<long>();
                x.Dispose(); y.Dispose();
                for (int r = 0; r < batch; r++)
                {
                    for (int t = 0; t < config.SequenceLen; t++) { BinaryPrimitives.WriteUInt32LittleEndian(id, (uint)xs[r * config.SequenceLen + t]); f.Write(id); }
                    BinaryPrimitives.WriteUInt32LittleEndian(id, (uint)ys[r * config.SequenceLen + config.SequenceLen - 1]);
                    f.Write(id);
                }
            }
        }

        using var loader = new BatchLoader(shards, micro.Tokenizer.BosId, batch, config.SequenceLen);
        using var optimizers = new GptOptimizers(model);
        var trainer = new Trainer(model, optimizers, new LrSchedule(1), loader, null, new TrainerOptions(1));
        double expected = trainer.Evaluate(loader, batches);

        var output = new StringWriter();
        Assert.Equal(0, new Cli(output, CancellationToken.None).Invoke(["loss", "--checkpoint", dir, "--tokens", file, "--batch", batch.ToString(CultureInfo.InvariantCulture)]));
        var last = output.ToString().TrimEnd().Split('\n')[^1];
        Assert.StartsWith("loss=", last);
        double actual = double.Parse(last["loss=".Length..], CultureInfo.InvariantCulture);
        Assert.Equal(expected, actual, 1e-6);

        // bf16 weights load too (a rounding away from fp32).
        var bf16 = Path.Combine(micro.Root, "loss-ckpt-bf16");
        Checkpoint.Save(bf16, model, weightsAs: DType.BFloat16);
        Assert.Equal(expected, LossCommand.Compute(bf16, file), 0.05);

        // Bad files: a partial row, an id outside the vocabulary.
        var bytes = File.ReadAllBytes(file);
        File.WriteAllBytes(file, bytes[..^4]);
        output = new StringWriter();
        Assert.Equal(Cli.Failed, new Cli(output, CancellationToken.None).Invoke(["loss", "--checkpoint", dir, "--tokens", file]));
        Assert.Contains("not a whole number of rows", output.ToString());
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), (uint)config.VocabSize + 5);
        File.WriteAllBytes(file, bytes);
        output = new StringWriter();
        Assert.Equal(Cli.Failed, new Cli(output, CancellationToken.None).Invoke(["loss", "--checkpoint", dir, "--tokens", file]));
        Assert.Contains("out of range", output.ToString());
    }

    [Fact]
    public void Sft_micro_batches_add_up_to_the_whole_batch_step()
    {
        // Rows of uneven target counts (one with none), split three ways: one pass, one row per pass, and
        // passes of two rows with a shorter last one. The gradients and the loss must be the whole batch's.
        using var model = new Gpt(Preset.Micro.ModelConfig(300) with { SequenceLen = 16 }, seed: 5);
        Engine.Tests.Core.BackwardMemoryTests.RandomizeZeros(model);   // nanochat starts the head and output projections at zero
        const int rows = 5, t = 16;
        var random = new Random(11);
        var x = new long[rows * t];
        var y = new long[rows * t];
        for (int i = 0; i < x.Length; i++)
        {
            int row = i / t, column = i % t;
            x[i] = random.Next(300);
            y[i] = row == 2 || column < row * 3 ? SftTraining.Pad : random.Next(300);
        }

        (double Loss, double[][] Grads) Step(long deviceTokens)
        {
            foreach (var (_, p) in model.NamedParameters)
            {
                p.Grad?.Dispose();
                p.Grad = null;
            }
            double loss = SftTraining.AccumulateGradients(model, x, y, rows, t, deviceTokens);
            return (loss, model.NamedParameters.Select(p => p.Tensor.Grad!.ToArray<float>().Select(v => (double)v).ToArray()).ToArray());
        }

        var whole = Step(rows * t);
        foreach (long tokens in new long[] { t, 2 * t + 5 })
        {
            var split = Step(tokens);
            Assert.True(Math.Abs(split.Loss - whole.Loss) <= 1e-6 * whole.Loss, $"{tokens} tokens a pass: loss {split.Loss} against {whole.Loss}");
            for (int k = 0; k < whole.Grads.Length; k++)
            {
                double diff = 0, norm = 0;
                for (int i = 0; i < whole.Grads[k].Length; i++)
                {
                    diff += Math.Pow(split.Grads[k][i] - whole.Grads[k][i], 2);
                    norm += whole.Grads[k][i] * whole.Grads[k][i];
                }
                Assert.True(norm > 0, $"{model.NamedParameters[k].Name} got no gradient");
                Assert.True(Math.Sqrt(diff / norm) < 1e-5, $"{model.NamedParameters[k].Name}, {tokens} tokens a pass: relative error {Math.Sqrt(diff / norm):E2}");
            }
        }
        Assert.Throws<ArgumentException>(() => SftTraining.AccumulateGradients(model, x, y, rows + 1, t, t));
    }
}
