using Engine.Tokenizers;

namespace NanoChat.Chat;

/// <summary>
/// Renders conversations into token ids with nanochat's special tokens:
/// <c>&lt;|bos|&gt; &lt;|user_start|&gt; … &lt;|user_end|&gt; &lt;|assistant_start|&gt; … &lt;|assistant_end|&gt; …</c>,
/// a calculator call as <c>&lt;|python_start|&gt;expr&lt;|python_end|&gt;</c> and its result as
/// <c>&lt;|output_start|&gt;value&lt;|output_end|&gt;</c>. The mask marks the tokens the model is
/// trained to produce: the assistant's text, its calculator calls and its end token; never the user's
/// words, nor the tool's output (the tool writes that, not the model).
/// </summary>
internal sealed class ChatFormat
{
    public ChatFormat(BpeTokenizer tokenizer)
    {
        Tokenizer = tokenizer;
        Bos = tokenizer.BosId;
        UserStart = tokenizer.GetSpecialId(ChatTokens.UserStart);
        UserEnd = tokenizer.GetSpecialId(ChatTokens.UserEnd);
        AssistantStart = tokenizer.GetSpecialId(ChatTokens.AssistantStart);
        AssistantEnd = tokenizer.GetSpecialId(ChatTokens.AssistantEnd);
        PythonStart = tokenizer.GetSpecialId(ChatTokens.PythonStart);
        PythonEnd = tokenizer.GetSpecialId(ChatTokens.PythonEnd);
        OutputStart = tokenizer.GetSpecialId(ChatTokens.OutputStart);
        OutputEnd = tokenizer.GetSpecialId(ChatTokens.OutputEnd);
    }

    public BpeTokenizer Tokenizer { get; }
    public int Bos { get; }
    public int UserStart { get; }
    public int UserEnd { get; }
    public int AssistantStart { get; }
    public int AssistantEnd { get; }
    public int PythonStart { get; }
    public int PythonEnd { get; }
    public int OutputStart { get; }
    public int OutputEnd { get; }

    /// <summary>Token ids and the training mask (1 where the model should predict the token).</summary>
    public (List<int> Ids, List<byte> Mask) Render(Conversation conversation)
    {
        var ids = new List<int>();
        var mask = new List<byte>();
        void Add(int id, bool train) { ids.Add(id); mask.Add(train ? (byte)1 : (byte)0); }
        void AddText(string text, bool train) { foreach (var id in Tokenizer.Encode(text)) Add(id, train); }

        Add(Bos, false);
        var messages = MergeSystem(conversation.Messages);
        for (int i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            string expected = i % 2 == 0 ? "user" : "assistant";
            if (m.Role != expected)
                throw new FormatException($"message {i + 1} is from '{m.Role}' but a conversation alternates user and assistant turns, starting with the user (an optional system turn first).");
            if (m.Role == "user")
            {
                Add(UserStart, false);
                AddText(m.Text, false);
                Add(UserEnd, false);
                continue;
            }
            Add(AssistantStart, false);
            foreach (var part in m.Parts)
            {
                switch (part.Kind)
                {
                    case PartKind.Text: AddText(part.Text, true); break;
                    case PartKind.Python:
                        Add(PythonStart, true); AddText(part.Text, true); Add(PythonEnd, true);
                        break;
                    case PartKind.Output:
                        Add(OutputStart, false); AddText(part.Text, false); Add(OutputEnd, false);
                        break;
                }
            }
            Add(AssistantEnd, true);
        }
        return (ids, mask);
    }

    /// <summary>The ids of a conversation whose last message is the user's, followed by assistant_start: the prompt to generate a reply from.</summary>
    public List<int> RenderForCompletion(Conversation conversation)
    {
        if (conversation.Messages.Count == 0 || conversation.Messages[^1].Role != "user")
            throw new ArgumentException("A completion prompt ends with a user message.", nameof(conversation));
        var (ids, _) = Render(conversation);
        ids.Add(AssistantStart);
        return ids;
    }

    // nanochat folds a system prompt into the first user message.
    private static List<Message> MergeSystem(IReadOnlyList<Message> messages)
    {
        if (messages.Count == 0 || messages[0].Role != "system") return [.. messages];
        if (messages.Count < 2 || messages[1].Role != "user") throw new FormatException("a system message must be followed by a user message.");
        var merged = Message.User(messages[0].Text + "\n\n" + messages[1].Text);
        return [merged, .. messages.Skip(2)];
    }
}
