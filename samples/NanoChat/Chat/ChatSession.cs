using Engine.Inference;
using Engine.NN;

namespace NanoChat.Chat;

/// <summary>
/// Generates an assistant reply with Engine's Generator (KV cache, streaming) and runs the
/// calculator tool: when the model closes a <c>&lt;|python_end|&gt;</c> block, the expression goes to
/// <see cref="Calculator"/> and its result is fed back as <c>&lt;|output_start|&gt;…&lt;|output_end|&gt;</c>
/// tokens, after which generation continues from the extended sequence.
/// </summary>
internal sealed class ChatSession(Gpt model, ChatFormat format)
{
    public ChatFormat Format { get; } = format;

    /// <summary>
    /// Streams the reply to <paramref name="prompt"/> (which ends with assistant_start): each event is
    /// a token id and whether the tool (not the model) wrote it. Returns when the model ends its turn
    /// or <paramref name="maxTokens"/> tokens have been produced. <paramref name="prompt"/> grows with the reply.
    /// </summary>
    public IEnumerable<(int Token, bool FromTool)> Reply(List<int> prompt, int maxTokens, SamplingOptions sampling)
    {
        int produced = 0, call = 0;
        while (produced < maxTokens && prompt.Count < model.MaxPositions - 1)
        {
            int last = -1;
            var options = sampling with { Seed = sampling.Seed + call++ };
            int budget = Math.Min(maxTokens - produced, model.MaxPositions - 1 - prompt.Count);
            foreach (var token in Generator.Generate(model, prompt, budget, options, stop: IsStop))
            {
                prompt.Add(token);
                produced++;
                last = token;
                yield return (token, false);
            }
            if (last != Format.PythonEnd) yield break;
            foreach (var token in ToolOutput(prompt))
            {
                prompt.Add(token);
                yield return (token, true);
            }
        }
    }

    private bool IsStop(int token) => token == Format.AssistantEnd || token == Format.PythonEnd || token == Format.Bos;

    /// <summary>The output block for the python block that just closed at the end of <paramref name="ids"/>.</summary>
    public List<int> ToolOutput(List<int> ids)
    {
        int start = ids.LastIndexOf(Format.PythonStart);
        string expression = start < 0 ? "" : Format.Tokenizer.Decode(ids.GetRange(start + 1, ids.Count - start - 2).ToArray());
        string result = Calculator.TryEvaluate(expression, out var value) ? value : "error: " + value;
        var output = new List<int> { Format.OutputStart };
        output.AddRange(Format.Tokenizer.Encode(result));
        output.Add(Format.OutputEnd);
        return output;
    }

    /// <summary>Generates a whole reply and returns the assistant's visible text (tool blocks omitted) and the raw token ids.</summary>
    public (string Text, List<int> Tokens) Complete(Conversation conversation, int maxTokens, SamplingOptions sampling)
    {
        var prompt = Format.RenderForCompletion(conversation);
        int start = prompt.Count;
        foreach (var _ in Reply(prompt, maxTokens, sampling)) { }
        var reply = prompt.GetRange(start, prompt.Count - start);
        return (VisibleText(reply), reply);
    }

    /// <summary>The text of a reply with special tokens and tool blocks left out.</summary>
    public string VisibleText(IReadOnlyList<int> reply)
    {
        var text = new List<int>();
        bool inTool = false;
        foreach (var id in reply)
        {
            if (id == Format.PythonStart || id == Format.OutputStart) { inTool = true; continue; }
            if (id == Format.PythonEnd || id == Format.OutputEnd) { inTool = false; continue; }
            if (Format.Tokenizer.IsSpecial(id) || inTool) continue;
            text.Add(id);
        }
        return Format.Tokenizer.Decode(text.ToArray());
    }
}
