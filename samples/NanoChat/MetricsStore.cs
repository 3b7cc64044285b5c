using System.Text.Json;
using System.Text.Json.Nodes;

using NanoChat.Data;

namespace NanoChat;

/// <summary>One JSON file of numbers per stage under run/metrics, which the report collects.</summary>
internal sealed class MetricsStore(string directory)
{
    public string Directory { get; } = directory;

    public void Write(string stage, Dictionary<string, object> values)
    {
        System.IO.Directory.CreateDirectory(Directory);
        Engine.IO.AtomicFile.WriteAllBytes(PathOf(stage), JsonSerializer.SerializeToUtf8Bytes(values, Json.Indented));
    }

    /// <summary>Adds <paramref name="values"/> to the stage's file, keeping keys it already has.</summary>
    public void Merge(string stage, Dictionary<string, object> values)
    {
        var merged = new Dictionary<string, object>();
        if (Read(stage) is { } old)
            foreach (var (k, v) in old) merged[k] = v;
        foreach (var (k, v) in values) merged[k] = v;
        Write(stage, merged);
    }

    public Dictionary<string, JsonElement>? Read(string stage)
    {
        var path = PathOf(stage);
        if (!File.Exists(path)) return null;
        return JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(File.ReadAllText(path));
    }

    private string PathOf(string stage) => Path.Combine(Directory, stage + ".json");
}
