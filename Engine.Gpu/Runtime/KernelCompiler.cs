using System.Collections.Concurrent;
using System.Reflection;
using Engine.Gpu.Frontend;
using Engine.Gpu.IR;

namespace Engine.Gpu;

/// <summary>
/// A kernel ready for a backend: its method, its parameter layout, and its verified IR, built on first
/// use. The CUDA backend never touches the IR when the PTX disk cache has the kernel, so a process that
/// launches only cached kernels never translates IL (a cache hit costs a fingerprint and a file read).
/// </summary>
internal sealed class CompiledKernel
{
    private readonly Lazy<(Function Function, bool UsesCollectives)> _ir;

    public CompiledKernel(MethodInfo method, Func<(Function, bool)> build)
    {
        Method = method;
        ParameterTypes = method.GetParameters().Select(p => p.ParameterType).ToArray();
        ParameterSlots = ParameterTypes.Sum(t => TypeLayout.TryGet(t, out _)?.Leaves.Length ?? 1);
        Name = Translator.MethodName(method);
        _ir = new Lazy<(Function, bool)>(build);
    }

    public MethodInfo Method { get; }

    /// <summary>The verified IR (translated and optimised on first use).</summary>
    public Function Function => _ir.Value.Function;

    /// <summary>True when the IR has been built (or its build attempted).</summary>
    public bool HasIr => _ir.IsValueCreated;

    /// <summary>True when the kernel uses barriers, shuffles or votes (its threads must run cooperatively).</summary>
    public bool UsesCollectives => _ir.Value.UsesCollectives;

    /// <summary>The kernel's C# parameter types, in order; their leaves are the IR parameters.</summary>
    public Type[] ParameterTypes { get; }

    /// <summary>Scalar leaves of all parameters: the IR's parameter count and the launch's argument slots.</summary>
    public int ParameterSlots { get; }

    public string Name { get; }
}

/// <summary>
/// IL to verified IR: translation with inlining and SSA construction, then the clean-up passes. Results
/// are cached per method (a generic kernel is one method per instantiation).
/// </summary>
internal static class KernelCompiler
{
    private static readonly ConcurrentDictionary<MethodInfo, CompiledKernel> Cache = new();

    /// <summary>Run the verifier after every pass (always on in debug builds and in the tests).</summary>
    public static bool VerifyEachPass { get; set; }
#if DEBUG
        = true;
#endif

    /// <summary>The kernel with its IR built now, so every compile error surfaces here.</summary>
    public static CompiledKernel Compile(MethodInfo method)
    {
        CompiledKernel kernel = Deferred(method);
        try
        {
            _ = kernel.Function;
            return kernel;
        }
        catch
        {
            Cache.TryRemove(new KeyValuePair<MethodInfo, CompiledKernel>(method, kernel)); // A failure is reported again, not cached.
            throw;
        }
    }

    /// <summary>
    /// The kernel with its IR left for first use: for a backend that has the kernel's code already
    /// (the CUDA backend, on a PTX disk-cache hit: the cache stores only kernels that compiled).
    /// </summary>
    public static CompiledKernel Deferred(MethodInfo method)
    {
        if (method.GetCustomAttribute<KernelAttribute>() is null)
        {
            throw new KernelCompilationException(Translator.MethodName(method), 0, "a method without the [Kernel] attribute used as a kernel",
                "Mark the kernel method with [Kernel].");
        }
        return Cache.GetOrAdd(method, m => new CompiledKernel(m, () => Build(m)));
    }

    public static CompiledKernel CompileUncached(MethodInfo method)
    {
        if (method.GetCustomAttribute<KernelAttribute>() is null)
        {
            throw new KernelCompilationException(Translator.MethodName(method), 0, "a method without the [Kernel] attribute used as a kernel",
                "Mark the kernel method with [Kernel].");
        }
        var kernel = new CompiledKernel(method, () => Build(method));
        _ = kernel.Function;
        return kernel;
    }

    private static (Function, bool) Build(MethodInfo method)
    {
        var (function, collectives) = Translator.Translate(method);
        if (VerifyEachPass)
        {
            Verifier.Verify(function, "SSA construction");
        }
        Passes.Run(function, VerifyEachPass);
        Verifier.Verify(function, "the pass pipeline");
        return (function, collectives);
    }
}
