using System.Globalization;
using NanoChat.Chat;
using NanoChat.Data;

namespace NanoChat.Tasks;

/// <summary>
/// Questions about .NET API members, answered with the member's summary. Members in the corpus's
/// validation split are held out: their documents were not pretrained on and their questions are
/// never fine-tuned on.
/// </summary>
internal sealed class DocsTask : ChatTask
{
    private static readonly string[] Templates = ["What does {0} do?", "Describe {0}.", "What is {0} for?", "Explain the .NET member {0}."];
    private readonly MemberRecord[] _train, _heldOut;

    public DocsTask(IReadOnlyList<MemberRecord> members)
    {
        // Short single-line summaries make answerable questions; long remarks-like ones do not.
        var usable = members.Where(m => m.Summary.Length is >= 10 and <= 160 && !m.Summary.Contains('\n')).ToArray();
        _train = usable.Where(m => !m.Validation).ToArray();
        _heldOut = usable.Where(m => m.Validation).ToArray();
    }

    public override string Name => "docs";

    public bool Available => _train.Length > 0 && _heldOut.Length > 0;

    protected override TaskExample Draw(Random random, out string key) => throw new NotSupportedException();

    public override IEnumerable<TaskExample> Examples(int seed, bool evaluation)
    {
        var pool = evaluation ? _heldOut : _train;
        if (pool.Length == 0) yield break;
        var random = new Random(seed);
        while (true)
        {
            var m = pool[random.Next(pool.Length)];
            var conversation = new Conversation([
                Message.User(string.Format(CultureInfo.InvariantCulture, Pick(random, Templates), m.Name)),
                Message.Assistant(m.Summary),
            ]);
            yield return new TaskExample(Name, conversation, m.Summary);
        }
    }

    public override double Score(TaskExample example, string reply) => Normalize(reply) == Normalize(example.Reference) ? 1 : 0;

    /// <summary>Word-level F1 between the reply and the reference (SQuAD's token-overlap measure).</summary>
    public static double Overlap(string reply, string reference)
    {
        var a = Words(reply);
        var b = Words(reference);
        if (a.Count == 0 || b.Count == 0) return a.Count == b.Count ? 1 : 0;
        var remaining = b.GroupBy(w => w).ToDictionary(g => g.Key, g => g.Count());
        int common = 0;
        foreach (var w in a)
            if (remaining.TryGetValue(w, out int n) && n > 0) { common++; remaining[w] = n - 1; }
        if (common == 0) return 0;
        double precision = (double)common / a.Count, recall = (double)common / b.Count;
        return 2 * precision * recall / (precision + recall);
    }

    private static List<string> Words(string s) =>
        s.ToLowerInvariant().Split((char[])[' ', '\n', '\t', '.', ',', ';', ':', '(', ')', '"', '\''], StringSplitOptions.RemoveEmptyEntries).ToList();

    private static string Normalize(string s) => string.Join(' ', Words(s));
}
