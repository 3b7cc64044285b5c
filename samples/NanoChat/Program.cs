namespace NanoChat;

internal static class Program
{
    private static int Main(string[] args)
    {
        // The first Ctrl+C asks the running stage to stop cleanly (pretraining saves a checkpoint);
        // a second one ends the process at once.
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            if (stop.IsCancellationRequested) return;
            e.Cancel = true;
            stop.Cancel();
            Console.Error.WriteLine("\nstopping after the current step (Ctrl+C again to abort)...");
        };
        return new Cli(Console.Out, stop.Token).Invoke(args);
    }
}
