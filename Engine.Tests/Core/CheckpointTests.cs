using Engine;
using Engine.IO;
using Engine.NN;
using Engine.Optim;

namespace Engine.Tests.Core;

public class CheckpointTests
{
    private static readonly GptConfig Config = new() { SequenceLen = 8, VocabSize = 13, NLayer = 2, NHead = 2, NKvHead = 1, NEmbd = 16, WindowPattern = "SL" };

    private static double Step(Gpt model, GptOptimizers opt, LrSchedule schedule, int step)
    {
        using var scope = new TensorScope();
        var xs = Enumerable.Range(step, 2 * Config.SequenceLen).Select(i => (long)(i * 5 % Config.VocabSize)).ToArray();
        var ys = Enumerable.Range(step + 1, 2 * Config.SequenceLen).Select(i => (long)(i * 5 % Config.VocabSize)).ToArray();
        var loss = model.Loss(Tensor.FromArray(xs, 2, Config.SequenceLen), Tensor.FromArray(ys, 2, Config.SequenceLen));
        loss.Backward();
        opt.Step(schedule, step);
        opt.ZeroGrad();
        return loss.Item();
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("emulated")]
    [InlineData("cuda")]
    public void Resuming_from_a_checkpoint_continues_the_exact_loss_sequence(string kind)
    {
        if (kind == "cuda" && Device.CudaUnavailable is { } why) Assert.Skip($"No CUDA GPU: {why}");
        using var accelerator = kind == "emulated" ? new Engine.Gpu.CpuAccelerator(32) : null;
        var device = kind switch { "cpu" => Device.Cpu, "emulated" => Device.FromAccelerator(accelerator!), _ => Device.Cuda };
        var dir = Directory.CreateTempSubdirectory("engine-ckpt-");
        try
        {
            var schedule = new LrSchedule(20, WarmupSteps: 2);
            var ckpt = Path.Combine(dir.FullName, "step3");
            double[] uninterrupted = new double[6];
            using (var model = new Gpt(Config, seed: 5, device: device))
            using (var opt = new GptOptimizers(model))
            {
                for (int s = 0; s < 3; s++) uninterrupted[s] = Step(model, opt, schedule, s);
                Checkpoint.Save(ckpt, model, opt, new Dictionary<string, string> { ["step"] = "3" });
                for (int s = 3; s < 6; s++) uninterrupted[s] = Step(model, opt, schedule, s);
            }
            using var resumed = Checkpoint.Load(ckpt, device);
            using var opt2 = new GptOptimizers(resumed);
            var meta = Checkpoint.LoadTrainingState(ckpt, opt2);
            Assert.Equal("3", meta["step"]);
            for (int s = 3; s < 6; s++)
            {
                double again = Step(resumed, opt2, schedule, s);
                // Bit for bit where additions run in a fixed order; a GPU's atomic adds (the embedding's
                // backward) may reorder them from run to run.
                if (kind == "cuda") Assert.Equal(uninterrupted[s], again, 1e-6 * Math.Abs(uninterrupted[s]));
                else Assert.Equal(uninterrupted[s], again);
            }
        }
        finally { dir.Delete(recursive: true); }
    }

    [Fact]
    public void Weights_round_trip_in_fp32_and_bf16_and_files_are_plain_safetensors()
    {
        var dir = Directory.CreateTempSubdirectory("engine-ckpt-");
        try
        {
            using var model = new Gpt(Config, seed: 2);
            Checkpoint.Save(Path.Combine(dir.FullName, "f32"), model);
            Checkpoint.Save(Path.Combine(dir.FullName, "bf16"), model, weightsAs: DType.BFloat16);
            using var a = Checkpoint.Load(Path.Combine(dir.FullName, "f32"));
            using var b = Checkpoint.Load(Path.Combine(dir.FullName, "bf16"));
            foreach (var (name, p) in model.NamedParameters)
            {
                var want = p.ToArray<float>();
                Assert.Equal(want, a.Parameter(name).ToArray<float>());
                var got = b.Parameter(name).ToArray<float>();
                for (int i = 0; i < want.Length; i++)
                    Assert.True(Math.Abs(got[i] - want[i]) <= Math.Abs(want[i]) / 256 + 1e-30, $"{name}[{i}]: bf16 {got[i]} vs {want[i]}");
            }
            var file = SafeTensors.Read(Path.Combine(dir.FullName, "bf16", Checkpoint.ModelFile));
            Assert.Equal(SafeTensorDType.BF16, file["transformer.h.0.attn.c_q.weight"].DType);
            Assert.Equal(Config, Checkpoint.LoadConfig(Path.Combine(dir.FullName, "f32")));
            // Saving over an existing checkpoint replaces it whole and leaves no temporary folders.
            Checkpoint.Save(Path.Combine(dir.FullName, "f32"), model);
            Assert.Equal(["bf16", "f32"], Directory.GetDirectories(dir.FullName).Select(d => Path.GetFileName(d)!).Order().ToArray());
        }
        finally { dir.Delete(recursive: true); }
    }

    [Fact]
    public void Truncated_or_mismatched_checkpoints_fail_with_clear_messages()
    {
        var dir = Directory.CreateTempSubdirectory("engine-ckpt-");
        try
        {
            using var model = new Gpt(Config);
            var path = Path.Combine(dir.FullName, "c");
            Checkpoint.Save(path, model);
            var weights = Path.Combine(path, Checkpoint.ModelFile);
            var bytes = File.ReadAllBytes(weights);
            File.WriteAllBytes(weights, bytes[..(bytes.Length / 2)]);
            var e = Assert.ThrowsAny<InvalidDataException>(() => Checkpoint.Load(path));
            Assert.Contains("model.safetensors", e.Message);

            Checkpoint.Save(path, model);
            File.WriteAllText(Path.Combine(path, Checkpoint.ConfigFile), (Config with { NEmbd = 32 }).ToJson());
            var m = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path));
            Assert.Contains("[13, 16]", m.Message);  // what the file holds
            Assert.Contains("[13, 32]", m.Message);  // what the config asks for
            Assert.Contains("config.json", m.Message);

            Assert.Throws<FileNotFoundException>(() => Checkpoint.Load(Path.Combine(dir.FullName, "missing")));
        }
        finally { dir.Delete(recursive: true); }
    }
}
