using System.Collections.Concurrent;
using System.Reflection;
using Engine.Gpu.Frontend;
using Engine.Gpu.IR;

namespace Engine.Gpu;

/// <summary>A kernel compiled to verified IR, ready for a backend (the interpreter or the PTX emitter).</summary>
internal sealed class CompiledKernel
{
    public required MethodInfo Method { get; init; }

    public required Function Function { get; init; }

    /// <summary>True when the kernel uses barriers, shuffles or votes (its threads must run cooperatively).</summary>
    public required bool UsesCollectives { get; init; }

    /// <summary>The kernel's C# parameter types, in order; their leaves are the IR parameters.</summary>
    public required Type[] ParameterTypes { get; init; }

    public string Name => Function.Name;
}

/// <summary>
/// IL to verified IR: translation with inlining and SSA construction, then the clean-up passes. Results
/// are cached per method (a generic kernel is one method per instantiation).
/// </summary>
internal static class KernelCompiler
{
    private static readonly ConcurrentDictionary<MethodInfo, Lazy<CompiledKernel>> Cache = new();

    /// <summary>Run the verifier after every pass (always on in debug builds and in the tests).</summary>
    public static bool VerifyEachPass { get; set; }
#if DEBUG
        = true;
#endif

    public static CompiledKernel Compile(MethodInfo method)
    {
        Lazy<CompiledKernel> lazy = Cache.GetOrAdd(method, m => new Lazy<CompiledKernel>(() => CompileUncached(m)));
        try
        {
            return lazy.Value;
        }
        catch
        {
            Cache.TryRemove(method, out _); // A failure is reported again, not cached.
            throw;
        }
    }

    public static CompiledKernel CompileUncached(MethodInfo method)
    {
        if (method.GetCustomAttribute<KernelAttribute>() is null)
        {
            throw new KernelCompilationException(Translator.MethodName(method), 0, "a method without the [Kernel] attribute used as a kernel",
                "Mark the kernel method with [Kernel].");
        }
        var (function, collectives) = Translator.Translate(method);
        if (VerifyEachPass)
        {
            Verifier.Verify(function, "SSA construction");
        }
        Passes.Run(function, VerifyEachPass);
        Verifier.Verify(function, "the pass pipeline");
        return new CompiledKernel
        {
            Method = method,
            Function = function,
            UsesCollectives = collectives,
            ParameterTypes = method.GetParameters().Select(p => p.ParameterType).ToArray(),
        };
    }
}
