using NanoChat.Chat;
using NanoChat.Data;

namespace NanoChat.Tasks;

/// <summary>
/// The built-in tasks of a run (arithmetic with the calculator, spelling, letter counting, and API
/// docs questions when the corpus is the SDK's docs) and the SFT mixture drawn from them plus any
/// user chat data.
/// </summary>
internal sealed class TaskSuite
{
    public TaskSuite(IReadOnlyList<string> words, IReadOnlyList<MemberRecord> members)
    {
        var tasks = new List<(ChatTask, double)>
        {
            (new ArithmeticTask(), 0.4),
            (new SpellingTask(words), 0.15),
            (new LetterCountTask(words), 0.15),
        };
        var docs = new DocsTask(members);
        if (docs.Available) tasks.Add((docs, 0.3));
        Tasks = tasks;
    }

    public static TaskSuite ForRun(RunLayout run) =>
        new(WordList.FromFile(Path.Combine(run.DataDir, RunLayout.TrainFile)), Corpus.ReadMembers(run.DataDir));

    /// <summary>Each task with its share of the SFT mixture.</summary>
    public IReadOnlyList<(ChatTask Task, double Weight)> Tasks { get; }

    /// <summary>
    /// The SFT stream: tasks drawn by weight from a seeded generator, and, when given, the user's
    /// conversations cycled through with a 30% share; a quarter of the task conversations hold two
    /// exchanges. Deterministic for a seed.
    /// </summary>
    public IEnumerable<Conversation> Mixture(int seed, IReadOnlyList<Conversation> userData)
    {
        var random = new Random(seed);
        var streams = Tasks.Select((t, i) => t.Task.Examples(seed * 31 + i, evaluation: false).GetEnumerator()).ToArray();
        double total = Tasks.Sum(t => t.Weight);
        int user = 0;
        Conversation NextTask()
        {
            double u = random.NextDouble() * total;
            int pick = 0;
            while (pick < Tasks.Count - 1 && (u -= Tasks[pick].Weight) > 0) pick++;
            streams[pick].MoveNext();
            return streams[pick].Current.Conversation;
        }
        while (true)
        {
            if (userData.Count > 0 && random.NextDouble() < 0.3)
            {
                yield return userData[user++ % userData.Count];
                continue;
            }
            // A quarter of the conversations have two exchanges, so the model learns that a chat goes on.
            var conversation = NextTask();
            if (random.NextDouble() < 0.25) conversation = new Conversation([.. conversation.Messages, .. NextTask().Messages]);
            yield return conversation;
        }
    }
}
