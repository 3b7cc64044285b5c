using System.Text.Json;
using System.Text.Json.Nodes;

namespace Engine.NN;

/// <summary>
/// The nanochat GPT's hyperparameters, under nanochat's GPTConfig field names so a config.json moves
/// between the two. A field missing from a file takes nanochat's default.
/// </summary>
public sealed record GptConfig
{
    /// <summary>Context length (nanochat: sequence_len).</summary>
    public int SequenceLen { get; init; } = 2048;
    /// <summary>Vocabulary size (vocab_size).</summary>
    public int VocabSize { get; init; } = 32768;
    /// <summary>Number of transformer blocks (n_layer).</summary>
    public int NLayer { get; init; } = 12;
    /// <summary>Query heads (n_head).</summary>
    public int NHead { get; init; } = 6;
    /// <summary>Key/value heads for grouped-query attention (n_kv_head).</summary>
    public int NKvHead { get; init; } = 6;
    /// <summary>Model width (n_embd).</summary>
    public int NEmbd { get; init; } = 768;
    /// <summary>
    /// Attention span per layer (window_pattern): 'S' and 'L' tiled across layers, the last layer
    /// always 'L'. L is full causal attention; S is a causal window of <see cref="ShortWindow"/> keys.
    /// </summary>
    public string WindowPattern { get; init; } = "SSSL";

    /// <summary>Channels per head.</summary>
    public int HeadDim => NEmbd / NHead;

    /// <summary>How far back an 'S' layer reaches: ceil(sequence_len / 4 / 128) · 128 keys (query i sees keys i − w … i).</summary>
    public int ShortWindow => (SequenceLen + 4 * 128 - 1) / (4 * 128) * 128;

    /// <summary>The window of layer <paramref name="layer"/>: -1 for full causal attention, else the number of keys back.</summary>
    public int WindowFor(int layer)
    {
        if (layer == NLayer - 1) return -1;
        char c = WindowPattern[layer % WindowPattern.Length];
        return c == 'L' ? -1 : ShortWindow;
    }

    /// <summary>Throws with a message naming the bad field when the config cannot describe a model.</summary>
    public void Validate()
    {
        static void Positive(int v, string name) { if (v <= 0) throw new ArgumentException($"GPT config: {name} must be positive, got {v}."); }
        Positive(SequenceLen, "sequence_len"); Positive(VocabSize, "vocab_size"); Positive(NLayer, "n_layer");
        Positive(NHead, "n_head"); Positive(NKvHead, "n_kv_head"); Positive(NEmbd, "n_embd");
        if (NEmbd % NHead != 0) throw new ArgumentException($"GPT config: n_embd ({NEmbd}) must be a multiple of n_head ({NHead}).");
        if (HeadDim % 2 != 0) throw new ArgumentException($"GPT config: the head dimension n_embd / n_head = {HeadDim} must be even for rotary embeddings.");
        if (NHead % NKvHead != 0) throw new ArgumentException($"GPT config: n_head ({NHead}) must be a multiple of n_kv_head ({NKvHead}).");
        if (string.IsNullOrEmpty(WindowPattern) || WindowPattern.Any(c => c is not ('S' or 'L')))
            throw new ArgumentException($"GPT config: window_pattern must be a non-empty string of 'S' and 'L', got '{WindowPattern}'.");
    }

    /// <summary>The config as nanochat's JSON (snake_case fields).</summary>
    public string ToJson()
    {
        var o = new JsonObject
        {
            ["sequence_len"] = SequenceLen,
            ["vocab_size"] = VocabSize,
            ["n_layer"] = NLayer,
            ["n_head"] = NHead,
            ["n_kv_head"] = NKvHead,
            ["n_embd"] = NEmbd,
            ["window_pattern"] = WindowPattern,
        };
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Reads nanochat's config.json; missing fields take nanochat's defaults, unknown fields are ignored.</summary>
    public static GptConfig FromJson(string json)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(json); }
        catch (JsonException e) { throw new InvalidDataException($"config.json is not valid JSON: {e.Message}", e); }
        if (node is not JsonObject o) throw new InvalidDataException("config.json must hold a JSON object.");
        var d = new GptConfig();
        int Int(string key, int fallback) => o[key] is JsonValue v ? v.GetValue<int>() : fallback;
        var config = new GptConfig
        {
            SequenceLen = Int("sequence_len", d.SequenceLen),
            VocabSize = Int("vocab_size", d.VocabSize),
            NLayer = Int("n_layer", d.NLayer),
            NHead = Int("n_head", d.NHead),
            NKvHead = Int("n_kv_head", d.NKvHead),
            NEmbd = Int("n_embd", d.NEmbd),
            WindowPattern = o["window_pattern"] is JsonValue w ? w.GetValue<string>() : d.WindowPattern,
        };
        config.Validate();
        return config;
    }
}
