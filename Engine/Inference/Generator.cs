using Engine.Autograd;
using Engine.NN;

namespace Engine.Inference;

/// <summary>How the next token is drawn from the logits.</summary>
/// <param name="Temperature">Divides the logits; 0 picks the most likely token (greedy).</param>
/// <param name="TopK">Keeps only the K most likely tokens before sampling; 0 keeps all.</param>
/// <param name="Seed">Seeds the random draw, so a generation can be reproduced.</param>
public sealed record SamplingOptions(double Temperature = 1.0, int TopK = 0, int Seed = 0);

/// <summary>
/// Autoregressive generation with a KV cache: the prompt is run once (prefill), then each new token
/// costs one position of attention against the cache. Tokens are yielded as they are drawn, so a
/// caller can stream them.
/// </summary>
public static class Generator
{
    /// <summary>
    /// Yields up to <paramref name="maxNewTokens"/> tokens continuing <paramref name="prompt"/>; stops
    /// early after yielding a token for which <paramref name="stop"/> returns true.
    /// </summary>
    public static IEnumerable<int> Generate(Gpt model, IReadOnlyList<int> prompt, int maxNewTokens, SamplingOptions? options = null, Func<int, bool>? stop = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (prompt.Count == 0) throw new ArgumentException("Generation needs at least one prompt token (e.g. the bos token).", nameof(prompt));
        options ??= new SamplingOptions();
        var random = new Random(options.Seed);
        int capacity = Math.Min(prompt.Count + maxNewTokens, model.MaxPositions);
        if (prompt.Count >= capacity)
            throw new ArgumentException($"The prompt has {prompt.Count} tokens; the model handles at most {model.MaxPositions} positions.", nameof(prompt));
        using var cache = new KvCache(model.Config, batch: 1, capacity, model.Wte.DType, model.Wte.Device);
        var next = prompt.Select(t => (long)t).ToArray();
        for (int produced = 0; produced < maxNewTokens && cache.Length + next.Length <= capacity; produced++)
        {
            int token;
            using (var scope = new TensorScope())
            using (GradMode.NoGrad())
            {
                using var ids = Tensor.FromArray(next, 1, next.Length);
                var logits = model.Logits(ids, cache);                     // (1, T, V)
                var last = logits.Narrow(1, next.Length - 1, 1).Reshape(-1);
                token = Sample(last.To(DType.Float32).ToArray<float>(), options, random);
            }
            yield return token;
            if (stop?.Invoke(token) == true) yield break;
            next = [token];
        }
    }

    /// <summary>Draws a token id from one row of logits.</summary>
    public static int Sample(ReadOnlySpan<float> logits, SamplingOptions options, Random random)
    {
        if (logits.Length == 0) throw new ArgumentException("Cannot sample from an empty row of logits.", nameof(logits));
        int best = 0;
        for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
        if (options.Temperature <= 0) return best;
        // Keep the top K (all when K is 0 or too large), then softmax at the temperature and draw.
        int k = options.TopK <= 0 || options.TopK > logits.Length ? logits.Length : options.TopK;
        var order = new int[logits.Length];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        var values = logits.ToArray();
        if (k < logits.Length) Array.Sort(values.Select(v => -v).ToArray(), order);
        double max = logits[best], total = 0;
        var weights = new double[k];
        for (int i = 0; i < k; i++) total += weights[i] = Math.Exp((values[order[i]] - max) / options.Temperature);
        double u = random.NextDouble() * total;
        for (int i = 0; i < k; i++)
        {
            u -= weights[i];
            if (u <= 0) return order[i];
        }
        return order[k - 1];
    }
}
