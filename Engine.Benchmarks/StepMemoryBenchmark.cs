using System.Globalization;
using Engine.NN;

namespace Engine.Benchmarks;

/// <summary>
/// What one training forward and backward holds, measured on the CPU backend (the GPU backend runs the same
/// graph code, so the same tensors are live): for each config, at two row counts, the bytes live after the
/// forward and the peak above the weights (<see cref="Device.PeakLiveBytes"/>), and from the two the bytes a
/// token adds. The GPU presets' micro-batch sizes are estimated from these figures (NanoChat's Preset.cs).
/// <code>Engine.Benchmarks step-memory [--config issue2|small|d12|d20] [--seq N] [--rows A,B]</code>
/// Defaults: every config at its own context, rows 2 and 6, except d12 and d20 at 256-token rows (their 2048
/// would take minutes a pass on two cores; a token's bytes do not depend on it beyond per-row statistics).
/// While the gradients outweigh the activations (d12 and d20 at these sizes) the peak is the gradients'
/// and barely moves with the rows; at a GPU's micro-batch the activations lead and the peak is the forward's.
/// </summary>
internal static class StepMemoryBenchmark
{
    public static int Run(string[] args)
    {
        string[] configs = ["issue2", "small", "d12", "d20"];
        int? seq = null;
        int[] rows = [2, 6];
        for (int i = 0; i + 1 < args.Length; i++)
        {
            switch (args[i])
            {
                case "--config": configs = [args[i + 1]]; break;
                case "--seq": seq = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--rows": rows = args[i + 1].Split(',').Select(r => int.Parse(r, CultureInfo.InvariantCulture)).ToArray(); break;
            }
        }
        if (rows.Length != 2 || rows[0] <= 0 || rows[1] <= rows[0])
            throw new ArgumentException("--rows takes two increasing row counts, as 2,6.");
        foreach (string name in configs)
        {
            var (config, _) = GpuTrainStepBenchmark.Shape(name);
            config = config with { SequenceLen = seq ?? (config.SequenceLen > 512 ? 256 : config.SequenceLen) };
            var (forwardA, peakA) = Measure(config, rows[0]);
            var (forwardB, peakB) = Measure(config, rows[1]);
            double tokens = (rows[1] - rows[0]) * (double)config.SequenceLen;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name} ({config.NLayer} layers, width {config.NEmbd}, vocab {config.VocabSize}, seq {config.SequenceLen}): rows {rows[0]} -> {rows[1]}: " +
                $"after the forward {Mib(forwardA)} -> {Mib(forwardB)} MiB ({(forwardB - forwardA) / tokens / 1024:F1} KiB a token), " +
                $"peak above the weights {Mib(peakA)} -> {Mib(peakB)} MiB ({(peakB - peakA) / tokens / 1024:F1} KiB a token)"));
        }
        return 0;
    }

    private static string Mib(long bytes) => (bytes / 1048576.0).ToString("F1", CultureInfo.InvariantCulture);

    /// <summary>One forward and backward of <paramref name="rows"/> random rows: bytes live after the forward and the peak, both above the weights.</summary>
    private static (long AfterForward, long Peak) Measure(GptConfig config, int rows)
    {
        using var model = new Gpt(config, seed: 0);
        var random = new Random(0);
        int n = rows * config.SequenceLen;
        long weights = Device.Cpu.LiveBytes;
        using var scope = new TensorScope();
        var x = Tensor.FromArray(Enumerable.Range(0, n).Select(_ => (long)random.Next(config.VocabSize)).ToArray(), rows, config.SequenceLen);
        var y = Tensor.FromArray(Enumerable.Range(0, n).Select(_ => (long)random.Next(config.VocabSize)).ToArray(), rows, config.SequenceLen);
        long inputs = Device.Cpu.LiveBytes - weights;
        Device.Cpu.ResetPeakLiveBytes();
        var loss = model.Loss(x, y);
        long afterForward = Device.Cpu.LiveBytes - weights - inputs;
        loss.Backward();
        return (afterForward, Device.Cpu.PeakLiveBytes - weights - inputs);
    }
}
