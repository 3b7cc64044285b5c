using System.Diagnostics;
using System.Globalization;
using Engine.Gpu;
using Engine.NN;
using Engine.Optim;

namespace Engine.Benchmarks;

/// <summary>
/// One GPT training step on Engine's GPU backend, end to end as a trainer runs it: token ids made on the
/// host and uploaded, forward, loss, backward, Muon for the block matrices and AdamW for the embeddings,
/// gradients zeroed. The peer is tools/bench/train_step_torch.py --device cuda (the same model and
/// optimizers in PyTorch, fp32 with TF32 off unless asked), run in the same device call by
/// tools/gpu/run-bench.sh. Timed with a host stopwatch around whole synchronised steps (a step ends in
/// host reads: the loss), median of the timed steps.
/// <code>Engine.Benchmarks gpu-train-step [--config issue2|small|d12|d20] [--batch ROWS] [--iterations N] [--autocast] [--emulated]</code>
/// <c>--batch</c> replaces the config's 8 rows (NanoChat's d12 preset trains on 16, d20 on 8).
/// <c>--autocast</c> turns on <see cref="Device.Autocast"/> (bf16 tensor cores); its peer is
/// train_step_torch.py --autocast (torch.autocast(bfloat16)), and MFU is then against the bf16 tensor peak.
/// <c>--emulated</c> runs on the CPU interpreter (a smoke test of the harness, not a timing).
/// </summary>
internal static class GpuTrainStepBenchmark
{
    /// <summary>The shapes: issue2 is issue #2's CPU benchmark model; small is NanoChat's small preset; d12 is nanochat's depth-12 model.</summary>
    internal static (GptConfig Model, int Batch) Shape(string name) => name switch
    {
        "issue2" => (new GptConfig { SequenceLen = 256, VocabSize = 4096, NLayer = 4, NHead = 4, NKvHead = 4, NEmbd = 256, WindowPattern = "L" }, 8),
        "small" => (new GptConfig { SequenceLen = 512, VocabSize = 4096, NLayer = 6, NHead = 4, NKvHead = 4, NEmbd = 256, WindowPattern = "L" }, 8),
        "d12" => (new GptConfig { SequenceLen = 2048, VocabSize = 65536, NLayer = 12, NHead = 6, NKvHead = 6, NEmbd = 768, WindowPattern = "SSSL" }, 8),
        "d20" => (new GptConfig { SequenceLen = 2048, VocabSize = 65536, NLayer = 20, NHead = 10, NKvHead = 10, NEmbd = 1280, WindowPattern = "SSSL" }, 8),
        "micro" => (new GptConfig { SequenceLen = 16, VocabSize = 64, NLayer = 1, NHead = 2, NKvHead = 1, NEmbd = 32, WindowPattern = "L" }, 2),
        _ => throw new ArgumentException($"Unknown config '{name}': issue2, small, d12, d20 or micro."),
    };

    public static int Run(string[] args)
    {
        string config = "issue2";
        int? rows = null;
        bool emulated = args.Contains("--emulated");
        for (int i = 0; i + 1 < args.Length; i++)
        {
            if (args[i] == "--config")
            {
                config = args[i + 1];
            }
            else if (args[i] == "--batch")
            {
                rows = int.TryParse(args[i + 1], out int b) && b > 0 ? b
                    : throw new ArgumentException($"--batch takes a positive number of rows; got '{args[i + 1]}'.");
            }
        }
        Accelerator? accelerator;
        int iterations;
        if (emulated)
        {
            accelerator = new CpuAccelerator(32);
            iterations = 2;
            config = "micro";
            Console.WriteLine("device: emulated (CPU interpreter): a smoke test of the harness, not a timing");
        }
        else
        {
            accelerator = GpuBenchmark.Open("gpu-train-step", args, 20, out iterations);
            if (accelerator is null)
            {
                return 1;
            }
        }
        using (accelerator)
        {
            var device = Device.FromAccelerator(accelerator);
            device.Autocast = args.Contains("--autocast");
            var (modelConfig, batch) = Shape(config);
            batch = rows ?? batch;
            using var model = new Gpt(modelConfig, seed: 0, device: device);
            using var optimizers = new GptOptimizers(model);
            var schedule = new LrSchedule(1_000_000);
            var random = new Random(0);
            int t = modelConfig.SequenceLen;
            double Step(int step)
            {
                using var scope = new TensorScope();
                var tokens = Enumerable.Range(0, batch * (t + 1)).Select(_ => (long)random.Next(modelConfig.VocabSize)).ToArray();
                var x = new long[batch * t];
                var y = new long[batch * t];
                for (int b = 0; b < batch; b++)
                {
                    Array.Copy(tokens, b * (t + 1), x, b * t, t);
                    Array.Copy(tokens, b * (t + 1) + 1, y, b * t, t);
                }
                var loss = model.Loss(Tensor.FromArray(x, batch, t), Tensor.FromArray(y, batch, t));
                loss.Backward();
                optimizers.Step(schedule, step);
                optimizers.ZeroGrad();
                return loss.Item();   // a host read: the step is finished when it returns
            }
            for (int i = 0; i < 2; i++)
            {
                Step(i);
            }
            device.Synchronize();
            var times = new List<double>();
            for (int i = 0; i < iterations; i++)
            {
                long start = Stopwatch.GetTimestamp();
                double loss = Step(2 + i);
                device.Synchronize();
                times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"engine step {i}: {times[^1]:F1} ms loss {loss:F4}"));
            }
            times.Sort();
            double median = times[times.Count / 2];
            double tokensPerSecond = batch * t / (median / 1e3);
            double flops = tokensPerSecond * model.FlopsPerToken();
            double peak = accelerator is CudaAccelerator cuda ? (device.Autocast ? cuda.PeakBFloat16Gflops : cuda.PeakFloat32Gflops) * 1e9 : 0;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"config {config} ({(device.Autocast ? "bf16 autocast" : "fp32")}): {modelConfig.NLayer} layers, width {modelConfig.NEmbd}, seq {t}, batch {batch}, vocab {modelConfig.VocabSize}, {model.ParameterCount:N0} parameters"));
            string mfu = peak > 0 ? FormattableString.Invariant($" MFU_{(device.Autocast ? "bf16" : "fp32")}={100 * flops / peak:F1}%") : "";
            Console.WriteLine(FormattableString.Invariant($"engine_ms_per_step={median:F1} tokens_per_s={tokensPerSecond:F0} TFLOP/s={flops / 1e12:F2}") + mfu +
                FormattableString.Invariant($" peak_mem_GiB={device.PeakLiveBytes / 1073741824.0:F2}"));
            return 0;
        }
    }
}
