using Engine.NN;

namespace NanoChat.Training;

/// <summary>
/// A whole run's sizes: data, tokenizer, model, batch and steps for pretraining and SFT, and the
/// evaluation budget. CPU presets are sized to this repository's 2-core dev box; GPU presets follow
/// nanochat's speedrun (n_embd = 64·depth, 128-wide heads, 2048 context, 524,288-token batches).
/// </summary>
internal sealed record Preset(
    string Name,
    bool NeedsGpu,
    int VocabSize,
    int Depth,
    int Width,
    int Heads,
    int KvHeads,
    int SequenceLen,
    string WindowPattern,
    int DeviceBatch,
    int TotalBatchTokens,
    int PretrainSteps,
    int EvalEvery,
    int EvalBatches,
    int SftSteps,
    int SftBatch,
    int EvalQuestions,
    int MaxDocuments)
{
    /// <summary>
    /// Pretraining steps: the preset's, or for the GPU presets (0) nanochat's rule of 20 training tokens per
    /// parameter (Chinchilla), in whole steps of <see cref="TotalBatchTokens"/>: 7,080 for d12, 21,400 for d20.
    /// </summary>
    public int DefaultPretrainSteps
    {
        get
        {
            if (PretrainSteps > 0) return PretrainSteps;
            var c = ModelConfig(VocabSize);
            long perLayer = (long)c.NEmbd * (c.NHead * c.HeadDim) + 2L * c.NEmbd * (c.NKvHead * c.HeadDim) + (long)c.NEmbd * c.NEmbd + 8L * c.NEmbd * c.NEmbd;
            long parameters = 2L * c.VocabSize * c.NEmbd + c.NLayer * perLayer;
            return (int)((20 * parameters + TotalBatchTokens - 1) / TotalBatchTokens);
        }
    }

    public GptConfig ModelConfig(int vocabSize) => new()
    {
        SequenceLen = SequenceLen,
        VocabSize = vocabSize,
        NLayer = Depth,
        NHead = Heads,
        NKvHead = KvHeads,
        NEmbd = Width,
        WindowPattern = WindowPattern,
    };

    /// <summary>
    /// nanochat's depth rule: width 64·depth, head dimension 128 (heads rounded up). Micro-batches of 16
    /// rows (d12) and 8 (d20) where nanochat uses 32: Engine keeps activations in fp32 (autocast only
    /// narrows the operands of products). What a step holds was measured on the CPU with these very models
    /// (same graph code as the GPU backend) at two batch sizes (`Engine.Benchmarks step-memory`): a forward keeps 370 KiB a token for d12 and
    /// 1,017 KiB for d20 (the loss never holds the logits whole), and the backward, which frees activations
    /// as it goes while the gradients appear, peaks about 0.2 GiB (d12) / 0.3 GiB (d20) above that. With the
    /// weights, the optimizer states and the loss's 1 GiB chunk of logits on a GPU: about 15 GiB for d12 at 16
    /// rows and 22 GiB for d20 at 8, a margin of three on an 80 GB GPU for the caching allocator and autocast's
    /// bf16 copies. Gradient accumulation keeps the
    /// 524,288-token step. Not yet run on a GPU: `--device-batch` changes them.
    /// </summary>
    public static Preset Gpu(string name, int depth, int deviceBatch)
    {
        int width = 64 * depth;
        int heads = Math.Max(1, (width + 127) / 128);
        return new Preset(name, NeedsGpu: true, VocabSize: 65536, depth, width, heads, heads, SequenceLen: 2048, WindowPattern: "SSSL",
            DeviceBatch: deviceBatch, TotalBatchTokens: 524_288, PretrainSteps: 0, EvalEvery: 250, EvalBatches: 40,
            SftSteps: 700, SftBatch: 32, EvalQuestions: 200, MaxDocuments: 0);
    }

    // tiny: about 15 minutes end to end on 2 cores (measured in docs/nanochat.md). A 4-layer,
    // 128-wide model at 256 tokens of context is what 2 cores can train usefully in ~8 minutes.
    public static readonly Preset Tiny = new("tiny", NeedsGpu: false, VocabSize: 2048, Depth: 4, Width: 128, Heads: 2, KvHeads: 2,
        SequenceLen: 256, WindowPattern: "L", DeviceBatch: 8, TotalBatchTokens: 8192, PretrainSteps: 500, EvalEvery: 100, EvalBatches: 8,
        SftSteps: 1200, SftBatch: 16, EvalQuestions: 50, MaxDocuments: 0);

    // small: a longer CPU run (about an hour on 2 cores).
    public static readonly Preset Small = new("small", NeedsGpu: false, VocabSize: 4096, Depth: 6, Width: 256, Heads: 4, KvHeads: 4,
        SequenceLen: 512, WindowPattern: "L", DeviceBatch: 8, TotalBatchTokens: 8192, PretrainSteps: 1000, EvalEvery: 100, EvalBatches: 16,
        SftSteps: 800, SftBatch: 16, EvalQuestions: 100, MaxDocuments: 0);

    // micro: a smoke test of the whole pipeline in seconds (the tests use it); learns nothing useful.
    public static readonly Preset Micro = new("micro", NeedsGpu: false, VocabSize: 300, Depth: 1, Width: 32, Heads: 2, KvHeads: 1,
        SequenceLen: 64, WindowPattern: "L", DeviceBatch: 4, TotalBatchTokens: 512, PretrainSteps: 6, EvalEvery: 3, EvalBatches: 2,
        SftSteps: 4, SftBatch: 4, EvalQuestions: 2, MaxDocuments: 2000);

    public static IReadOnlyDictionary<string, Preset> All { get; } = new Dictionary<string, Preset>(StringComparer.OrdinalIgnoreCase)
    {
        ["micro"] = Micro,
        ["tiny"] = Tiny,
        ["small"] = Small,
        ["d12"] = Gpu("d12", 12, deviceBatch: 16),
        ["d20"] = Gpu("d20", 20, deviceBatch: 8),
    };

    public static Preset Get(string name) => All.TryGetValue(name, out var p) ? p
        : throw new UserException($"Unknown preset '{name}'. Presets: {string.Join(", ", All.Keys)}.");
}
