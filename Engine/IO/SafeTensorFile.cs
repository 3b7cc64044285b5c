using System.Diagnostics.CodeAnalysis;

namespace Engine.IO;

/// <summary>The tensors and metadata of one safetensors file, as <see cref="SafeTensors.Read(string)"/> returns them.</summary>
public sealed class SafeTensorFile
{
    private readonly Dictionary<string, SafeTensorEntry> _tensors;

    internal SafeTensorFile(string source, IReadOnlyList<SafeTensorEntry> inFileOrder, Dictionary<string, string> metadata)
    {
        Source = source;
        Names = inFileOrder.Select(e => e.Name).ToArray();
        _tensors = inFileOrder.ToDictionary(e => e.Name, StringComparer.Ordinal);
        Metadata = metadata;
    }

    /// <summary>Where the file came from: its path, or the name given to <see cref="SafeTensors.Read(ReadOnlyMemory{byte}, string)"/>.</summary>
    public string Source { get; }

    /// <summary>The tensors by name.</summary>
    public IReadOnlyDictionary<string, SafeTensorEntry> Tensors => _tensors;

    /// <summary>The tensor names in the order their data sits in the file.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>The number of tensors.</summary>
    public int Count => _tensors.Count;

    /// <summary>The <c>__metadata__</c> strings (empty when the file has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The tensor called <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No such tensor; the message lists the nearest names the file does have.</exception>
    public SafeTensorEntry this[string name] => _tensors.TryGetValue(name, out var e) ? e : throw Missing(name);

    /// <summary>The tensor called <paramref name="name"/>, if the file has one.</summary>
    public bool TryGet(string name, [MaybeNullWhen(false)] out SafeTensorEntry entry) => _tensors.TryGetValue(name, out entry);

    /// <summary>True if the file has a tensor called <paramref name="name"/>.</summary>
    public bool Contains(string name) => _tensors.ContainsKey(name);

    private KeyNotFoundException Missing(string name)
    {
        if (_tensors.Count == 0) return new KeyNotFoundException($"'{Source}' has no tensor '{name}'; it holds no tensors at all.");
        // A typo or a renamed layer usually shares a long prefix with the intended name, so show those first.
        var near = _tensors.Keys
            .OrderByDescending(k => CommonPrefix(k, name))
            .ThenBy(k => k, StringComparer.Ordinal)
            .Take(5);
        return new KeyNotFoundException(
            $"'{Source}' has no tensor '{name}'. It has {_tensors.Count} tensor(s); the nearest names are: {string.Join(", ", near)}.");
    }

    private static int CommonPrefix(string a, string b) => a.AsSpan().CommonPrefixLength(b);
}
