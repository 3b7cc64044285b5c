using System.Text;
using Engine.Inference;
using Engine.IO;
using NanoChat.Tokenizing;

namespace NanoChat.Chat;

/// <summary>
/// Stage 8: a terminal conversation. Tokens are printed as they are drawn; a calculator call is shown
/// with its result. <c>/clear</c> starts over, <c>/quit</c> (or end of input) leaves.
/// </summary>
internal static class ChatCommand
{
    public static void Run(RunLayout run, string? checkpoint, string? prompt, SamplingOptions sampling, int maxTokens, TextReader input, TextWriter output)
    {
        var tokenizer = TokenizerStage.Load(run.TokenizerDir);
        string dir = checkpoint ?? run.LatestModel;
        if (!File.Exists(Path.Combine(dir, Checkpoint.ModelFile)))
            throw new UserException($"No model in '{dir}'. Run `nanochat speedrun` (or pretrain and sft) first, or pass --checkpoint DIR.");
        using var model = Checkpoint.Load(dir, run.Device);
        var session = new ChatSession(model, new ChatFormat(tokenizer));
        var history = new List<Message>();
        bool interactive = prompt is null;
        if (interactive)
            output.WriteLine($"Chatting with {dir} ({model.ParameterCount / 1e6:F1} M parameters, temperature {sampling.Temperature}, top-k {sampling.TopK}). /clear starts over, /quit leaves.");
        int turn = 0;
        while (true)
        {
            string? line;
            if (interactive)
            {
                output.Write("\nYou: ");
                line = input.ReadLine();
            }
            else line = turn == 0 ? prompt : null;
            if (line is null || line.Trim() is "/quit" or "/exit") break;
            if (line.Trim() == "/clear") { history.Clear(); output.WriteLine("(conversation cleared)"); continue; }
            if (line.Trim().Length == 0) continue;
            history.Add(Message.User(line));
            if (interactive) output.Write("Assistant: ");
            var reply = Stream(session, new Conversation(history), sampling with { Seed = sampling.Seed + 1000 * turn }, maxTokens, output);
            history.Add(reply);
            output.WriteLine();
            turn++;
        }
    }

    /// <summary>Generates and prints one reply; returns it as a message (tool calls included) for the history.</summary>
    private static Message Stream(ChatSession session, Conversation conversation, SamplingOptions sampling, int maxTokens, TextWriter output)
    {
        var f = session.Format;
        var ids = f.RenderForCompletion(conversation);
        var parts = new List<Part>();
        var segment = new List<int>();
        var kind = PartKind.Text;
        var printer = new StreamingDecoder(f.Tokenizer, output);
        void Close()
        {
            if (segment.Count > 0 || kind != PartKind.Text) parts.Add(new Part(kind, f.Tokenizer.Decode(segment.ToArray())));
            segment.Clear();
        }
        foreach (var (token, fromTool) in session.Reply(ids, maxTokens, sampling))
        {
            if (token == f.AssistantEnd || token == f.Bos) break;
            if (token == f.PythonStart) { Close(); printer.Flush(); kind = PartKind.Python; output.Write(printer.Printed ? " [calculator: " : "[calculator: "); continue; }
            if (token == f.PythonEnd) { Close(); printer.Flush(); kind = PartKind.Text; continue; }
            if (token == f.OutputStart) { kind = PartKind.Output; output.Write(" = "); continue; }
            if (token == f.OutputEnd) { Close(); printer.Flush(); kind = PartKind.Text; output.Write("] "); continue; }
            if (f.Tokenizer.IsSpecial(token)) continue;
            segment.Add(token);
            printer.Add(token);
            _ = fromTool;
        }
        printer.Flush();
        if (segment.Count > 0) Close();
        return new Message("assistant", parts);
    }
}

/// <summary>Prints tokens as they arrive, holding back bytes that do not yet form whole UTF-8 characters.</summary>
internal sealed class StreamingDecoder(Engine.Tokenizers.BpeTokenizer tokenizer, TextWriter output)
{
    private readonly Decoder _decoder = new UTF8Encoding(false).GetDecoder();
    private readonly char[] _chars = new char[1024];

    /// <summary>True once any text has been printed.</summary>
    public bool Printed { get; private set; }

    public void Add(int token)
    {
        Printed = true;
        var bytes = tokenizer.GetTokenBytes(token);
        int n = _decoder.GetChars(bytes, _chars, flush: false);
        output.Write(_chars, 0, n);
        output.Flush();
    }

    public void Flush()
    {
        int n = _decoder.GetChars([], _chars, flush: true);
        output.Write(_chars, 0, n);
    }
}
