using System.Globalization;
using System.Xml.Linq;
using NanoChat;

namespace Engine.Tests.NanoChat;

/// <summary>The nanochat app end to end through its command line, at the smallest size.</summary>
public class PipelineTests
{
    private static (int Code, string Output) Nanochat(params string[] args)
    {
        var output = new StringWriter();
        int code = new Cli(output, CancellationToken.None).Invoke(args);
        return (code, output.ToString());
    }

    [Fact]
    public void Speedrun_runs_every_stage_on_a_generated_corpus()
    {
        var dir = Directory.CreateTempSubdirectory("nanochat-e2e-");
        try
        {
            var corpus = MicroRun.WriteCorpus(Path.Combine(dir.FullName, "corpus.txt"), documents: 400, seed: 7);
            var run = Path.Combine(dir.FullName, "run");
            var (code, output) = Nanochat("speedrun", "--preset", "micro", "--data", corpus, "--run", run);
            Assert.True(code == 0, output);
            foreach (var stage in new[] { "== data prepare ==", "== tokenizer ==", "== shards ==", "== pretrain ==", "== sft ==", "== eval ==", "== report ==" })
                Assert.Contains(stage, output);
            Assert.Contains("val bpb", output);
            Assert.Contains("MFU", output);
            Assert.Contains("peak mem", output);
            Assert.Contains("arithmetic:", output);
            foreach (var file in new[] { "tokenizer/tokenizer.tiktoken", "tokenizer/tokenizer.json", "shards/train_000.bin", "shards/val_000.bin",
                         "base/model.safetensors", "base/optimizer.safetensors", "sft/model.safetensors", "sft/config.json",
                         "metrics/pretrain.json", "metrics/sft.json", "metrics/eval.json", "report.md", "charts/pretrain_loss.svg", "charts/sft_loss.svg" })
                Assert.True(File.Exists(Path.Combine(run, file)), $"{file} is missing; output:\n{output}");
            var report = File.ReadAllText(Path.Combine(run, "report.md"));
            Assert.Contains("![pretraining loss](charts/pretrain_loss.svg)", report);
            Assert.Contains("validation bits per byte", report);
            XDocument.Parse(File.ReadAllText(Path.Combine(run, "charts", "pretrain_loss.svg")));

            // The other commands against the same run folder.
            var (chatCode, chat) = Nanochat("chat", "--run", run, "--prompt", "What is 2+3?", "--max-tokens", "8");
            Assert.True(chatCode == 0, chat);
            var (encCode, enc) = Nanochat("tokenizer", "encode", "the value", "--run", run);
            Assert.Equal(0, encCode);
            var ids = enc.Trim().Split(' ');
            var (decCode, dec) = Nanochat(["tokenizer", "decode", .. ids, "--run", run]);
            Assert.Equal(0, decCode);
            Assert.Equal("the value", dec.TrimEnd('\n', '\r'));
            Assert.Equal(0, Nanochat("tokenizer", "eval", "--run", run).Code);
            Assert.Equal(0, Nanochat("report", "--run", run).Code);
        }
        finally { dir.Delete(recursive: true); }
    }

    [Fact]
    public void Without_a_gpu_cuda_and_the_gpu_presets_say_why_they_cannot_run()
    {
        Assert.SkipUnless(Device.CudaUnavailable is not null, "A CUDA GPU is present, so the messages for machines without one cannot be seen here.");
        var (code, output) = Nanochat("pretrain", "--device", "cuda");
        Assert.Equal(Cli.DeviceUnavailable, code);
        Assert.Contains("--device cuda", output);
        Assert.Contains("CUDA", output);                          // the driver's reason
        (code, output) = Nanochat("speedrun", "--preset", "d20");  // auto: the CPU here
        Assert.Equal(Cli.DeviceUnavailable, code);
        Assert.Contains("width 1280", output);     // nanochat's depth rule: 64 x 20
        Assert.Contains("10 heads", output);       // 1280 / 128
        Assert.Contains("far too large to train on the CPU", output);
    }

    [Fact]
    public void The_micro_speedrun_runs_on_the_gpu_backend_through_the_emulated_device()
    {
        // Every stage on Engine's GPU backend, its kernels interpreted on the CPU: the path a GPU run takes.
        var dir = Directory.CreateTempSubdirectory("nanochat-emulated-");
        try
        {
            var corpus = MicroRun.WriteCorpus(Path.Combine(dir.FullName, "corpus.txt"), documents: 200, seed: 3);
            var run = Path.Combine(dir.FullName, "run");
            var (code, output) = Nanochat("speedrun", "--preset", "micro", "--data", corpus, "--run", run, "--device", "emulated", "--steps", "3", "--sft-steps", "2");
            Assert.True(code == 0, output);
            Assert.Contains("val bpb", output);
            Assert.Contains("arithmetic:", output);
            Assert.True(File.Exists(Path.Combine(run, "sft", "model.safetensors")), output);
            // The checkpoint it wrote scores the same on both backends.
            var rows = Path.Combine(dir.FullName, "rows.bin");
            using (var w = new BinaryWriter(File.Create(rows)))
                for (int i = 0; i < 2 * 65; i++) w.Write((uint)(i * 37 % 300));
            double Loss(string device)
            {
                var (c, o) = Nanochat("loss", "--checkpoint", Path.Combine(run, "base"), "--tokens", rows, "--device", device);
                Assert.True(c == 0, o);
                return double.Parse(o.Trim().Split('\n')[^1]["loss=".Length..], CultureInfo.InvariantCulture);
            }
            double cpu = Loss("cpu"), emulated = Loss("emulated");
            Assert.True(Math.Abs(cpu - emulated) <= 1e-5 * cpu, $"loss {emulated:R} on the emulated device, {cpu:R} on the CPU");
        }
        finally { dir.Delete(recursive: true); }
    }

    [Fact]
    public void Missing_inputs_give_one_line_errors()
    {
        var dir = Directory.CreateTempSubdirectory("nanochat-err-");
        try
        {
            var (code, output) = Nanochat("pretrain", "--run", dir.FullName);
            Assert.Equal(Cli.Failed, code);
            Assert.Contains("tokenizer train", output);
            (code, output) = Nanochat("data", "prepare", "--data", Path.Combine(dir.FullName, "nope.txt"), "--run", dir.FullName);
            Assert.Equal(Cli.Failed, code);
            Assert.Contains("does not exist", output);
        }
        finally { dir.Delete(recursive: true); }
    }

    [Fact]
    public void Every_command_has_help()
    {
        foreach (var command in new[] { "data prepare", "data tokenize", "tokenizer train", "tokenizer encode", "tokenizer decode", "tokenizer eval",
                     "pretrain", "loss", "sft", "eval", "chat", "report", "speedrun" })
        {
            var (code, output) = Nanochat([.. command.Split(' '), "--help"]);
            Assert.Equal(0, code);
            Assert.Contains("Usage:", output);
            Assert.Contains("--run", output);
        }
        var pretrain = Nanochat("pretrain", "--help").Output;
        Assert.Contains("112 GFLOP/s per core", pretrain);         // the MFU peak's default, per device
        Assert.Contains("driver-derived peak", pretrain);
        Assert.Contains("emulated", Nanochat("--help").Output);    // the --device choices
    }
}
