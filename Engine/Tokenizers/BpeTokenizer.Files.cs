using System.Text;
using System.Text.Json;
using Engine.IO;

namespace Engine.Tokenizers;

public sealed partial class BpeTokenizer
{
    /// <summary>The mergeable ranks' file name inside a tokenizer folder (tiktoken's text format).</summary>
    public const string RanksFileName = "tokenizer.tiktoken";

    /// <summary>The file name, inside a tokenizer folder, of the JSON with the split pattern and the special tokens.</summary>
    public const string ConfigFileName = "tokenizer.json";

    private const string FormatName = "engine-bpe";
    private const int FormatVersion = 1;

    /// <summary>
    /// Saves the tokenizer into <paramref name="directory"/> as two files, each written atomically:
    /// <see cref="RanksFileName"/>, in tiktoken's format (one line per mergeable token: its bytes in base64, a space, its rank;
    /// <c>tiktoken.load.load_tiktoken_bpe</c> reads it), and <see cref="ConfigFileName"/>, with the split pattern and each special token's id.
    /// </summary>
    /// <param name="directory">The folder; created if missing. Existing files of these names are replaced.</param>
    public void Save(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var ranks = new StringBuilder(MergeableCount * 12);
        for (int id = 0; id < MergeableCount; id++)
            ranks.Append(Convert.ToBase64String(_tokens[id])).Append(' ').Append(id).Append('\n');
        AtomicFile.WriteAllText(Path.Combine(directory, RanksFileName), ranks.ToString());

        AtomicFile.Write(Path.Combine(directory, ConfigFileName), stream =>
        {
            using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
            json.WriteStartObject();
            json.WriteString("format", FormatName);
            json.WriteNumber("version", FormatVersion);
            json.WriteString("mergeable_ranks", RanksFileName);
            json.WriteNumber("mergeable_count", MergeableCount);
            json.WriteString("pattern", SplitPattern);
            json.WriteStartObject("special_tokens");
            for (int i = 0; i < _specials.Length; i++) json.WriteNumber(_specials[i], MergeableCount + i);
            json.WriteEndObject();
            json.WriteEndObject();
        });
    }

    /// <summary>Loads a tokenizer saved by <see cref="Save"/>.</summary>
    /// <param name="directory">The folder holding <see cref="RanksFileName"/> and <see cref="ConfigFileName"/>.</param>
    /// <exception cref="FileNotFoundException">A file is missing.</exception>
    /// <exception cref="InvalidDataException">A file is malformed; the message names the file, the line (for the ranks) and what is wrong.</exception>
    public static BpeTokenizer Load(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var configPath = Path.Combine(directory, ConfigFileName);
        if (!File.Exists(configPath)) throw new FileNotFoundException($"No tokenizer config at '{configPath}'; save one with BpeTokenizer.Save.", configPath);
        var (pattern, specials, ranksName) = ReadConfig(configPath);
        var ranksPath = Path.Combine(directory, ranksName);
        if (!File.Exists(ranksPath)) throw new FileNotFoundException($"'{configPath}' names the ranks file '{ranksName}', which is not in '{directory}'.", ranksPath);
        var tokens = ReadRanks(ranksPath);

        var ordered = specials.OrderBy(s => s.Id).ToList();
        for (int i = 0; i < ordered.Count; i++)
            if (ordered[i].Id != tokens.Count + i)
                throw new InvalidDataException(
                    $"{configPath}: special token '{ordered[i].Name}' has id {ordered[i].Id}, but special ids must follow the {tokens.Count} mergeable tokens without gaps (expected {tokens.Count + i}).");
        try
        {
            return new BpeTokenizer(tokens, ordered.Select(s => s.Name).ToList(), pattern);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{directory}: the saved tokenizer is inconsistent: {e.Message}", e);
        }
    }

    private static (string Pattern, List<(string Name, int Id)> Specials, string RanksName) ReadConfig(string path)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON (line {e.LineNumber + 1}): {e.Message}", e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: expected a JSON object at the top level, found {root.ValueKind}.");
            string format = RequireString(root, "format", path);
            if (format != FormatName) throw new InvalidDataException($"{path}: \"format\" is \"{format}\", expected \"{FormatName}\".");
            if (!root.TryGetProperty("version", out var version) || version.ValueKind != JsonValueKind.Number || !version.TryGetInt32(out int v))
                throw new InvalidDataException($"{path}: \"version\" is missing or not an integer.");
            if (v > FormatVersion) throw new InvalidDataException($"{path}: version {v} is newer than this library reads ({FormatVersion}); update Engine.");
            string pattern = RequireString(root, "pattern", path);
            string ranksName = root.TryGetProperty("mergeable_ranks", out var rn) && rn.ValueKind == JsonValueKind.String ? rn.GetString()! : RanksFileName;
            if (ranksName.Length == 0 || Path.GetFileName(ranksName) != ranksName)
                throw new InvalidDataException($"{path}: \"mergeable_ranks\" must be a plain file name in the same folder, found \"{ranksName}\".");
            if (!root.TryGetProperty("special_tokens", out var sp) || sp.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{path}: \"special_tokens\" is missing or not an object of name: id.");
            var specials = new List<(string, int)>();
            foreach (var p in sp.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out int id) || id < 0)
                    throw new InvalidDataException($"{path}: special token '{p.Name}' has id {p.Value.GetRawText()}; expected a non-negative integer.");
                specials.Add((p.Name, id));
            }
            return (pattern, specials, ranksName);
        }
    }

    private static string RequireString(JsonElement root, string name, string path)
        => root.TryGetProperty(name, out var e) && e.ValueKind == JsonValueKind.String ? e.GetString()!
            : throw new InvalidDataException($"{path}: \"{name}\" is missing or not a string.");

    private static List<byte[]> ReadRanks(string path)
    {
        var tokens = new List<byte[]>();
        var seen = new Dictionary<byte[], int>(ByteSequenceComparer.Instance);
        int lineNumber = 0;
        foreach (var raw in File.ReadLines(path, Encoding.UTF8))
        {
            lineNumber++;
            var line = raw.TrimEnd('\r');
            if (line.Length == 0) continue;   // tiktoken skips blank lines too
            int space = line.IndexOf(' ');
            if (space <= 0 || line.IndexOf(' ', space + 1) >= 0)
                throw new InvalidDataException($"{path}, line {lineNumber}: expected '<base64 bytes> <rank>', found '{Clip(line)}'.");
            byte[] bytes;
            try
            {
                bytes = Convert.FromBase64String(line[..space]);
            }
            catch (FormatException)
            {
                throw new InvalidDataException($"{path}, line {lineNumber}: '{Clip(line[..space])}' is not valid base64.");
            }
            if (bytes.Length == 0) throw new InvalidDataException($"{path}, line {lineNumber}: the token is empty; every token must be at least one byte.");
            if (!int.TryParse(line.AsSpan(space + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int rank))
                throw new InvalidDataException($"{path}, line {lineNumber}: the rank '{Clip(line[(space + 1)..])}' is not a non-negative integer.");
            if (rank != tokens.Count)
                throw new InvalidDataException($"{path}, line {lineNumber}: rank {rank} out of order; ranks must run 0, 1, 2, ... without gaps (expected {tokens.Count}).");
            if (!seen.TryAdd(bytes, rank))
                throw new InvalidDataException($"{path}, line {lineNumber}: rank {rank} repeats the bytes of rank {seen[bytes]} ({line[..space]}); each byte sequence may have one rank only.");
            tokens.Add(bytes);
        }
        if (tokens.Count == 0) throw new InvalidDataException($"{path}: no tokens; expected one line per token, '<base64 bytes> <rank>'.");
        return tokens;
    }

    private static string Clip(string s) => s.Length <= 60 ? s : s[..60] + "...";
}
