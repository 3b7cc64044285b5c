using System.Runtime.ExceptionServices;

namespace Engine.Tokenizers;

/// <summary>Runs a parallel loop so that a caller's mistake (a null document, say) surfaces as its own exception, not wrapped in an <see cref="AggregateException"/>.</summary>
internal static class ParallelErrors
{
    public static void Run(Action loop)
    {
        try
        {
            loop();
        }
        catch (AggregateException e)
        {
            ExceptionDispatchInfo.Capture(e.Flatten().InnerExceptions[0]).Throw();
        }
    }
}
