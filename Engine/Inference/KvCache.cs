using Engine.NN;

namespace Engine.Inference;

/// <summary>
/// Keys and values of every layer for the tokens seen so far, so generation computes each new
/// token's attention against the cache instead of re-running the whole prefix: prefill the prompt
/// once, then one token at a time. Buffers are (batch, capacity, n_kv_head, head_dim) per layer.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly Tensor[] _keys, _values;

    /// <summary>Allocates a cache for <paramref name="batch"/> sequences of up to <paramref name="capacity"/> tokens.</summary>
    public KvCache(GptConfig config, int batch, int capacity, DType dtype = DType.Float32, Device? device = null)
    {
        if (batch <= 0 || capacity <= 0)
            throw new ArgumentOutOfRangeException(nameof(capacity), $"A KV cache needs a positive batch and capacity, got batch {batch}, capacity {capacity}.");
        Batch = batch;
        Capacity = capacity;
        _keys = new Tensor[config.NLayer];
        _values = new Tensor[config.NLayer];
        using (TensorScope.Suspend())
        {
            for (int i = 0; i < config.NLayer; i++)
            {
                _keys[i] = Tensor.Zeros([batch, capacity, config.NKvHead, config.HeadDim], dtype, device);
                _values[i] = Tensor.Zeros([batch, capacity, config.NKvHead, config.HeadDim], dtype, device);
            }
        }
    }

    /// <summary>Sequences in the batch.</summary>
    public int Batch { get; }

    /// <summary>The most tokens the cache can hold.</summary>
    public int Capacity { get; }

    /// <summary>Tokens cached so far (the position the next token takes).</summary>
    public int Length { get; private set; }

    /// <summary>Forgets the cached tokens (the buffers stay allocated).</summary>
    public void Reset() => Length = 0;

    /// <summary>
    /// Writes <paramref name="k"/> and <paramref name="v"/> (B, T, Hkv, D) of one layer after the
    /// cached tokens and returns views of everything cached for that layer, (B, Length + T, Hkv, D).
    /// </summary>
    internal (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        int t = k.Size(1);
        if (k.Size(0) != Batch)
            throw new ArgumentException($"The KV cache holds {Batch} sequences but the input has {k.Size(0)}.");
        if (Length + t > Capacity)
            throw new InvalidOperationException($"The KV cache is full: {Length} tokens cached, {t} more do not fit in its capacity of {Capacity}. Create a larger cache or start a new conversation.");
        using (var kSlot = _keys[layer].Narrow(1, Length, t)) kSlot.CopyFrom(k);
        using (var vSlot = _values[layer].Narrow(1, Length, t)) vSlot.CopyFrom(v);
        return (_keys[layer].Narrow(1, 0, Length + t), _values[layer].Narrow(1, 0, Length + t));
    }

    /// <summary>Marks <paramref name="tokens"/> more tokens as cached (after every layer appended them).</summary>
    internal void Advance(int tokens) => Length += tokens;

    /// <summary>Frees the buffers.</summary>
    public void Dispose()
    {
        foreach (var t in _keys) t.Dispose();
        foreach (var t in _values) t.Dispose();
    }
}
