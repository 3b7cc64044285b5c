using System.CommandLine;
using System.Globalization;
using Engine;
using Engine.Inference;
using NanoChat.Chat;
using NanoChat.Data;
using NanoChat.Evaluation;
using NanoChat.Report;
using NanoChat.Tokenizing;
using NanoChat.Training;

namespace NanoChat;

/// <summary>The <c>nanochat</c> command line: one command per stage, plus the speedrun that chains them.</summary>
internal sealed class Cli
{
    public const int Ok = 0, Failed = 1, DeviceUnavailable = 2, Interrupted = 130;

    private readonly TextWriter _out;
    private readonly CancellationToken _cancellation;

    private readonly Option<string> _run = new("--run")
    {
        Description = "The run folder that holds every stage's inputs and outputs",
        DefaultValueFactory = _ => Path.Combine("runs", "nanochat"),
        Recursive = true,
    };

    private readonly Option<string> _precision = new("--precision")
    {
        Description = "GPU arithmetic: bf16 (autocast: tensor-core products and flash attention where shapes fit, fp32 weights and optimizer), fp32, or auto (bf16 on a CUDA GPU)",
        DefaultValueFactory = _ => "auto",
        Recursive = true,
    };

    private readonly Option<string> _device = new("--device")
    {
        Description = "cpu, cuda or auto (the first CUDA GPU when there is one, else the CPU); emulated runs the GPU backend's kernels on the CPU interpreter (slow: for checking the GPU path without a GPU)",
        DefaultValueFactory = _ => "auto",
        Recursive = true,
    };

    public Cli(TextWriter output, CancellationToken cancellation)
    {
        _out = output;
        _cancellation = cancellation;
        _device.AcceptOnlyFromAmong("cpu", "cuda", "auto", "emulated");
        _precision.AcceptOnlyFromAmong("auto", "fp32", "bf16");
    }

    private void Log(string line)
    {
        if (ReferenceEquals(_out, Console.Out)) ConsoleUi.Log(line);
        else _out.WriteLine(line);
    }

    public int Invoke(string[] args)
    {
        var root = Build();
        return root.Parse(args).Invoke(new InvocationConfiguration { Output = _out, ProcessTerminationTimeout = null });
    }

    public RootCommand Build()
    {
        var root = new RootCommand("nanochat in C# on Engine: prepare data, train a tokenizer, pretrain a GPT, fine-tune it to chat, evaluate it and talk to it. " +
            "Every stage reads and writes the run folder (--run); `nanochat speedrun` runs them all.");
        root.Add(_run);
        root.Add(_device);
        root.Add(_precision);
        root.Add(DataCommand());
        root.Add(TokenizerCommand());
        root.Add(PretrainCommand());
        root.Add(LossCommandDef());
        root.Add(SftCommand());
        root.Add(EvalCommand());
        root.Add(ChatCommandDef());
        root.Add(ServeCommand());
        root.Add(ReportCommand());
        root.Add(SpeedrunCommand());
        return root;
    }

    /// <summary>Runs a command body: device check first; a <see cref="UserException"/> becomes a one-line error and exit code 1.</summary>
    private Func<ParseResult, int> Guard(Func<ParseResult, RunLayout, int> body) => parse =>
    {
        try
        {
            if (ResolveDevice(parse.GetValue(_device)!) is not { } device) return DeviceUnavailable;
            string precision = parse.GetValue(_precision)!;
            if (precision == "bf16" && device.Kind == DeviceKind.Cpu)
                throw new UserException("--precision bf16 needs a GPU device (--device cuda or emulated); the CPU trains in fp32.");
            device.Autocast = precision == "bf16" || (precision == "auto" && device.Kind == DeviceKind.Cuda);
            return body(parse, new RunLayout(parse.GetValue(_run)!) { Device = device });
        }
        catch (Exception e) when (e is UserException or InvalidDataException or FileNotFoundException)
        {
            // Problems with the user's files or options: the message says what and where, a stack trace would not help.
            _out.WriteLine("error: " + e.Message);
            return Failed;
        }
    };

    /// <summary>One interpreter for the process: compiled kernels are cached per accelerator.</summary>
    private static readonly Lazy<Device> Emulated = new(() => Device.FromAccelerator(new Engine.Gpu.CpuAccelerator(32)));

    /// <summary>cpu; cuda (an error when there is no usable GPU, saying why); auto: the GPU when there is one, else the CPU.</summary>
    private Device? ResolveDevice(string choice)
    {
        if (choice == "cpu") return Device.Cpu;
        if (choice == "emulated") return Emulated.Value;
        string? why = Device.CudaUnavailable;
        if (why is null)
        {
            try { return Device.Cuda; }
            catch (Exception e) when (e is NotSupportedException or Engine.Gpu.CudaException or DllNotFoundException) { why = e.Message; }
        }
        if (choice == "auto") return Device.Cpu;
        _out.WriteLine($"error: --device cuda: {why} Use --device cpu (or auto, which falls back to the CPU).");
        return null;
    }

    private static Option<T> Opt<T>(string name, string description, T? fallback = default, bool hasDefault = true)
    {
        var o = new Option<T>(name) { Description = description };
        if (hasDefault && fallback is not null) o.DefaultValueFactory = _ => fallback;
        return o;
    }

    private Command DataCommand()
    {
        var data = new Command("data", "Prepare the text corpus and tokenize it into shards");

        var prepare = new Command("prepare", "Write train/validation documents: by default the .NET SDK's API reference docs (no download), else the --data files");
        var paths = new Option<string[]>("--data") { Description = ".txt files (a document per paragraph) or .jsonl files ({\"text\": ...} per line); default: the SDK's XML API docs", AllowMultipleArgumentsPerToken = true };
        var outDir = Opt<string?>("--out", "Output folder (default: <run>/data)", null, false);
        var valPercent = Opt("--val-percent", "Percent of documents held out for validation (by a hash of each document's key)", Corpus.DefaultValPercent);
        var maxDocs = Opt("--max-documents", "Keep at most this many documents (a hash-spread subset; 0 keeps all)", 0);
        prepare.Add(paths); prepare.Add(outDir); prepare.Add(valPercent); prepare.Add(maxDocs);
        prepare.SetAction(Guard((p, run) =>
        {
            var s = Corpus.Prepare(p.GetValue(paths) ?? [], p.GetValue(outDir) ?? run.DataDir, Log, p.GetValue(valPercent), p.GetValue(maxDocs));
            Log($"{s.Source}\n{s.TrainDocuments:N0} train documents ({s.TrainBytes / 1e6:F2} MB), {s.ValDocuments:N0} validation ({s.ValBytes / 1e6:F2} MB), {s.Members:N0} API members, {s.Seconds:F1} s; written to {p.GetValue(outDir) ?? run.DataDir}");
            return Ok;
        }));

        var tokenize = new Command("tokenize", "Encode the prepared documents into token shards (bos before every document; uint16 ids when the vocabulary fits)");
        var shardTokens = Opt("--shard-tokens", "Most tokens per shard file", ShardWriter.DefaultShardTokens);
        tokenize.Add(shardTokens);
        tokenize.SetAction(Guard((p, run) => { WriteShards(run, p.GetValue(shardTokens), Log); return Ok; }));

        data.Add(prepare);
        data.Add(tokenize);
        return data;
    }

    public static void WriteShards(RunLayout run, int shardTokens, Action<string> log)
    {
        var tokenizer = TokenizerStage.Load(run.TokenizerDir);
        var (train, val, seconds) = ShardWriter.Write(tokenizer, run.DataDir, run.ShardDir, shardTokens, log);
        log($"{train:N0} train + {val:N0} validation tokens in {seconds:F1} s");
        new MetricsStore(run.MetricsDir).Write("shards", new() { ["train_tokens"] = train, ["val_tokens"] = val, ["seconds"] = seconds });
    }

    private Command TokenizerCommand()
    {
        var tok = new Command("tokenizer", "Train, use and evaluate the BPE tokenizer (tiktoken file format)");

        var train = new Command("train", "Train a byte-level BPE on the training split and save tokenizer.tiktoken + tokenizer.json");
        var vocab = Opt("--vocab-size", "Vocabulary size, counting the 256 bytes and the 9 special tokens", 2048);
        var maxChars = Opt("--max-chars", "Train on at most this many characters (documents capped at 10,000 each)", TokenizerStage.DefaultMaxChars);
        train.Add(vocab); train.Add(maxChars);
        train.SetAction(Guard((p, run) =>
        {
            TokenizerStage.Train(Path.Combine(run.DataDir, RunLayout.TrainFile), run.TokenizerDir, p.GetValue(vocab), p.GetValue(maxChars), Log, new MetricsStore(run.MetricsDir));
            return Ok;
        }));

        var encode = new Command("encode", "Print the token ids of a text");
        var text = new Argument<string>("text") { Description = "The text to encode" };
        var specials = Opt("--specials", "Turn special-token text such as <|bos|> into the special ids", false);
        encode.Add(text); encode.Add(specials);
        encode.SetAction(Guard((p, run) =>
        {
            var t = TokenizerStage.Load(run.TokenizerDir);
            _out.WriteLine(string.Join(' ', t.Encode(p.GetValue(text)!, p.GetValue(specials))));
            return Ok;
        }));

        var decode = new Command("decode", "Print the text of token ids");
        var ids = new Argument<int[]>("ids") { Description = "Token ids, separated by spaces" };
        decode.Add(ids);
        decode.SetAction(Guard((p, run) =>
        {
            var t = TokenizerStage.Load(run.TokenizerDir);
            var values = p.GetValue(ids) ?? [];
            var bad = values.FirstOrDefault(i => i < 0 || i >= t.VocabSize, -1);
            if (values.Any(i => i < 0 || i >= t.VocabSize)) throw new UserException($"Token id {bad} is outside the vocabulary (0 to {t.VocabSize - 1}).");
            _out.WriteLine(t.Decode(values));
            return Ok;
        }));

        var eval = new Command("eval", "Compression (bytes per token) on the validation and training splits, and encoding speed");
        eval.SetAction(Guard((p, run) =>
        {
            var t = TokenizerStage.Load(run.TokenizerDir);
            TokenizerStage.Evaluate(t, Path.Combine(run.DataDir, RunLayout.TrainFile), Path.Combine(run.DataDir, RunLayout.ValFile), Log, new MetricsStore(run.MetricsDir));
            return Ok;
        }));

        tok.Add(train); tok.Add(encode); tok.Add(decode); tok.Add(eval);
        return tok;
    }

    private Command PretrainCommand()
    {
        var cmd = new Command("pretrain", "Pretrain the base GPT on the token shards: Muon + AdamW, nanochat's schedule, validation bits per byte, checkpoints to <run>/base");
        var preset = Opt("--preset", "Sizes to start from: micro, tiny, small (CPU) or d12, d20 (GPU); the options below override them", "tiny");
        var depth = Opt<int?>("--depth", "Transformer layers", null, false);
        var width = Opt<int?>("--width", "Model width (n_embd)", null, false);
        var heads = Opt<int?>("--heads", "Query heads", null, false);
        var kvHeads = Opt<int?>("--kv-heads", "Key/value heads (grouped-query attention)", null, false);
        var seqLen = Opt<int?>("--seq-len", "Context length in tokens", null, false);
        var deviceBatch = Opt<int?>("--device-batch", "Rows per micro-batch", null, false);
        var totalBatch = Opt<int?>("--total-batch", "Tokens per optimizer step (micro-batches are accumulated up to it)", null, false);
        var steps = Opt<int?>("--steps", "Optimizer steps", null, false);
        var evalEvery = Opt<int?>("--eval-every", "Validation bits per byte every this many steps (0: never)", null, false);
        var evalBatches = Opt<int?>("--eval-batches", "Validation batches per evaluation", null, false);
        var ckptEvery = Opt("--checkpoint-every", "Save a checkpoint every this many steps (and always at the end)", 100);
        var resume = Opt("--resume", "Continue the run in <run>/base exactly where its checkpoint left off", false);
        var seed = Opt("--seed", "Weight initialisation seed", 42);
        var matrixLr = Opt("--matrix-lr", "Muon learning rate for block matrices", 0.02);
        var embLr = Opt("--embedding-lr", "AdamW learning rate for the token embedding", 0.2);
        var unembLr = Opt("--unembedding-lr", "AdamW learning rate for the output head", 0.004);
        var warmdown = Opt("--warmdown-ratio", "Fraction of steps over which the learning rate decays linearly to zero", 0.2);
        var peak = Opt<double?>("--peak-gflops", "Device peak (dense fp32 GFLOP/s) for MFU; default: on a GPU the driver-derived peak (bf16 tensor cores under autocast, else fp32), on the CPU an assumed 112 GFLOP/s per core (32 FLOP/cycle at ~3.5 GHz); 0 prints FLOP/s only", null, false);
        var logEvery = Opt("--log-every", "Print a log line every this many steps when the output is not a terminal", 10);
        foreach (var o in new Option[] { preset, depth, width, heads, kvHeads, seqLen, deviceBatch, totalBatch, steps, evalEvery, evalBatches, ckptEvery, resume, seed, matrixLr, embLr, unembLr, warmdown, peak, logEvery })
            cmd.Add(o);
        cmd.SetAction(Guard((p, run) =>
        {
            var pr = Preset.Get(p.GetValue(preset)!);
            if (pr.NeedsGpu && run.Device.Kind == DeviceKind.Cpu) return GpuUnavailable(pr);
            var config = pr.ModelConfig(pr.VocabSize) with
            {
                NLayer = p.GetValue(depth) ?? pr.Depth,
                NEmbd = p.GetValue(width) ?? pr.Width,
                NHead = p.GetValue(heads) ?? pr.Heads,
                NKvHead = p.GetValue(kvHeads) ?? p.GetValue(heads) ?? pr.KvHeads,
                SequenceLen = p.GetValue(seqLen) ?? pr.SequenceLen,
            };
            int db = p.GetValue(deviceBatch) ?? pr.DeviceBatch;
            var options = new PretrainOptions
            {
                Model = config,
                DeviceBatch = db,
                TotalBatchTokens = p.GetValue(totalBatch) ?? (p.GetValue(seqLen) is null && p.GetValue(deviceBatch) is null ? pr.TotalBatchTokens : Math.Max(pr.TotalBatchTokens, db * config.SequenceLen)),
                Steps = p.GetValue(steps) ?? pr.DefaultPretrainSteps,
                EvalEvery = p.GetValue(evalEvery) ?? pr.EvalEvery,
                EvalBatches = p.GetValue(evalBatches) ?? pr.EvalBatches,
                CheckpointEvery = p.GetValue(ckptEvery),
                Resume = p.GetValue(resume),
                Seed = p.GetValue(seed),
                MatrixLr = p.GetValue(matrixLr),
                EmbeddingLr = p.GetValue(embLr),
                UnembeddingLr = p.GetValue(unembLr),
                WarmdownRatio = p.GetValue(warmdown),
                PeakGflops = p.GetValue(peak) ?? DevicePeakGflops(run.Device),
                LogEvery = p.GetValue(logEvery),
            };
            try { config.Validate(); }
            catch (ArgumentException e) { throw new UserException(e.Message); }
            var metrics = Pretraining.Run(run, options, Log, _cancellation);
            return metrics["interrupted"] is true ? Interrupted : Ok;
        }));
        return cmd;
    }

    /// <summary>The peak MFU divides by when --peak-gflops is not given: the GPU's (derived from what the driver reports; the bf16 tensor-core peak under autocast, as nanochat reports), the CPU's assumed one, none for the emulated device.</summary>
    private static double DevicePeakGflops(Device device) => device.Accelerator switch
    {
        Engine.Gpu.CudaAccelerator cuda => device.Autocast ? cuda.PeakBFloat16Gflops : cuda.PeakFloat32Gflops,
        null => Pretraining.AssumedCpuPeakGflops,
        _ => 0,
    };

    private int GpuUnavailable(Preset p)
    {
        _out.WriteLine($"Preset '{p.Name}' is a GPU run: depth {p.Depth}, width {p.Width} (64 x depth), {p.Heads} heads of 128, context {p.SequenceLen}, " +
            $"vocabulary {p.VocabSize}, {p.TotalBatchTokens:N0} tokens per step in micro-batches of {p.DeviceBatch} rows.");
        _out.WriteLine("error: this model is far too large to train on the CPU and no CUDA GPU is in use here. Run it with --device cuda (or auto) on a machine with an NVIDIA GPU, or use --preset tiny or small.");
        return DeviceUnavailable;
    }

    private Command LossCommandDef()
    {
        var cmd = new Command("loss", "Mean next-token cross-entropy of a checkpoint on a file of token rows; the last line is loss=<value>");
        var ckpt = new Option<string>("--checkpoint") { Description = "Checkpoint folder: model.safetensors (nanochat names, fp32 or bf16) + config.json", Required = true };
        var tokens = new Option<string>("--tokens") { Description = "Little-endian uint32 token ids, whole rows of sequence_len + 1", Required = true };
        var batch = Opt("--batch", "Rows per forward pass", 8);
        cmd.Add(ckpt); cmd.Add(tokens); cmd.Add(batch);
        cmd.SetAction(Guard((p, run) =>
        {
            double loss = LossCommand.Compute(p.GetValue(ckpt)!, p.GetValue(tokens)!, p.GetValue(batch), run.Device);
            _out.WriteLine("loss=" + loss.ToString("R", CultureInfo.InvariantCulture));
            return Ok;
        }));
        return cmd;
    }

    private Command SftCommand()
    {
        var cmd = new Command("sft", "Fine-tune the base model to chat: generated tasks (calculator arithmetic, spelling, letter counts, API docs questions) plus --chat-data; loss on assistant tokens only");
        var steps = Opt("--steps", "Optimizer steps", Preset.Tiny.SftSteps);
        var batch = Opt("--batch", "Conversations per step", Preset.Tiny.SftBatch);
        var lr = Opt("--lr-fraction", "Starting learning rate as a fraction of pretraining's (decays linearly to zero)", 0.5);
        var chatData = new Option<string[]>("--chat-data") { Description = ".jsonl files of {\"messages\": [{\"role\": ..., \"content\": ...}]} mixed in at 30%", AllowMultipleArgumentsPerToken = true };
        var from = Opt<string?>("--from", "Base checkpoint folder (default: <run>/base)", null, false);
        var seed = Opt("--seed", "Seed of the generated tasks and their mixture", 1234);
        var textFraction = Opt("--text-fraction", "Share of each batch's rows that are pretraining text (loss on every token), so SFT keeps what pretraining learned; 0 for conversations only", new SftOptions().TextFraction);
        var deviceTokens = Opt("--device-batch-tokens", "Most tokens (rows x padded length) in one forward and backward; larger batches are split and their gradients accumulated (0: 8 rows of the model's context)", 0L);
        cmd.Add(steps); cmd.Add(batch); cmd.Add(lr); cmd.Add(chatData); cmd.Add(from); cmd.Add(seed); cmd.Add(textFraction); cmd.Add(deviceTokens);
        cmd.SetAction(Guard((p, run) =>
        {
            if (p.GetValue(deviceTokens) < 0)
                throw new UserException($"--device-batch-tokens must be 0 (the default) or positive; got {p.GetValue(deviceTokens)}.");
            SftTraining.Run(run, new SftOptions
            {
                DeviceBatchTokens = p.GetValue(deviceTokens),
                Steps = p.GetValue(steps), Batch = p.GetValue(batch), LrFraction = p.GetValue(lr),
                ChatData = p.GetValue(chatData) ?? [], From = p.GetValue(from), Seed = p.GetValue(seed),
                TextFraction = p.GetValue(textFraction),
            }, Log, _cancellation);
            return _cancellation.IsCancellationRequested ? Interrupted : Ok;
        }));
        return cmd;
    }

    private Command EvalCommand()
    {
        var cmd = new Command("eval", "Validation bits per byte and accuracy on held-out generated questions (the calculator runs during generation)");
        var ckpt = Opt<string?>("--checkpoint", "Model folder (default: <run>/sft, else <run>/base)", null, false);
        var questions = Opt("--questions", "Held-out questions per task", Preset.Tiny.EvalQuestions);
        var batches = Opt("--bpb-batches", "Validation batches (of 8 rows) for bits per byte", 8);
        cmd.Add(ckpt); cmd.Add(questions); cmd.Add(batches);
        cmd.SetAction(Guard((p, run) =>
        {
            ChatEvaluation.Run(run, p.GetValue(ckpt), p.GetValue(questions), p.GetValue(batches), Log);
            return Ok;
        }));
        return cmd;
    }

    private Command ChatCommandDef()
    {
        var cmd = new Command("chat", "Talk to the model in the terminal; replies stream token by token, calculator calls run as they are written");
        var ckpt = Opt<string?>("--checkpoint", "Model folder (default: <run>/sft, else <run>/base)", null, false);
        var temperature = Opt("--temperature", "Sampling temperature (0: always the most likely token)", 0.6);
        var topK = Opt("--top-k", "Sample among the K most likely tokens (0: all)", 50);
        var maxTokens = Opt("--max-tokens", "Longest reply, in tokens", 256);
        var prompt = Opt<string?>("--prompt", "Ask one question, print the reply and exit", null, false);
        var seed = Opt("--seed", "Sampling seed", 0);
        cmd.Add(ckpt); cmd.Add(temperature); cmd.Add(topK); cmd.Add(maxTokens); cmd.Add(prompt); cmd.Add(seed);
        cmd.SetAction(Guard((p, run) =>
        {
            ChatCommand.Run(run, p.GetValue(ckpt), p.GetValue(prompt), new SamplingOptions(p.GetValue(temperature), p.GetValue(topK), p.GetValue(seed)),
                p.GetValue(maxTokens), Console.In, _out);
            return Ok;
        }));
        return cmd;
    }

    private Command ServeCommand()
    {
        var cmd = new Command("serve", "A web chat on http://127.0.0.1:PORT (this machine only): replies stream into the page, calculator calls run as they are written");
        var ckpt = Opt<string?>("--checkpoint", "Model folder (default: <run>/sft, else <run>/base)", null, false);
        var port = Opt("--port", "Port on 127.0.0.1 (0 picks a free one)", 8000);
        var temperature = Opt("--temperature", "Sampling temperature (0: always the most likely token)", 0.6);
        var topK = Opt("--top-k", "Sample among the K most likely tokens (0: all)", 50);
        var maxTokens = Opt("--max-tokens", "Longest reply, in tokens", 256);
        cmd.Add(ckpt); cmd.Add(port); cmd.Add(temperature); cmd.Add(topK); cmd.Add(maxTokens);
        cmd.SetAction(Guard((p, run) =>
        {
            using var stop = new CancellationTokenSource();
            Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
            var server = Serve.ChatServer.StartAsync(run, p.GetValue(ckpt), p.GetValue(port),
                new SamplingOptions(p.GetValue(temperature), p.GetValue(topK), 0), p.GetValue(maxTokens)).GetAwaiter().GetResult();
            Log($"chat at {server.Url}/ (Ctrl+C stops)");
            try
            {
                server.WaitAsync(stop.Token).GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
            }
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            return Ok;
        }));
        return cmd;
    }

    private Command ReportCommand()
    {
        var cmd = new Command("report", "Write <run>/report.md: configuration, data sizes, time and tokens/s per stage, metrics, loss curves (SVG)");
        cmd.SetAction(Guard((p, run) =>
        {
            Log($"wrote {ReportWriter.Write(run)}");
            return Ok;
        }));
        return cmd;
    }

    private Command SpeedrunCommand()
    {
        var cmd = new Command("speedrun", "The whole pipeline: data prepare, tokenizer, shards, pretrain, sft, eval, report. `tiny` takes about 15 minutes on 2 CPU cores");
        var preset = Opt("--preset", "micro (seconds, a smoke test), tiny (~15 min on 2 cores), small (~1 h), d12 or d20 (GPU, nanochat's depth rule)", "tiny");
        var data = new Option<string[]>("--data") { Description = "Use these .txt/.jsonl files instead of the SDK docs", AllowMultipleArgumentsPerToken = true };
        var steps = Opt<int?>("--steps", "Override the preset's pretraining steps", null, false);
        var sftSteps = Opt<int?>("--sft-steps", "Override the preset's SFT steps", null, false);
        var maxDocs = Opt<int?>("--max-documents", "Override the preset's corpus cap (0 keeps all)", null, false);
        var peak = Opt<double?>("--peak-gflops", "Device peak for MFU (default: the GPU's fp32 peak, or an assumed 112 GFLOP/s per CPU core)", null, false);
        cmd.Add(preset); cmd.Add(data); cmd.Add(steps); cmd.Add(sftSteps); cmd.Add(maxDocs); cmd.Add(peak);
        cmd.SetAction(Guard((p, run) =>
        {
            var pr = Preset.Get(p.GetValue(preset)!);
            if (pr.NeedsGpu && run.Device.Kind == DeviceKind.Cpu) return GpuUnavailable(pr);
            return Speedrun.Run(run, new SpeedrunOptions(pr, p.GetValue(data) ?? [], p.GetValue(steps), p.GetValue(sftSteps), p.GetValue(maxDocs), p.GetValue(peak) ?? DevicePeakGflops(run.Device)), Log, _cancellation);
        }));
        return cmd;
    }
}
