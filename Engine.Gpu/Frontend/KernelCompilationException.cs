namespace Engine.Gpu;

/// <summary>
/// A kernel uses something outside the kernel language. The message names the method, the construct and
/// the IL offset, and the inlining chain that led there.
/// </summary>
public sealed class KernelCompilationException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="method">The method containing the construct, e.g. <c>MyKernels.Scale</c>.</param>
    /// <param name="ilOffset">The IL offset of the construct in that method.</param>
    /// <param name="construct">What was found, e.g. "a try/catch block".</param>
    /// <param name="hint">What to do instead, if there is advice to give.</param>
    public KernelCompilationException(string method, int ilOffset, string construct, string? hint = null)
        : base($"{method} at IL_{ilOffset:X4}: {construct} is not supported in kernels." + (hint is null ? "" : " " + hint))
    {
        Method = method;
        IlOffset = ilOffset;
        Construct = construct;
    }

    /// <summary>The method containing the construct.</summary>
    public string Method { get; }

    /// <summary>The IL offset of the construct in <see cref="Method"/>.</summary>
    public int IlOffset { get; }

    /// <summary>What was found.</summary>
    public string Construct { get; }

    /// <summary>The chain of inlined calls from the kernel down to <see cref="Method"/>, outermost first.</summary>
    public IReadOnlyList<string> CallChain { get; internal set; } = [];

    /// <inheritdoc/>
    public override string Message => CallChain.Count <= 1
        ? base.Message
        : base.Message + " Reached through: " + string.Join(" -> ", CallChain) + ".";
}
