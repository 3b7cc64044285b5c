namespace Engine.Tokenizers;

/// <summary>
/// nanochat's special tokens, which frame documents and chat turns. A tokenizer trained with
/// <see cref="BpeTokenizer.Train"/> gets them, in this order, right after the learned merges.
/// </summary>
public static class ChatTokens
{
    /// <summary>Begins every document; also separates documents packed into one sequence.</summary>
    public const string Bos = "<|bos|>";
    /// <summary>Opens a user message.</summary>
    public const string UserStart = "<|user_start|>";
    /// <summary>Closes a user message.</summary>
    public const string UserEnd = "<|user_end|>";
    /// <summary>Opens an assistant message.</summary>
    public const string AssistantStart = "<|assistant_start|>";
    /// <summary>Closes an assistant message; generation stops here.</summary>
    public const string AssistantEnd = "<|assistant_end|>";
    /// <summary>Opens a Python (calculator) tool call inside an assistant message.</summary>
    public const string PythonStart = "<|python_start|>";
    /// <summary>Closes a tool call.</summary>
    public const string PythonEnd = "<|python_end|>";
    /// <summary>Opens the tool's output, which the runtime, not the model, writes.</summary>
    public const string OutputStart = "<|output_start|>";
    /// <summary>Closes the tool's output.</summary>
    public const string OutputEnd = "<|output_end|>";

    /// <summary>All of them, in nanochat's order (which fixes their ids).</summary>
    public static IReadOnlyList<string> All { get; } =
        [Bos, UserStart, UserEnd, AssistantStart, AssistantEnd, PythonStart, PythonEnd, OutputStart, OutputEnd];
}
