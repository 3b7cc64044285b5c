using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NanoChat.Data;

/// <summary>A documented API member kept for the docs question task: its short name, summary and split.</summary>
internal sealed record MemberRecord(string Id, string Name, string Summary, bool Validation);

/// <summary>What <see cref="Corpus.Prepare"/> wrote.</summary>
internal sealed record CorpusStats(string Source, int TrainDocuments, int ValDocuments, long TrainBytes, long ValBytes, int Members, double Seconds);

/// <summary>
/// Stage 1: turns the source text (the SDK's API docs, or the user's .txt/.jsonl files) into
/// documents, splits them into train and validation by a hash of their key (so the split never
/// depends on file order), and writes them as JSON lines <c>{"text": ...}</c>.
/// </summary>
internal static class Corpus
{
    /// <summary>Percent of documents held out for validation.</summary>
    public const int DefaultValPercent = 5;

    public static CorpusStats Prepare(IReadOnlyList<string> dataPaths, string outDir, Action<string> log, int valPercent = DefaultValPercent, int maxDocuments = 0)
    {
        var clock = Stopwatch.StartNew();
        Directory.CreateDirectory(outDir);
        string source;
        var documents = new List<(string Key, string Text)>();
        var members = new List<MemberRecord>();
        if (dataPaths.Count > 0)
        {
            source = string.Join(", ", dataPaths);
            foreach (var path in dataPaths)
                foreach (var text in ReadUserData(path))
                    documents.Add((text, text));
        }
        else
        {
            var files = SdkDocs.FindXmlFiles();
            if (files.Count == 0)
                throw new UserException(
                    "No .NET SDK API reference docs were found (looked for packs/Microsoft.NETCore.App.Ref/<version>/ref/<tfm>/*.xml under " +
                    string.Join(", ", SdkDocs.DotnetRoots()) + "). Install the .NET SDK, or pass your own text with --data FILE.txt|FILE.jsonl.");
            source = Path.GetDirectoryName(files[0])!;
            log($"reading {files.Count} XML doc files from {source}");
            foreach (var m in SdkDocs.ReadMembers(files))
            {
                documents.Add((m.Id, m.ToDocument()));
                members.Add(new MemberRecord(m.Id, m.DisplayName, m.Summary, IsValidation(m.Id, valPercent)));
            }
        }
        if (maxDocuments > 0 && documents.Count > maxDocuments)
        {
            // Keep a deterministic, evenly spread subset rather than the first files only.
            documents = documents.OrderBy(d => StableHash(d.Key)).Take(maxDocuments).ToList();
            var kept = documents.Select(d => d.Key).ToHashSet(StringComparer.Ordinal);
            members = members.Where(m => kept.Contains(m.Id)).ToList();
        }
        if (documents.Count == 0) throw new UserException($"The data ({source}) holds no documents.");
        // Files list related members together (a type, then its members); ordering by the key's hash
        // spreads them out, so consecutive training batches are not all about one type.
        documents = documents.OrderBy(d => StableHash(d.Key)).ThenBy(d => d.Key, StringComparer.Ordinal).ToList();

        long trainBytes = 0, valBytes = 0;
        int trainDocs = 0, valDocs = 0;
        using (var train = new StreamWriter(Path.Combine(outDir, RunLayout.TrainFile), false, new UTF8Encoding(false)))
        using (var val = new StreamWriter(Path.Combine(outDir, RunLayout.ValFile), false, new UTF8Encoding(false)))
        {
            foreach (var (key, text) in documents)
            {
                bool isVal = IsValidation(key, valPercent);
                (isVal ? val : train).WriteLine(TextLine(text));
                long n = Encoding.UTF8.GetByteCount(text);
                if (isVal) { valBytes += n; valDocs++; } else { trainBytes += n; trainDocs++; }
            }
        }
        using (var mw = new StreamWriter(Path.Combine(outDir, RunLayout.MembersFile), false, new UTF8Encoding(false)))
            foreach (var m in members) mw.WriteLine(JsonSerializer.Serialize(m));
        if (trainDocs == 0) throw new UserException($"All {valDocs} documents fell into the validation split; give more data.");
        var stats = new CorpusStats(source, trainDocs, valDocs, trainBytes, valBytes, members.Count, clock.Elapsed.TotalSeconds);
        File.WriteAllText(Path.Combine(outDir, "data.json"), JsonSerializer.Serialize(stats, Json.Indented));
        return stats;
    }

    /// <summary>Deterministic train/validation assignment: FNV-1a of the key's UTF-8 bytes, modulo 100.</summary>
    public static bool IsValidation(string key, int valPercent = DefaultValPercent) => StableHash(key) % 100 < (ulong)valPercent;

    /// <summary>FNV-1a, 64-bit, over UTF-8: the same on every machine and run (string.GetHashCode is randomised).</summary>
    public static ulong StableHash(string key)
    {
        ulong h = 14695981039346656037;
        foreach (byte b in Encoding.UTF8.GetBytes(key)) { h ^= b; h *= 1099511628211; }
        return h;
    }

    /// <summary>
    /// Documents of a user file: a .jsonl file gives one per line (its "text" field); a .txt file
    /// gives one per paragraph (blocks separated by blank lines).
    /// </summary>
    public static IEnumerable<string> ReadUserData(string path)
    {
        if (!File.Exists(path)) throw new UserException($"Data file '{path}' does not exist.");
        if (path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
        {
            int lineNo = 0;
            foreach (var line in File.ReadLines(path))
            {
                lineNo++;
                if (string.IsNullOrWhiteSpace(line)) continue;
                string? text;
                try { text = JsonNode.Parse(line)?["text"]?.GetValue<string>(); }
                catch (Exception e) when (e is JsonException or InvalidOperationException)
                {
                    throw new UserException($"{path}:{lineNo}: not a JSON object with a string \"text\" field ({e.Message}).");
                }
                if (text is null) throw new UserException($"{path}:{lineNo}: no \"text\" field.");
                if (text.Length > 0) yield return text;
            }
        }
        else if (path.EndsWith(".txt", StringComparison.OrdinalIgnoreCase))
        {
            var paragraph = new StringBuilder();
            foreach (var line in File.ReadLines(path))
            {
                if (line.Trim().Length == 0)
                {
                    if (paragraph.Length > 0) { yield return paragraph.ToString(); paragraph.Clear(); }
                    continue;
                }
                if (paragraph.Length > 0) paragraph.Append('\n');
                paragraph.Append(line);
            }
            if (paragraph.Length > 0) yield return paragraph.ToString();
        }
        else
        {
            throw new UserException($"'{path}': --data takes .txt files (one document per paragraph) or .jsonl files ({{\"text\": ...}} per line).");
        }
    }

    /// <summary>The documents of a prepared split file.</summary>
    public static IEnumerable<string> ReadSplit(string path)
    {
        if (!File.Exists(path)) throw new UserException($"'{path}' does not exist. Run `nanochat data prepare` first.");
        foreach (var line in File.ReadLines(path))
            if (line.Length > 0) yield return JsonNode.Parse(line)!["text"]!.GetValue<string>();
    }

    /// <summary>The members file written by <see cref="Prepare"/>; empty when the corpus was the user's own.</summary>
    public static List<MemberRecord> ReadMembers(string dataDir)
    {
        var path = Path.Combine(dataDir, RunLayout.MembersFile);
        if (!File.Exists(path)) return [];
        return File.ReadLines(path).Where(l => l.Length > 0).Select(l => JsonSerializer.Deserialize<MemberRecord>(l)!).ToList();
    }

    public static string TextLine(string text) => new JsonObject { ["text"] = text }.ToJsonString();
}

internal static class Json
{
    public static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
}
