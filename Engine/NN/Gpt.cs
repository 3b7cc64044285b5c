using Engine.Autograd;
using static Engine.NN.Functional;

namespace Engine.NN;

/// <summary>
/// The nanochat GPT, top to bottom: token embedding, RMSNorm, blocks of
/// <c>x + attn(norm(x))</c> and <c>x + mlp(norm(x))</c> (rotary then QK-norm, causal grouped-query
/// attention with optional sliding windows, ReLU² MLP at 4× width), a final RMSNorm, an untied head,
/// logits softcapped at 15, mean cross-entropy. No biases, no norm weights. Parameter names are
/// nanochat's state_dict names, so checkpoints move between the two.
/// </summary>
public sealed class Gpt : IDisposable
{
    /// <summary>The logit softcap: logits = 15 · tanh(z / 15).</summary>
    public const double LogitSoftcap = 15.0;

    /// <summary>RMSNorm epsilon: float32 machine epsilon, as torch's rms_norm uses by default.</summary>
    public const double NormEps = 1.1920928955078125e-07;

    private readonly List<(string Name, Tensor Tensor)> _parameters = [];
    private readonly Block[] _blocks;
    private readonly Tensor _cos, _sin;

    /// <summary>The hyperparameters.</summary>
    public GptConfig Config { get; }

    /// <summary>Token embedding (vocab_size, n_embd).</summary>
    public Tensor Wte { get; }

    /// <summary>Untied output head (vocab_size, n_embd).</summary>
    public Tensor LmHead { get; }

    private sealed record Block(Tensor CQ, Tensor CK, Tensor CV, Tensor AttnProj, Tensor Fc, Tensor MlpProj, int Window);

    /// <summary>Builds the model with nanochat's initialisation drawn from <paramref name="seed"/>.</summary>
    public Gpt(GptConfig config, int seed = 0, DType dtype = DType.Float32, Device? device = null)
    {
        config.Validate();
        Config = config;
        device ??= Device.Cpu;
        int c = config.NEmbd, hd = config.HeadDim;
        using (TensorScope.Suspend())
        {
            Tensor P(string name, int rows, int cols)
            {
                var t = Tensor.Zeros([rows, cols], dtype, device);
                t.Name = name;
                t.RequiresGrad = true;
                _parameters.Add((name, t));
                return t;
            }
            Wte = P("transformer.wte.weight", config.VocabSize, c);
            _blocks = new Block[config.NLayer];
            for (int i = 0; i < config.NLayer; i++)
            {
                string a = $"transformer.h.{i}.attn.", m = $"transformer.h.{i}.mlp.";
                _blocks[i] = new Block(
                    P(a + "c_q.weight", config.NHead * hd, c),
                    P(a + "c_k.weight", config.NKvHead * hd, c),
                    P(a + "c_v.weight", config.NKvHead * hd, c),
                    P(a + "c_proj.weight", c, c),
                    P(m + "c_fc.weight", 4 * c, c),
                    P(m + "c_proj.weight", c, 4 * c),
                    config.WindowFor(i));
            }
            LmHead = P("lm_head.weight", config.VocabSize, c);
            (_cos, _sin) = RotaryTables(config.SequenceLen * 10, hd, dtype, device);
        }
        InitWeights(seed);
    }

    /// <summary>Every parameter with its nanochat state_dict name, in state_dict order.</summary>
    public IReadOnlyList<(string Name, Tensor Tensor)> NamedParameters => _parameters;

    /// <summary>The parameter called <paramref name="name"/>.</summary>
    public Tensor Parameter(string name)
    {
        foreach (var (n, t) in _parameters) if (n == name) return t;
        throw new KeyNotFoundException($"The model has no parameter '{name}'. Names follow nanochat's state_dict, e.g. 'transformer.h.0.attn.c_q.weight'.");
    }

    /// <summary>Total parameter count.</summary>
    public long ParameterCount => _parameters.Sum(p => (long)p.Tensor.Count);

    /// <summary>
    /// nanochat's initialisation: embedding N(0, 1); each linear N(0, std) with
    /// std = 1/√fan_in · min(1, √(fan_out/fan_in)); the output projections and lm_head zero, so
    /// every block starts as the identity and the first logits are uniform.
    /// </summary>
    public void InitWeights(int seed)
    {
        var random = new Random(seed);
        foreach (var (name, t) in _parameters)
        {
            if (name == "transformer.wte.weight") t.NormalInPlace(random, 0, 1.0);
            else if (name == "lm_head.weight" || name.EndsWith(".c_proj.weight", StringComparison.Ordinal)) t.Fill(0);
            else
            {
                int fanOut = t.Dims[0], fanIn = t.Dims[1];
                double std = 1.0 / Math.Sqrt(fanIn) * Math.Min(1.0, Math.Sqrt((double)fanOut / fanIn));
                t.NormalInPlace(random, 0, std);
            }
        }
    }

    /// <summary>cos and sin of position · base^(−2i/head_dim), base 10000, for positions 0 … length−1: (length, head_dim/2).</summary>
    private static (Tensor Cos, Tensor Sin) RotaryTables(int length, int headDim, DType dtype, Device device)
    {
        int half = headDim / 2;
        var cos = new double[length * half];
        var sin = new double[length * half];
        for (int i = 0; i < half; i++)
        {
            // In float64, rounded once when stored: the exact table, whatever dtype the model uses.
            double invFreq = 1.0 / Math.Pow(10000.0, 2.0 * i / headDim);
            for (int t = 0; t < length; t++)
            {
                double angle = t * invFreq;
                cos[t * half + i] = Math.Cos(angle);
                sin[t * half + i] = Math.Sin(angle);
            }
        }
        var ct = Tensor.FromArray(cos, length, half);
        var st = Tensor.FromArray(sin, length, half);
        var (c, s) = dtype == DType.Float64 ? (ct, st) : (ct.To(dtype), st.To(dtype));
        if (!ReferenceEquals(c, ct)) { ct.Dispose(); st.Dispose(); }
        if (device == Device.Cpu) return (c, s);
        var (cd, sd) = (c.CopyTo(device), s.CopyTo(device));
        c.Dispose(); s.Dispose();
        return (cd, sd);
    }

    /// <summary>The most positions the model can encode: the rotary tables cover 10 × sequence_len, as nanochat's do.</summary>
    public int MaxPositions => _cos.Dims[0];

    /// <summary>Logits (B, T, vocab_size), softcapped, for token ids <paramref name="idx"/> (B, T) at positions 0 … T−1.</summary>
    public Tensor Logits(Tensor idx) => Forward(idx, null, capped: true);

    /// <summary>
    /// Logits for <paramref name="idx"/> continuing the tokens in <paramref name="cache"/>: their keys
    /// and values are appended to the cache and attention runs over everything cached (inference only).
    /// </summary>
    public Tensor Logits(Tensor idx, Inference.KvCache cache) => Forward(idx, cache ?? throw new ArgumentNullException(nameof(cache)), capped: true);

    /// <summary>The head's output, softcapped when <paramref name="capped"/>.</summary>
    private Tensor Forward(Tensor idx, Inference.KvCache? cache, bool capped)
    {
        var logits = Linear(Hidden(idx, cache), LmHead);                          // (B, T, V)
        return capped ? logits.Softcap(LogitSoftcap) : logits;
    }

    /// <summary>The final norm's output (B, T, C): what the head multiplies.</summary>
    private Tensor Hidden(Tensor idx, Inference.KvCache? cache)
    {
        if (idx.Rank != 2)
            throw new ArgumentException($"GPT input must be token ids of shape (batch, time), got {ShapeUtil.Format(idx.Dims)}.");
        int b = idx.Dims[0], t = idx.Dims[1], start = cache?.Length ?? 0;
        if (start + t > MaxPositions)
            throw new ArgumentException($"Positions {start} to {start + t - 1} go past the rotary tables ({MaxPositions} positions, 10 × sequence_len).");
        int h = Config.NHead, hk = Config.NKvHead, d = Config.HeadDim, c = Config.NEmbd;
        var cos = _cos.Narrow(0, start, t);
        var sin = _sin.Narrow(0, start, t);

        // Activations that no backward reads are freed as soon as they are used (PyTorch frees them when the
        // last reference goes; here the step's scope would hold them to its end). No backward here reads: the
        // embedding's output, the residual stream after the first norm (RMSNorm's backward works from its
        // output, Add's reads nothing), the projections before the rotation and the rotated q and k before
        // their norm (rotary's backward rotates the gradient back), the outputs added to the residual, and the
        // MLP's pre-activation (relu²'s derivative comes from its output). Kept: the inputs of the products,
        // the norms' outputs, v and the attention's output. Over half of a layer's activations go, and the
        // peak of a training step is the end of its forward. The kept ones go during the backward, each once
        // its own node's backward (the last to read it) has run, as PyTorch frees saved tensors (Saved).
        bool training = cache is null;
        void Saved(params Tensor[] activations)
        {
            if (training) foreach (var a in activations) a.FreeAfterBackward = true;
        }
        var embedded = Embedding(idx, Wte);
        var x = RmsNorm(embedded, NormEps);                                      // (B, T, C)
        Free(embedded);
        Saved(x);
        for (int layer = 0; layer < _blocks.Length; layer++)
        {
            var blk = _blocks[layer];
            var input = x;
            var xn = RmsNorm(input, NormEps);
            var q0 = Linear(xn, blk.CQ);
            var k0 = Linear(xn, blk.CK);
            var q = q0.Reshape(b, t, h, d);                                    // (B, T, H, D)
            var k = k0.Reshape(b, t, hk, d);                                   // (B, T, Hkv, D)
            var v0 = Linear(xn, blk.CV);
            var v = v0.Reshape(b, t, hk, d);
            var qr = Rotary(q, cos, sin);
            var kr = Rotary(k, cos, sin);
            Free(q0, q, k0, k);
            q = RmsNorm(qr, NormEps);
            k = RmsNorm(kr, NormEps);
            Free(qr, kr);
            Saved(xn, v0, v, q, k);
            if (cache is not null) (k, v) = cache.Append(layer, k, v);         // (B, start + T, Hkv, D)
            var attended = CausalAttention(q, k, v, blk.Window);
            var y = attended.Reshape(b, t, c);                                 // (B, T, C)
            Saved(attended, y);
            var attn = Linear(y, blk.AttnProj);
            var mid = input + attn;
            Free(attn);
            // The first layer's input is the embedding norm's output, which that norm's backward reads.
            if (layer > 0) Free(input);
            var normed = RmsNorm(mid, NormEps);
            var pre = Linear(normed, blk.Fc);                                  // (B, T, 4C)
            var hidden = pre.ReluSquared();
            Free(pre);
            Saved(normed, hidden);
            var mlp = Linear(hidden, blk.MlpProj);
            x = mid + mlp;
            Free(mlp, mid);
        }
        cache?.Advance(t);
        var last = x;
        x = RmsNorm(last, NormEps);
        if (_blocks.Length > 0) Free(last);
        Saved(x);
        return x;
    }

    private static void Free(params Tensor[] activations)
    {
        foreach (var a in activations) a.FreeActivation();
    }

    /// <summary>Mean cross-entropy of next-token predictions; targets equal to -1 are ignored.</summary>
    public Tensor Loss(Tensor idx, Tensor targets)
    {
        if (!ShapeUtil.SameShape(idx.Dims, targets.Dims))
            throw new ArgumentException($"Targets {ShapeUtil.Format(targets.Dims)} must have the shape of the inputs {ShapeUtil.Format(idx.Dims)}.");
        // The head, the softcap and the cross-entropy in one op that goes through the rows in chunks: the
        // (B·T, V) logits, the largest activation of a step by far, are never held whole.
        var hidden = Hidden(idx, null);
        var rows = hidden.Reshape(-1, Config.NEmbd);
        rows.FreeAfterBackward = true;      // a view: the final norm's output goes only once both have let go
        return LinearCrossEntropy(rows, LmHead, targets.Reshape(-1), ignoreIndex: -1, softcap: LogitSoftcap);
    }

    /// <summary>
    /// Each position's cross-entropy (B, T) against <paramref name="targets"/> (ignored ones, -1, get 0), with
    /// no gradient and without holding the (B, T, V) logits: what bits-per-byte sums. Computed as the loss is.
    /// </summary>
    public Tensor TokenLosses(Tensor idx, Tensor targets)
    {
        if (!ShapeUtil.SameShape(idx.Dims, targets.Dims))
            throw new ArgumentException($"Targets {ShapeUtil.Format(targets.Dims)} must have the shape of the inputs {ShapeUtil.Format(idx.Dims)}.");
        using var noGrad = GradMode.NoGrad();
        var hidden = Hidden(idx, null);
        var losses = LinearCrossEntropyPerToken(hidden.Reshape(-1, Config.NEmbd), LmHead, targets.Reshape(-1), ignoreIndex: -1, softcap: LogitSoftcap);
        return losses.Reshape(idx.Dims);
    }

    /// <summary>
    /// Training FLOPs per token, as nanochat estimates them: 6 per non-embedding parameter (forward
    /// and backward of every matmul) plus 12·L·H·Q·T for attention scores and values.
    /// </summary>
    public double FlopsPerToken()
    {
        long nonEmbedding = ParameterCount - Wte.Count;
        return 6.0 * nonEmbedding + 12.0 * Config.NLayer * Config.NHead * Config.HeadDim * Config.SequenceLen;
    }

    /// <summary>Frees the parameters, their gradients and the rotary tables.</summary>
    public void Dispose()
    {
        foreach (var (_, t) in _parameters)
        {
            t.Grad?.Dispose();
            t.Dispose();
        }
        _cos.Dispose();
        _sin.Dispose();
    }
}
