using System.Text.Json;
using System.Text.Json.Nodes;

namespace NanoChat.Chat;

/// <summary>What a piece of an assistant turn is: plain text, a calculator call, or the calculator's output.</summary>
internal enum PartKind { Text, Python, Output }

/// <summary>One piece of a message.</summary>
internal sealed record Part(PartKind Kind, string Text);

/// <summary>One turn: role "user", "assistant" or "system"; a user or system turn is a single text part.</summary>
internal sealed record Message(string Role, IReadOnlyList<Part> Parts)
{
    public static Message User(string text) => new("user", [new Part(PartKind.Text, text)]);
    public static Message Assistant(params Part[] parts) => new("assistant", parts);
    public static Message Assistant(string text) => new("assistant", [new Part(PartKind.Text, text)]);
    public string Text => string.Concat(Parts.Select(p => p.Text));
}

/// <summary>A chat: alternating user and assistant turns, optionally opened by a system turn.</summary>
internal sealed record Conversation(IReadOnlyList<Message> Messages)
{
    /// <summary>
    /// Reads one line of chat data: <c>{"messages": [{"role": "user", "content": "..."}, ...]}</c>.
    /// An assistant's content is a string, or a list of parts <c>{"type": "text"|"python"|"python_output", "text": "..."}</c>
    /// as nanochat writes tool use.
    /// </summary>
    public static Conversation FromJson(string line)
    {
        var root = JsonNode.Parse(line) as JsonObject ?? throw new FormatException("a chat line must be a JSON object");
        if (root["messages"] is not JsonArray messages || messages.Count == 0) throw new FormatException("no \"messages\" array");
        var list = new List<Message>();
        foreach (var m in messages)
        {
            string role = m?["role"]?.GetValue<string>() ?? throw new FormatException("a message has no \"role\"");
            if (role is not ("user" or "assistant" or "system")) throw new FormatException($"unknown role '{role}'");
            var content = m["content"];
            if (content is JsonValue v) list.Add(new Message(role, [new Part(PartKind.Text, v.GetValue<string>())]));
            else if (content is JsonArray parts)
                list.Add(new Message(role, parts.Select(p => new Part(
                    (p?["type"]?.GetValue<string>() ?? "text") switch
                    {
                        "text" => PartKind.Text,
                        "python" => PartKind.Python,
                        "python_output" => PartKind.Output,
                        var t => throw new FormatException($"unknown part type '{t}'"),
                    },
                    p?["text"]?.GetValue<string>() ?? "")).ToList()));
            else throw new FormatException("a message has no \"content\"");
        }
        return new Conversation(list);
    }

    public static List<Conversation> ReadJsonl(string path)
    {
        if (!File.Exists(path)) throw new UserException($"Chat data file '{path}' does not exist.");
        var result = new List<Conversation>();
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try { result.Add(FromJson(line)); }
            catch (Exception e) when (e is FormatException or JsonException or InvalidOperationException)
            {
                throw new UserException($"{path}:{lineNo}: {e.Message}. Expected {{\"messages\": [{{\"role\": \"user\", \"content\": \"...\"}}, {{\"role\": \"assistant\", \"content\": \"...\"}}]}}.");
            }
        }
        return result;
    }
}
