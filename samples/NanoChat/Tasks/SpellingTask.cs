using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using NanoChat.Chat;

namespace NanoChat.Tasks;

/// <summary>Spelling a word letter by letter.</summary>
internal sealed class SpellingTask(IReadOnlyList<string> words) : ChatTask
{
    private readonly HashSet<string> _heldOut = WordList.HeldOut(words);

    private static readonly string[] Templates = ["Spell the word \"{0}\".", "How do you spell {0}?", "Spell {0} letter by letter.", "What are the letters of \"{0}\"?"];

    public override string Name => "spelling";

    public static string Spelled(string word) => string.Join("-", word.ToCharArray());

    protected override TaskExample Draw(Random random, out string key)
    {
        string word = Pick(random, words);
        key = word;
        string answer = Spelled(word);
        var conversation = new Conversation([
            Message.User(string.Format(System.Globalization.CultureInfo.InvariantCulture, Pick(random, Templates), word)),
            Message.Assistant($"{word} is spelled {answer}."),
        ]);
        return new TaskExample(Name, conversation, answer);
    }

    protected override bool IsHeldOut(string key) => _heldOut.Contains(key);

    public override double Score(TaskExample example, string reply) => reply.Contains(example.Reference, StringComparison.Ordinal) ? 1 : 0;
}

/// <summary>Counting a letter in a word: the assistant spells the word first, then gives the count.</summary>
internal sealed class LetterCountTask(IReadOnlyList<string> words) : ChatTask
{
    private readonly HashSet<string> _heldOut = WordList.HeldOut(words);

    private static readonly string[] Templates = [
        "How many times does the letter \"{0}\" appear in \"{1}\"?",
        "How many {0}'s are in {1}?",
        "Count the letter {0} in the word {1}.",
    ];

    public override string Name => "letter_count";

    protected override TaskExample Draw(Random random, out string key)
    {
        string word = Pick(random, words);
        char letter = random.NextDouble() < 0.7 ? word[random.Next(word.Length)] : (char)('a' + random.Next(26));
        key = word;
        int count = word.Count(c => c == letter);
        var conversation = new Conversation([
            Message.User(string.Format(System.Globalization.CultureInfo.InvariantCulture, Pick(random, Templates), letter, word)),
            Message.Assistant($"{word} is spelled {SpellingTask.Spelled(word)}. The letter {letter} appears {count} times."),
        ]);
        return new TaskExample(Name, conversation, count.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    protected override bool IsHeldOut(string key) => _heldOut.Contains(key);

    public override double Score(TaskExample example, string reply) => SameNumber(LastNumber(reply), example.Reference) ? 1 : 0;
}

/// <summary>The words the spelling tasks draw from: the corpus's most frequent lowercase words of 3 to 10 letters.</summary>
internal static partial class WordList
{
    public static List<string> FromCorpus(IEnumerable<string> documents, int count = 2000)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var doc in documents)
            foreach (Match m in Word().Matches(doc))
                counts[m.Value] = counts.GetValueOrDefault(m.Value) + 1;
        var words = counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Take(count).Select(kv => kv.Key).ToList();
        if (words.Count < 20) words.AddRange(Fallback.Where(w => !words.Contains(w)));
        return words;
    }

    /// <summary>The words both spelling tasks keep for evaluation: a tenth of the list (at least one), chosen by hash.</summary>
    public static HashSet<string> HeldOut(IReadOnlyList<string> words) =>
        words.Distinct().OrderBy(w => Data.Corpus.StableHash("word:" + w)).ThenBy(w => w, StringComparer.Ordinal)
            .Take(Math.Max(1, words.Count / 10)).ToHashSet(StringComparer.Ordinal);

    /// <summary>Used when the corpus has too few words of its own.</summary>
    public static readonly string[] Fallback = ["apple", "banana", "cherry", "strawberry", "letter", "window", "garden", "string", "number", "value",
        "method", "object", "return", "class", "array", "table", "yellow", "orange", "purple", "summer", "winter", "little", "bottle", "rabbit"];

    public static List<string> FromFile(string trainFile, int maxDocuments = 20_000) =>
        File.Exists(trainFile)
            ? FromCorpus(File.ReadLines(trainFile).Take(maxDocuments).Select(l => JsonNode.Parse(l)!["text"]!.GetValue<string>()))
            : [.. Fallback];

    [GeneratedRegex(@"\b[a-z]{3,10}\b")]
    private static partial Regex Word();
}
