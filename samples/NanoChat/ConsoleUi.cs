using Spectre.Console;

namespace NanoChat;

/// <summary>
/// Progress for long stages: a Spectre.Console progress bar on an interactive terminal, plain log
/// lines when the output is redirected (a file, a CI log, a test), so logs stay greppable.
/// </summary>
internal static class ConsoleUi
{
    /// <summary>True when a live progress bar can be drawn.</summary>
    public static bool Interactive => !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

    /// <summary>Writes one log line (above the live bar when one is showing).</summary>
    public static void Log(string line)
    {
        if (Interactive) AnsiConsole.WriteLine(line);
        else Console.WriteLine(line);
    }

    /// <summary>
    /// Runs <paramref name="body"/>, giving it a callback to report (completed, description). On an
    /// interactive terminal this drives a progress bar; otherwise the callback does nothing and the
    /// body's own log lines are the record.
    /// </summary>
    public static T WithProgress<T>(string title, int total, int start, Func<Action<int, string>, T> body)
    {
        if (!Interactive) return body((_, _) => { });
        T result = default!;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(title), maxValue: Math.Max(total, 1));
                task.Value = start;
                result = body((value, description) =>
                {
                    task.Value = value;
                    task.Description = Markup.Escape(description);
                });
                task.Value = task.MaxValue;
            });
        return result;
    }
}
