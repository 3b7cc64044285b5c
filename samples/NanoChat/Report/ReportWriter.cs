using System.Globalization;
using System.Text;
using System.Text.Json;

namespace NanoChat.Report;

/// <summary>
/// Stage 9: report.md in the run folder: the stages' configuration, data sizes, times and
/// throughput, the metrics table, and the loss curves as SVG charts beside it.
/// </summary>
internal static class ReportWriter
{
    public static string Write(RunLayout run)
    {
        var metrics = new MetricsStore(run.MetricsDir);
        Directory.CreateDirectory(run.ChartDir);
        var md = new StringBuilder();
        md.AppendLine("# nanochat run report").AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Run folder: `{Path.GetFullPath(run.Root)}`  ").AppendLine(CultureInfo.InvariantCulture, $"Written: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC  ");
        md.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} logical cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}, device: CPU").AppendLine();

        if (metrics.Read("speedrun") is { } sr)
        {
            md.AppendLine("## Speedrun").AppendLine();
            md.AppendLine(CultureInfo.InvariantCulture, $"Preset `{Str(sr, "preset")}`, total wall time **{Num(sr, "seconds", "F0")} s** ({FormatMinutes(sr)}).").AppendLine();
        }

        md.AppendLine("## Stages").AppendLine();
        md.AppendLine("| stage | time (s) | throughput | notes |").AppendLine("| --- | ---: | --- | --- |");
        if (ReadJson(Path.Combine(run.DataDir, "data.json")) is { } data)
            md.AppendLine(CultureInfo.InvariantCulture, $"| data prepare | {Num(data, "Seconds", "F1")} | | {Num(data, "TrainDocuments", "N0")} train / {Num(data, "ValDocuments", "N0")} validation documents, {Mb(data, "TrainBytes")} / {Mb(data, "ValBytes")} MB, {Num(data, "Members", "N0")} API members |");
        if (metrics.Read("tokenizer") is { } tok)
            md.AppendLine(CultureInfo.InvariantCulture, $"| tokenizer train | {Num(tok, "train_seconds", "F2")} | {Num(tok, "train_mb_per_s", "F1")} MB/s | vocab {Num(tok, "vocab_size", "N0")}, {Num(tok, "val_bytes_per_token", "F3")} bytes/token on validation, encode {Num(tok, "encode_mb_per_s", "F1")} MB/s |");
        if (metrics.Read("shards") is { } sh)
            md.AppendLine(CultureInfo.InvariantCulture, $"| tokenize to shards | {Num(sh, "seconds", "F1")} | | {Num(sh, "train_tokens", "N0")} train / {Num(sh, "val_tokens", "N0")} validation tokens |");
        var pre = metrics.Read("pretrain");
        if (pre is not null)
            md.AppendLine(CultureInfo.InvariantCulture, $"| pretrain | {Num(pre, "seconds", "F0")} | {Num(pre, "tokens_per_s", "N0")} tok/s, {Num(pre, "gflops_per_s", "F1")} GFLOP/s | {Num(pre, "steps", "N0")} steps x {Num(pre, "tokens_per_step", "N0")} tokens; MFU {Pct(pre, "mfu")} of an assumed {Num(pre, "peak_gflops", "F0")} GFLOP/s on {Str(pre, "device")} ({Str(pre, "precision")}), peak memory {Gib(pre, "peak_memory_bytes")} GiB |");
        var sft = metrics.Read("sft");
        if (sft is not null)
            md.AppendLine(CultureInfo.InvariantCulture, $"| sft | {Num(sft, "seconds", "F0")} | {Num(sft, "tokens_per_s", "N0")} tok/s | {Num(sft, "steps", "N0")} steps x {Num(sft, "batch", "N0")} conversations, {Num(sft, "assistant_tokens", "N0")} assistant tokens trained on |");
        var ev = metrics.Read("eval");
        if (ev is not null)
            md.AppendLine(CultureInfo.InvariantCulture, $"| eval | {Num(ev, "seconds", "F0")} | | {Num(ev, "questions_per_task", "N0")} held-out questions per task |");
        md.AppendLine();

        if (pre is not null)
        {
            md.AppendLine("## Model").AppendLine();
            md.AppendLine(CultureInfo.InvariantCulture, $"{Num(pre, "depth", "N0")} layers, width {Num(pre, "width", "N0")}, {Num(pre, "heads", "N0")} heads, context {Num(pre, "sequence_len", "N0")}, vocabulary {Num(pre, "vocab_size", "N0")}: " +
                $"{(pre.TryGetValue("parameters", out var p) ? p.GetDouble() / 1e6 : 0):F2} M parameters, {(pre.TryGetValue("flops_per_token", out var f) ? f.GetDouble() / 1e6 : 0):F1} MFLOP per token (nanochat's 6N + 12·L·H·Q·T estimate).").AppendLine();
        }

        md.AppendLine("## Metrics").AppendLine();
        md.AppendLine("| metric | value |").AppendLine("| --- | ---: |");
        if (pre is not null)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| base: final train loss | {Num(pre, "final_loss", "F4")} |");
            md.AppendLine(CultureInfo.InvariantCulture, $"| base: validation bits per byte | {Num(pre, "val_bpb", "F4")} |");
        }
        if (sft is not null)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| sft: final train loss | {Num(sft, "final_loss", "F4")} |");
            md.AppendLine(CultureInfo.InvariantCulture, $"| sft: held-out assistant-token loss | {Num(sft, "heldout_loss", "F4")} |");
        }
        if (ev is not null)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| chat model ({Str(ev, "checkpoint")}): validation bits per byte | {Num(ev, "val_bpb", "F4")} |");
            foreach (var (key, value) in ev.Where(kv => kv.Key.EndsWith("_accuracy", StringComparison.Ordinal)))
                md.AppendLine(CultureInfo.InvariantCulture, $"| {key.Replace("_accuracy", "", StringComparison.Ordinal)} accuracy | {value.GetDouble():P1} |");
            if (ev.TryGetValue("docs_overlap_f1", out var f1)) md.AppendLine(CultureInfo.InvariantCulture, $"| docs token-overlap F1 | {f1.GetDouble():F3} |");
        }
        md.AppendLine();

        var preCsv = ReadCsv(Path.Combine(run.LogDir, "pretrain.csv"));
        if (preCsv.Count > 0)
        {
            var loss = preCsv.Where(r => r.Length > 1 && r[1].Length > 0).Select(r => (Parse(r[0]), Parse(r[1]))).ToList();
            var bpb = preCsv.Where(r => r.Length > 4 && r[4].Length > 0).Select(r => (Parse(r[0]), Parse(r[4]))).ToList();
            File.WriteAllText(Path.Combine(run.ChartDir, "pretrain_loss.svg"), SvgLineChart.Render("Pretraining", "step", "loss (nats/token)", [new Series("train loss", "#1f77b4", loss)]));
            File.WriteAllText(Path.Combine(run.ChartDir, "pretrain_bpb.svg"), SvgLineChart.Render("Validation", "step", "bits per byte", [new Series("val bpb", "#d62728", bpb)]));
            md.AppendLine("## Curves").AppendLine();
            md.AppendLine("![pretraining loss](charts/pretrain_loss.svg)").AppendLine();
            md.AppendLine("![validation bits per byte](charts/pretrain_bpb.svg)").AppendLine();
        }
        var sftCsv = ReadCsv(Path.Combine(run.LogDir, "sft.csv"));
        if (sftCsv.Count > 0)
        {
            var loss = sftCsv.Where(r => r.Length > 1).Select(r => (Parse(r[0]), Parse(r[1]))).ToList();
            File.WriteAllText(Path.Combine(run.ChartDir, "sft_loss.svg"), SvgLineChart.Render("SFT", "step", "assistant-token loss", [new Series("sft loss", "#2ca02c", loss)]));
            md.AppendLine("![sft loss](charts/sft_loss.svg)").AppendLine();
        }
        Engine.IO.AtomicFile.WriteAllText(run.ReportFile, md.ToString());
        return run.ReportFile;
    }

    private static string FormatMinutes(Dictionary<string, JsonElement> m) =>
        m.TryGetValue("seconds", out var s) ? $"{s.GetDouble() / 60:F1} min" : "?";

    private static Dictionary<string, JsonElement>? ReadJson(string path) =>
        File.Exists(path) ? JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(File.ReadAllText(path)) : null;

    private static List<string[]> ReadCsv(string path) =>
        File.Exists(path) ? File.ReadLines(path).Skip(1).Where(l => l.Length > 0).Select(l => l.Split(',')).ToList() : [];

    private static double Parse(string s) => double.Parse(s, CultureInfo.InvariantCulture);

    private static string Num(Dictionary<string, JsonElement> m, string key, string format) =>
        m.TryGetValue(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble().ToString(format, CultureInfo.InvariantCulture) : "-";

    private static string Mb(Dictionary<string, JsonElement> m, string key) =>
        m.TryGetValue(key, out var v) && v.ValueKind == JsonValueKind.Number ? (v.GetDouble() / 1e6).ToString("F1", CultureInfo.InvariantCulture) : "-";

    private static string Gib(Dictionary<string, JsonElement> m, string key) =>
        m.TryGetValue(key, out var v) && v.ValueKind == JsonValueKind.Number ? (v.GetDouble() / 1073741824.0).ToString("F2", CultureInfo.InvariantCulture) : "-";

    private static string Pct(Dictionary<string, JsonElement> m, string key) =>
        m.TryGetValue(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble().ToString("P1", CultureInfo.InvariantCulture) : "-";

    private static string Str(Dictionary<string, JsonElement> m, string key) =>
        m.TryGetValue(key, out var v) ? v.ToString() : "-";
}
