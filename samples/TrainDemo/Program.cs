// The first thing to run: trains a small nanochat-architecture GPT (on the GPU when there is one, else
// the CPU: Device.Default), on text that ships
// with the .NET SDK (its API reference docs), then completes a few prompts. Byte-level tokens keep
// it self-contained; samples/NanoChat (BPE tokenizer, SFT, chat) supersedes it.
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Engine;
using Engine.Autograd;
using Engine.Inference;
using Engine.NN;
using Engine.Optim;

int steps = args.Length > 1 && args[0] == "--steps" ? int.Parse(args[1]) : 1000;
const int batch = 8, seq = 128;

string text = SdkDocs.Load(maxBytes: 4_000_000);
byte[] data = Encoding.UTF8.GetBytes(text);
int split = (int)(data.Length * 0.95);
Console.WriteLine($"data: {data.Length / 1e6:F1} MB of .NET SDK reference docs, byte tokens (vocab 256); train/val split at 95%");

var config = new GptConfig { SequenceLen = seq, VocabSize = 256, NLayer = 4, NHead = 4, NKvHead = 2, NEmbd = 128, WindowPattern = "L" };
var device = Device.Default;
using var model = new Gpt(config, seed: 42, device: device);   // byte ids stay on the CPU: the model uploads them
using var opt = new GptOptimizers(model);
var schedule = new LrSchedule(steps, WarmupSteps: 0, WarmdownRatio: 0.3);
Console.WriteLine($"device: {device}{(device.Accelerator is { } gpu ? $" ({gpu.Name})" : "")}");
Console.WriteLine($"model: {model.ParameterCount / 1e6:F2} M parameters, {config.NLayer} layers, width {config.NEmbd}, {config.NHead} heads ({config.NKvHead} kv)");

var random = new Random(0);
(Tensor X, Tensor Y) Batch(int from, int to)
{
    var x = new long[batch * seq];
    var y = new long[batch * seq];
    for (int b = 0; b < batch; b++)
    {
        int start = random.Next(from, to - seq - 1);
        for (int t = 0; t < seq; t++) { x[b * seq + t] = data[start + t]; y[b * seq + t] = data[start + t + 1]; }
    }
    return (Tensor.FromArray(x, batch, seq), Tensor.FromArray(y, batch, seq));
}

var clock = Stopwatch.StartNew();
for (int step = 0; step < steps; step++)
{
    using var scope = new TensorScope();
    var (x, y) = Batch(0, split);
    var loss = model.Loss(x, y);
    loss.Backward();
    opt.Step(schedule, step);
    opt.ZeroGrad();
    if (step % 25 == 0 || step == steps - 1)
    {
        double tokPerSec = (step + 1) * batch * seq / clock.Elapsed.TotalSeconds;
        Console.WriteLine($"step {step,4}/{steps}  loss {loss.Item():F4}  {tokPerSec:F0} tok/s");
    }
}

double valLoss = 0;
using (GradMode.NoGrad())
{
    for (int i = 0; i < 4; i++)
    {
        using var scope = new TensorScope();
        var (x, y) = Batch(split, data.Length);
        valLoss += model.Loss(x, y).Item() / 4;
    }
}
Console.WriteLine($"validation loss {valLoss:F4} nats/byte = {valLoss / Math.Log(2):F3} bits/byte ({clock.Elapsed.TotalSeconds:F0} s)");

foreach (var prompt in new[] { "Returns the ", "Gets or sets a value indicating whether ", "Represents a " })
    Console.WriteLine($"> {prompt}{Sample(prompt, 80)}");

string Sample(string prompt, int count)
{
    // KV-cached generation: the prompt is run once, then one position per new byte.
    var promptTokens = Encoding.UTF8.GetBytes(prompt).Select(b => (int)b).ToArray();
    var output = Generator.Generate(model, promptTokens, count, new SamplingOptions(Temperature: 0.8, TopK: 40, Seed: 7))
        .Select(t => (byte)t).ToArray();
    return Encoding.UTF8.GetString(output).Replace('\n', ' ');
}

/// <summary>Finds the XML API docs beside the SDK's reference assemblies and flattens them to text.</summary>
static class SdkDocs
{
    public static string Load(int maxBytes)
    {
        var runtimeDir = System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory();
        var root = Path.GetFullPath(Path.Combine(runtimeDir, "..", "..", ".."));
        var packs = Path.Combine(root, "packs", "Microsoft.NETCore.App.Ref");
        var files = Directory.Exists(packs)
            ? Directory.GetFiles(packs, "*.xml", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal).ToArray()
            : [];
        if (files.Length == 0)
            throw new FileNotFoundException($"No .NET SDK reference docs found under {packs}. This demo reads its training text from there; install the .NET SDK (not just the runtime).");
        var sb = new StringBuilder();
        var summary = new Regex(@"<summary>(.*?)</summary>", RegexOptions.Singleline);
        var tags = new Regex(@"<see\s+cref=""[A-Z]:([^""]+)""\s*/>|<[^>]+>");
        foreach (var file in files)
        {
            foreach (Match m in summary.Matches(File.ReadAllText(file)))
            {
                var s = tags.Replace(m.Groups[1].Value, x => x.Groups[1].Success ? x.Groups[1].Value.Split('.')[^1] : "");
                s = Regex.Replace(System.Net.WebUtility.HtmlDecode(s), @"\s+", " ").Trim();
                if (s.Length > 0) sb.Append(s).Append('\n');
                if (sb.Length >= maxBytes) return sb.ToString();
            }
        }
        return sb.ToString();
    }
}
