using System.Globalization;
using Engine.NN;
using Engine.Optim;

namespace Engine.IO;

/// <summary>
/// Checkpoint folders as nanochat tooling reads them: <c>model.safetensors</c> (parameters under
/// their state_dict names, fp32 or bf16), <c>config.json</c> (GPTConfig fields), and for training
/// runs <c>optimizer.safetensors</c> (moments, momentum buffers, step counts and any caller metadata
/// such as the data position).
/// </summary>
/// <remarks>
/// A folder is written whole or not at all: everything goes into a sibling temporary folder, which
/// then replaces the old one by rename. A crash leaves either the old checkpoint or the new one
/// (at worst the old one under a <c>.old-*</c> name beside it), never a mix.
/// </remarks>
public static class Checkpoint
{
    /// <summary>The weights file in a checkpoint folder.</summary>
    public const string ModelFile = "model.safetensors";
    /// <summary>The config file in a checkpoint folder.</summary>
    public const string ConfigFile = "config.json";
    /// <summary>The optimizer-state file in a checkpoint folder.</summary>
    public const string OptimizerFile = "optimizer.safetensors";

    /// <summary>Writes the model (and, if given, the optimizer state and metadata) to <paramref name="directory"/>.</summary>
    public static void Save(string directory, Gpt model, GptOptimizers? optimizers = null,
        IReadOnlyDictionary<string, string>? metadata = null, DType weightsAs = DType.Float32)
    {
        if (weightsAs is not (DType.Float32 or DType.BFloat16))
            throw new ArgumentException($"Weights are stored as Float32 or BFloat16, not {weightsAs}.", nameof(weightsAs));
        var full = Path.GetFullPath(directory);
        var parent = Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{directory}' has no parent folder.");
        Directory.CreateDirectory(parent);
        var temp = Path.Combine(parent, $".{Path.GetFileName(full)}.tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        try
        {
            var store = weightsAs == DType.BFloat16 ? SafeTensorDType.BF16 : SafeTensorDType.F32;
            SafeTensors.Write(Path.Combine(temp, ModelFile),
                model.NamedParameters.Select(p => Entry(p.Name, p.Tensor, store)),
                new Dictionary<string, string> { ["format"] = "pt" });
            File.WriteAllText(Path.Combine(temp, ConfigFile), model.Config.ToJson());
            if (optimizers is not null)
            {
                var meta = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>())
                {
                    ["adamw.step"] = optimizers.AdamW.StepCount.ToString(CultureInfo.InvariantCulture),
                    ["muon.step"] = optimizers.Muon.StepCount.ToString(CultureInfo.InvariantCulture),
                };
                var state = optimizers.AdamW.State().Select(s => ("adamw." + s.Name, s.Tensor))
                    .Concat(optimizers.Muon.State().Select(s => ("muon." + s.Name, s.Tensor)));
                SafeTensors.Write(Path.Combine(temp, OptimizerFile), state.Select(s => Entry(s.Item1, s.Item2, SafeTensorDType.F32)), meta);
            }
            else if (metadata is not null)
            {
                SafeTensors.Write(Path.Combine(temp, OptimizerFile), [], metadata);
            }
            Replace(temp, full);
        }
        catch
        {
            try { Directory.Delete(temp, recursive: true); } catch (IOException) { }
            throw;
        }
    }

    private static SafeTensorEntry Entry(string name, Tensor t, SafeTensorDType store)
    {
        var data = (t.DType == DType.Float32 ? t : t.To(DType.Float32)).ToArray<float>();
        return SafeTensorEntry.FromSingle(name, data, t.Shape.ToArray().Select(d => (long)d).ToArray(), store);
    }

    private static void Replace(string temp, string target)
    {
        if (!Directory.Exists(target))
        {
            Directory.Move(temp, target);
            return;
        }
        var old = Path.Combine(Path.GetDirectoryName(target)!, $".{Path.GetFileName(target)}.old-{Guid.NewGuid():N}");
        Directory.Move(target, old);
        Directory.Move(temp, target);
        Directory.Delete(old, recursive: true);
    }

    /// <summary>Reads config.json from a checkpoint folder.</summary>
    public static GptConfig LoadConfig(string directory)
    {
        var path = Path.Combine(directory, ConfigFile);
        if (!File.Exists(path))
            throw new FileNotFoundException($"No {ConfigFile} in checkpoint folder '{directory}'. A checkpoint folder holds {ModelFile} and {ConfigFile}.", path);
        return GptConfig.FromJson(File.ReadAllText(path));
    }

    /// <summary>Builds a model from a checkpoint folder (config.json + model.safetensors).</summary>
    public static Gpt Load(string directory, Device? device = null)
    {
        var model = new Gpt(LoadConfig(directory), device: device);
        try
        {
            LoadWeights(model, Path.Combine(directory, ModelFile));
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Copies weights from a safetensors file into <paramref name="model"/>; every parameter must be
    /// present with its shape (fp32, bf16, fp16 or fp64). Extra tensors (e.g. buffers) are ignored.
    /// </summary>
    public static void LoadWeights(Gpt model, string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"Weights file '{path}' does not exist.", path);
        var file = SafeTensors.Read(path);
        var missing = model.NamedParameters.Where(p => !file.Tensors.ContainsKey(p.Name)).Select(p => p.Name).ToList();
        if (missing.Count > 0)
            throw new InvalidDataException($"'{path}' lacks {missing.Count} parameter(s) of this model, e.g. {string.Join(", ", missing.Take(3))}. Is it a checkpoint of the same architecture (nanochat GPT names)?");
        foreach (var (name, p) in model.NamedParameters)
        {
            var e = file[name];
            var shape = e.Shape.Select(d => (int)d).ToArray();
            if (!shape.AsSpan().SequenceEqual(p.Shape))
                throw new InvalidDataException($"'{path}': tensor '{name}' has shape {ShapeUtil.Format(shape)} but the model expects {ShapeUtil.Format(p.Shape)}. Check config.json matches the weights.");
            using var scope = new TensorScope();
            var t = Tensor.FromArray(e.ToSingleArray(), shape);
            p.CopyFrom(p.DType == DType.Float32 ? t : t.To(p.DType));
        }
    }

    /// <summary>
    /// Restores optimizer state saved with the model and returns the saved metadata (the caller's
    /// keys plus <c>adamw.step</c> and <c>muon.step</c>). A folder without optimizer state returns empty metadata.
    /// </summary>
    public static IReadOnlyDictionary<string, string> LoadTrainingState(string directory, GptOptimizers optimizers)
    {
        var path = Path.Combine(directory, OptimizerFile);
        if (!File.Exists(path)) return new Dictionary<string, string>();
        var file = SafeTensors.Read(path);
        using var scope = new TensorScope();
        Dictionary<string, Tensor> Prefixed(string prefix) => file.Tensors
            .Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key[prefix.Length..], kv => Tensor.FromArray(kv.Value.ToSingleArray(), kv.Value.Shape.Select(d => (int)d).ToArray()));
        int Step(string key) => file.Metadata.TryGetValue(key, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : 0;
        optimizers.AdamW.LoadState(Step("adamw.step"), Prefixed("adamw."));
        optimizers.Muon.LoadState(Step("muon.step"), Prefixed("muon."));
        return file.Metadata;
    }
}
