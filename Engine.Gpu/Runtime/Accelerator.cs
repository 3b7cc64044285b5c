using System.Reflection;

namespace Engine.Gpu;

/// <summary>
/// A device that runs kernels: the CUDA GPU (<c>CudaAccelerator</c>) or the CPU interpreter
/// (<see cref="CpuAccelerator"/>). It owns memory buffers and compiled kernels.
/// </summary>
public abstract class Accelerator : IDisposable
{
    /// <summary>A readable name of the device.</summary>
    public abstract string Name { get; }

    /// <summary>Lanes per warp.</summary>
    public abstract int WarpSize { get; }

    /// <summary>The most threads a group may have.</summary>
    public abstract int MaxGroupSize { get; }

    /// <summary>Allocates a buffer of <paramref name="length"/> elements.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="length">The number of elements.</param>
    public abstract MemoryBuffer<T> Allocate<T>(int length) where T : unmanaged;

    /// <summary>Allocates a buffer holding a copy of <paramref name="data"/>.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="data">The initial contents.</param>
    public MemoryBuffer<T> Allocate<T>(ReadOnlySpan<T> data) where T : unmanaged
    {
        MemoryBuffer<T> buffer = Allocate<T>(data.Length);
        buffer.CopyFromCPU(data);
        return buffer;
    }

    /// <summary>Waits until every launched kernel has finished.</summary>
    public abstract void Synchronize();

    /// <summary>Compiles a kernel (cached) and checks it is one.</summary>
    internal CompiledKernel Compile(Delegate kernel)
    {
        MethodInfo method = kernel.Method;
        if (!method.IsStatic || kernel.Target is not null)
        {
            throw new ArgumentException($"The kernel {method.Name} must be a static method marked [Kernel], not a lambda or instance method.", nameof(kernel));
        }
        // Once per method and accelerator: a backend that launches a kernel per tensor op (Engine's GPU backend
        // launches hundreds a step) must not pay the PTX disk cache's lookup (a file read, up to milliseconds)
        // on every launch. A failed compile is not stored, so it is reported again.
        return _compiled.GetOrAdd(method, CompileMethod);
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<MethodInfo, CompiledKernel> _compiled = new();

    /// <summary>The backend's way to get a kernel ready: by default the IR, built now so errors surface before any launch.</summary>
    private protected virtual CompiledKernel CompileMethod(MethodInfo method) => KernelCompiler.Compile(method);

    /// <summary>Runs a compiled kernel with its flattened arguments.</summary>
    internal abstract void Launch(CompiledKernel kernel, KernelConfig config, long[] arguments);

    /// <summary>Compiles <paramref name="kernel"/> and launches it once with boxed arguments (the slow path).</summary>
    /// <param name="kernel">A static [Kernel] method.</param>
    /// <param name="config">The launch shape.</param>
    /// <param name="args">One argument per kernel parameter, of exactly the parameter's type.</param>
    public void Launch(Delegate kernel, KernelConfig config, params object?[] args)
    {
        CompiledKernel compiled = Compile(kernel);
        Launch(compiled, config, KernelArguments.FromObjects(compiled, args));
    }

    /// <summary>
    /// Compiles <paramref name="kernel"/> now (errors surface here, before any launch) and returns a
    /// launcher that takes the launch shape and the kernel's arguments.
    /// </summary>
    /// <param name="kernel">A static [Kernel] method.</param>
    public Action<KernelConfig> LoadKernel(Action kernel)
    {
        CompiledKernel compiled = Compile(kernel);
        return (config) =>
        {
            Launch(compiled, config, []);
        };
    }

    /// <summary>
    /// Compiles <paramref name="kernel"/> now (errors surface here, before any launch) and returns a
    /// launcher that takes the launch shape and the kernel's arguments.
    /// </summary>
    /// <typeparam name="T1">The type of kernel parameter 1.</typeparam>
    /// <param name="kernel">A static [Kernel] method.</param>
    public Action<KernelConfig, T1> LoadKernel<T1>(Action<T1> kernel)
    {
        CompiledKernel compiled = Compile(kernel);
        return (config, a1) =>
        {
            var args = new long[compiled.ParameterSlots];
            int position = 0;
            KernelArguments.Write(a1, args, ref position);
            Launch(compiled, config, args);
        };
    }

    /// <summary>
    /// Compiles <paramref name="kernel"/> now (errors surface here, before any launch) and returns a
    /// launcher that takes the launch shape and the kernel's arguments.
    /// </summary>
    /// <typeparam name="T1">The type of kernel parameter 1.</typeparam>
    /// <typeparam name="T2">The type of kernel parameter 2.</typeparam>
    /// <param name="kernel">A static [Kernel] method.</param>
    public Action<KernelConfig, T1, T2> LoadKernel<T1, T2>(Action<T1, T2> kernel)
    {
        CompiledKernel compiled = Compile(kernel);
        return (config, a1, a2) =>
        {
            var args = new long[compiled.ParameterSlots];
            int position = 0;
            KernelArguments.Write(a1, args, ref position);
            KernelArguments.Write(a2, args, ref position);
            Launch(compiled, config, args);
        };
    }

    /// <summary>
    /// Compiles <paramref name="kernel"/> now (errors surface here, before any launch) and returns a
    /// launcher that takes the launch shape and the kernel's arguments.
    /// </summary>
    /// <typeparam name="T1">The type of kernel parameter 1.</typeparam>
    /// <typeparam name="T2">The type of kernel parameter 2.</typeparam>
    /// <typeparam name="T3">The type of kernel parameter 3.</typeparam>
    /// <param name="kernel">A static [Kernel] method.</param>
    public Action<KernelConfig, T1, T2, T3> LoadKernel<T1, T2, T3>(Action<T1, T2, T3> kernel)
    {
        CompiledKernel compiled = Compile(kernel);
        return (config, a1, a2, a3) =>
        {
            var args = new long[compiled.ParameterSlots];
            int position = 0;
            KernelArguments.Write(a1, args, ref position);
            KernelArguments.Write(a2, args, ref position);
            KernelArguments.Write(a3, args, ref position);
            Launch(compiled, config, args);
        };
    }

    /// <summary>
    /// Compiles <paramref name="kernel"/> now (errors surface here, before any launch) and returns a
    /// launcher that takes the launch shape and the kernel's arguments.
    /// </summary>
    /// <typeparam name="T1">The type of kernel parameter 1.</typeparam>
    /// <typeparam name="T2">The type of kernel parameter 2.</typeparam>
    /// <typeparam name="T3">The type of kernel parameter 3.</typeparam>
    /// <typeparam name="T4">The type of kernel parameter 4.</typeparam>
    /// <param name="kernel">A static [Kernel] method.</param>
    public Action<KernelConfig, T1, T2, T3, T4> LoadKernel<T1, T2, T3, T4>(Action<T1, T2, T3, T4> kernel)
    {
        CompiledKernel compiled = Compile(kernel);
        return (config, a1, a2, a3, a4) =>
        {
            var args = new long[compiled.ParameterSlots];
            int position = 0;
            KernelArguments.Write(a1, args, ref position);
            KernelArguments.Write(a2, args, ref position);
            KernelArguments.Write(a3, args, ref position);
            KernelArguments.Write(a4, args, ref position);
            Launch(compiled, config, args);
        };
    }

    /// <summary>
    /// Compiles <paramref name="kernel"/> now (errors surface here, before any launch) and returns a
    /// launcher that takes the launch shape and the kernel's arguments.
    /// </summary>
    /// <typeparam name="T1">The type of kernel parameter 1.</typeparam>
    /// <typeparam name="T2">The type of kernel parameter 2.</typeparam>
    /// <typeparam name="T3">The type of kernel parameter 3.</typeparam>
    /// <typeparam name="T4">The type of kernel parameter 4.</typeparam>
    /// <typeparam name="T5">The type of kernel parameter 5.</typeparam>
    /// <param name="kernel">A static [Kernel] method.</param>
    public Action<KernelConfig, T1, T2, T3, T4, T5> LoadKernel<T1, T2, T3, T4, T5>(Action<T1, T2, T3, T4, T5> kernel)
    {
        CompiledKernel compiled = Compile(kernel);
        return (config, a1, a2, a3, a4, a5) =>
        {
            var args = new long[compiled.ParameterSlots];
            int position = 0;
            KernelArguments.Write(a1, args, ref position);
            KernelArguments.Write(a2, args, ref position);
            KernelArguments.Write(a3, args, ref position);
            KernelArguments.Write(a4, args, ref position);
            KernelArguments.Write(a5, args, ref position);
            Launch(compiled, config, args);
        };
    }

    /// <summary>
    /// Compiles <paramref name="kernel"/> now (errors surface here, before any launch) and returns a
    /// launcher that takes the launch shape and the kernel's arguments.
    /// </summary>
    /// <typeparam name="T1">The type of kernel parameter 1.</typeparam>
    /// <typeparam name="T2">The type of kernel parameter 2.</typeparam>
    /// <typeparam name="T3">The type of kernel parameter 3.</typeparam>
    /// <typeparam name="T4">The type of kernel parameter 4.</typeparam>
    /// <typeparam name="T5">The type of kernel parameter 5.</typeparam>
    /// <typeparam name="T6">The type of kernel parameter 6.</typeparam>
    /// <param name="kernel">A static [Kernel] method.</param>
    public Action<KernelConfig, T1, T2, T3, T4, T5, T6> LoadKernel<T1, T2, T3, T4, T5, T6>(Action<T1, T2, T3, T4, T5, T6> kernel)
    {
        CompiledKernel compiled = Compile(kernel);
        return (config, a1, a2, a3, a4, a5, a6) =>
        {
            var args = new long[compiled.ParameterSlots];
            int position = 0;
            KernelArguments.Write(a1, args, ref position);
            KernelArguments.Write(a2, args, ref position);
            KernelArguments.Write(a3, args, ref position);
            KernelArguments.Write(a4, args, ref position);
            KernelArguments.Write(a5, args, ref position);
            KernelArguments.Write(a6, args, ref position);
            Launch(compiled, config, args);
        };
    }

    /// <summary>
    /// Compiles <paramref name="kernel"/> now (errors surface here, before any launch) and returns a
    /// launcher that takes the launch shape and the kernel's arguments.
    /// </summary>
    /// <typeparam name="T1">The type of kernel parameter 1.</typeparam>
    /// <typeparam name="T2">The type of kernel parameter 2.</typeparam>
    /// <typeparam name="T3">The type of kernel parameter 3.</typeparam>
    /// <typeparam name="T4">The type of kernel parameter 4.</typeparam>
    /// <typeparam name="T5">The type of kernel parameter 5.</typeparam>
    /// <typeparam name="T6">The type of kernel parameter 6.</typeparam>
    /// <typeparam name="T7">The type of kernel parameter 7.</typeparam>
    /// <param name="kernel">A static [Kernel] method.</param>
    public Action<KernelConfig, T1, T2, T3, T4, T5, T6, T7> LoadKernel<T1, T2, T3, T4, T5, T6, T7>(Action<T1, T2, T3, T4, T5, T6, T7> kernel)
    {
        CompiledKernel compiled = Compile(kernel);
        return (config, a1, a2, a3, a4, a5, a6, a7) =>
        {
            var args = new long[compiled.ParameterSlots];
            int position = 0;
            KernelArguments.Write(a1, args, ref position);
            KernelArguments.Write(a2, args, ref position);
            KernelArguments.Write(a3, args, ref position);
            KernelArguments.Write(a4, args, ref position);
            KernelArguments.Write(a5, args, ref position);
            KernelArguments.Write(a6, args, ref position);
            KernelArguments.Write(a7, args, ref position);
            Launch(compiled, config, args);
        };
    }

    /// <summary>
    /// Compiles <paramref name="kernel"/> now (errors surface here, before any launch) and returns a
    /// launcher that takes the launch shape and the kernel's arguments.
    /// </summary>
    /// <typeparam name="T1">The type of kernel parameter 1.</typeparam>
    /// <typeparam name="T2">The type of kernel parameter 2.</typeparam>
    /// <typeparam name="T3">The type of kernel parameter 3.</typeparam>
    /// <typeparam name="T4">The type of kernel parameter 4.</typeparam>
    /// <typeparam name="T5">The type of kernel parameter 5.</typeparam>
    /// <typeparam name="T6">The type of kernel parameter 6.</typeparam>
    /// <typeparam name="T7">The type of kernel parameter 7.</typeparam>
    /// <typeparam name="T8">The type of kernel parameter 8.</typeparam>
    /// <param name="kernel">A static [Kernel] method.</param>
    public Action<KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8> LoadKernel<T1, T2, T3, T4, T5, T6, T7, T8>(Action<T1, T2, T3, T4, T5, T6, T7, T8> kernel)
    {
        CompiledKernel compiled = Compile(kernel);
        return (config, a1, a2, a3, a4, a5, a6, a7, a8) =>
        {
            var args = new long[compiled.ParameterSlots];
            int position = 0;
            KernelArguments.Write(a1, args, ref position);
            KernelArguments.Write(a2, args, ref position);
            KernelArguments.Write(a3, args, ref position);
            KernelArguments.Write(a4, args, ref position);
            KernelArguments.Write(a5, args, ref position);
            KernelArguments.Write(a6, args, ref position);
            KernelArguments.Write(a7, args, ref position);
            KernelArguments.Write(a8, args, ref position);
            Launch(compiled, config, args);
        };
    }

    /// <summary>Releases the device's resources.</summary>
    /// <param name="disposing">True when called from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }
}
