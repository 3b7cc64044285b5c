namespace Engine.Tokenizers;

/// <summary>How well a tokenizer compresses some text: what <c>tokenizer eval</c> reports.</summary>
/// <param name="Bytes">The text's length in UTF-8 bytes (WTF-8 where it has lone surrogates).</param>
/// <param name="Tokens">How many ids it encodes to, special tokens treated as ordinary text.</param>
public readonly record struct CompressionStats(long Bytes, long Tokens)
{
    /// <summary>Bytes per token: higher is better compression (more text fits in a context window, and a step sees more of it).</summary>
    public double BytesPerToken => Tokens == 0 ? 0 : (double)Bytes / Tokens;
}
