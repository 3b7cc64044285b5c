namespace Engine.Tokenizers;

/// <summary>
/// Regular expressions that cut text into pieces before BPE, so that no token spans a word boundary,
/// a digit group or a run of punctuation. Written for .NET's engine: where GPT-4's pattern uses the
/// possessive quantifiers <c>?+</c> and <c>++</c>, which .NET lacks, these use the equivalent atomic groups.
/// </summary>
/// <remarks>
/// .NET matches UTF-16 units, not code points, so a letter or digit outside the Basic Multilingual Plane
/// (a mathematical alphanumeric, say) counts as punctuation here; tiktoken would count it as a letter.
/// Emoji and all BMP text split the same way in both.
/// </remarks>
public static class SplitPatterns
{
    /// <summary>
    /// nanochat's pattern: GPT-4's (cl100k) with numbers in groups of one or two digits instead of up to three,
    /// which spends fewer tokens on numbers at small vocabulary sizes.
    /// </summary>
    public const string NanoChat =
        @"'(?i:[sdmt]|ll|ve|re)|(?>[^\r\n\p{L}\p{N}]?)\p{L}+|\p{N}{1,2}| ?(?>[^\s\p{L}\p{N}]+)[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+";

    /// <summary>GPT-4's (cl100k) pattern: numbers in groups of one to three digits.</summary>
    public const string Gpt4 =
        @"'(?i:[sdmt]|ll|ve|re)|(?>[^\r\n\p{L}\p{N}]?)\p{L}+|\p{N}{1,3}| ?(?>[^\s\p{L}\p{N}]+)[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+";
}
