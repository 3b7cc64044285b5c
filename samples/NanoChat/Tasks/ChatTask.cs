using System.Globalization;
using System.Text.RegularExpressions;
using NanoChat.Chat;

namespace NanoChat.Tasks;

/// <summary>One generated exercise: the full conversation (the reference reply last) and the reference answer the score compares with.</summary>
internal sealed record TaskExample(string Task, Conversation Conversation, string Reference)
{
    /// <summary>The conversation without its reference reply: what the model is asked.</summary>
    public Conversation Prompt => new(Conversation.Messages.Take(Conversation.Messages.Count - 1).ToList());
}

/// <summary>
/// A family of generated chat exercises. Training and evaluation draw from disjoint parts of the
/// task (a hash of the question's content decides which), so evaluation questions are never trained on.
/// </summary>
internal abstract partial class ChatTask
{
    public abstract string Name { get; }

    /// <summary>An endless, deterministic stream of examples for training (held-out items excluded) or evaluation (held-out items only).</summary>
    public virtual IEnumerable<TaskExample> Examples(int seed, bool evaluation)
    {
        var random = new Random(seed);
        int misses = 0;
        while (true)
        {
            var example = Draw(random, out var key);
            if (IsHeldOut(key) == evaluation) { misses = 0; yield return example; }
            else if (++misses > 10_000) throw new InvalidOperationException($"Task '{Name}' cannot draw {(evaluation ? "held-out" : "training")} examples.");
        }
    }

    /// <summary>Draws one example and the key that decides its split.</summary>
    protected abstract TaskExample Draw(Random random, out string key);

    protected virtual bool IsHeldOut(string key) => Data.Corpus.StableHash(Name + ":" + key) % 10 == 0;

    /// <summary>1 for a correct reply, 0 otherwise (a task may give partial credit).</summary>
    public abstract double Score(TaskExample example, string reply);

    protected static T Pick<T>(Random random, IReadOnlyList<T> items) => items[random.Next(items.Count)];

    /// <summary>The last number in a text, without thousands separators, or null.</summary>
    public static string? LastNumber(string text)
    {
        var matches = Number().Matches(text.Replace(",", "", StringComparison.Ordinal));
        return matches.Count == 0 ? null : matches[^1].Value.TrimEnd('.');
    }

    public static bool SameNumber(string? a, string b) =>
        a is not null && (a == b || double.TryParse(a, NumberStyles.Float, CultureInfo.InvariantCulture, out var x)
            && double.TryParse(b, NumberStyles.Float, CultureInfo.InvariantCulture, out var y) && Math.Abs(x - y) <= 1e-9 * Math.Max(1, Math.Abs(y)));

    [GeneratedRegex(@"-?\d+(\.\d+)?")]
    private static partial Regex Number();
}
