using BenchmarkDotNet.Attributes;
using Engine;
using Engine.NN;
using Engine.Optim;

namespace Engine.Benchmarks;

/// <summary>
/// One full training step (forward, backward, Muon + AdamW) of the small GPT that issue #2 names:
/// 4 layers, width 256, 4 heads, sequence 256, batch 8, vocabulary 4096. The PyTorch peer is
/// tools/bench/train_step_torch.py on the same model, threads and machine; tools/bench/train_step.sh
/// runs both and prints the ratio.
/// </summary>
[MemoryDiagnoser]
public class TrainStepBenchmarks
{
    public static readonly GptConfig Config = new()
    {
        SequenceLen = 256, VocabSize = 4096, NLayer = 4, NHead = 4, NKvHead = 4, NEmbd = 256, WindowPattern = "L",
    };
    public const int Batch = 8;

    private Gpt _model = null!;
    private GptOptimizers _opt = null!;
    private Tensor _x = null!, _y = null!;
    private int _step;

    [GlobalSetup]
    public void Setup()
    {
        _model = new Gpt(Config, seed: 0);
        // Random head and projections (not nanochat's zeros) so every matmul does real work.
        var r = new Random(1);
        foreach (var (_, p) in _model.NamedParameters) p.NormalInPlace(r, 0, 0.02);
        _opt = new GptOptimizers(_model);
        var tokens = Enumerable.Range(0, Batch * (Config.SequenceLen + 1)).Select(_ => (long)r.Next(Config.VocabSize)).ToArray();
        _x = Tensor.FromArray(tokens.Take(Batch * Config.SequenceLen).ToArray(), Batch, Config.SequenceLen);
        _y = Tensor.FromArray(tokens.Skip(Batch).ToArray(), Batch, Config.SequenceLen);
    }

    [Benchmark]
    public double TrainStep()
    {
        using var scope = new TensorScope();
        var loss = _model.Loss(_x, _y);
        loss.Backward();
        _opt.Step(new LrSchedule(1_000_000), _step++);
        _opt.ZeroGrad();
        return loss.Item();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _opt.Dispose();
        _model.Dispose();
        _x.Dispose();
        _y.Dispose();
    }
}
