using System.Runtime.InteropServices;
using Engine.Gpu.Cpu;

namespace Engine.Gpu;

/// <summary>
/// Runs kernels on the CPU by interpreting their verified IR: the debugger for kernel authors and the
/// oracle for the compiler. Views are bounds-checked, barriers and warp collectives are checked for
/// divergence, and results are deterministic (groups run one after another, threads of a group
/// cooperatively). The warp size is a setting, so warp-size assumptions can be flushed out.
/// </summary>
public sealed class CpuAccelerator : Accelerator
{
    private readonly Dictionary<CompiledKernel, Program> _programs = [];
    private readonly object _lock = new();

    /// <summary>Creates a CPU accelerator.</summary>
    /// <param name="warpSize">Lanes per warp: a power of two from 1 to 32.</param>
    /// <param name="maxGroupSize">The largest group a launch may use.</param>
    /// <param name="parallelGroups">
    /// How many groups may run at once on different cores. 1 (the default) runs groups in order, so
    /// every launch is deterministic; more is faster, and only the order of atomic operations on one
    /// address from different groups (and the result of racy kernels) can then vary.
    /// </param>
    public CpuAccelerator(int warpSize = 32, int maxGroupSize = 1024, int parallelGroups = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parallelGroups, 1);
        ParallelGroups = parallelGroups;
        if (warpSize < 1 || warpSize > 32 || (warpSize & (warpSize - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(warpSize), warpSize, "The warp size must be a power of two from 1 to 32.");
        }
        WarpSize = warpSize;
        MaxGroupSize = maxGroupSize;
    }

    /// <inheritdoc/>
    public override string Name => $"CPU interpreter (warp size {WarpSize})";

    /// <inheritdoc/>
    public override int WarpSize { get; }

    /// <inheritdoc/>
    public override int MaxGroupSize { get; }

    /// <summary>How many groups may run at once (1: in order, deterministic).</summary>
    public int ParallelGroups { get; }

    /// <summary>IR instructions executed by all launches so far (for measuring interpreter speed).</summary>
    public long InstructionsExecuted { get; private set; }

    /// <inheritdoc/>
    public override MemoryBuffer<T> Allocate<T>(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return new CpuMemoryBuffer<T>(this, length);
    }

    /// <inheritdoc/>
    public override void Synchronize()
    {
        // Launches run to completion before they return.
    }

    internal override void Launch(CompiledKernel kernel, KernelConfig config, long[] arguments)
    {
        config.Validate(MaxGroupSize);
        Program program;
        lock (_lock)
        {
            if (!_programs.TryGetValue(kernel, out program!))
            {
                program = Lowering.Lower(kernel.Function);
                _programs[kernel] = program;
            }
        }
        long groups = config.GridDim.Size;
        if (ParallelGroups == 1 || groups == 1)
        {
            InstructionsExecuted += RunGroups(program, config, arguments, 0, groups);
            return;
        }
        // Contiguous ranges of groups per worker: each worker owns an interpreter and its shared memory.
        int workers = (int)Math.Min(ParallelGroups, groups);
        long[] counts = new long[workers];
        try
        {
            Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, w =>
            {
                long first = groups * w / workers, end = groups * (w + 1) / workers;
                counts[w] = RunGroups(program, config, arguments, first, end);
            });
        }
        catch (AggregateException e) when (e.InnerExceptions.Count >= 1)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
        finally
        {
            InstructionsExecuted += counts.Sum();
        }
    }

    private unsafe long RunGroups(Program program, KernelConfig config, long[] arguments, long first, long end)
    {
        nuint sharedBytes = (nuint)(program.StaticSharedBytes + config.DynamicSharedBytes);
        byte* shared = (byte*)NativeMemory.AlignedAlloc(Math.Max(sharedBytes, 16), 64);
        var interpreter = new Interpreter(program, config, WarpSize, arguments, shared);
        try
        {
            for (long g = first; g < end; g++)
            {
                int x = (int)(g % config.GridDim.X);
                int y = (int)(g / config.GridDim.X % config.GridDim.Y);
                int z = (int)(g / ((long)config.GridDim.X * config.GridDim.Y));
                interpreter.RunGroup(new Index3D(x, y, z));
            }
            return interpreter.InstructionsExecuted;
        }
        finally
        {
            NativeMemory.AlignedFree(shared);
        }
    }

    /// <summary>The kernel's IR as text (after all passes), for inspection and tests.</summary>
    /// <param name="kernel">A static [Kernel] method.</param>
    public static string DumpIR(Delegate kernel) => IR.Printer.Print(KernelCompiler.Compile(kernel.Method).Function);
}

/// <summary>Host memory standing in for device memory; zeroed on allocation.</summary>
internal sealed unsafe class CpuMemoryBuffer<T> : MemoryBuffer<T> where T : unmanaged
{
    private T* _pointer;

    public CpuMemoryBuffer(Accelerator accelerator, int length) : base(accelerator, length)
    {
        nuint bytes = (nuint)Math.Max(1L, (long)length * sizeof(T));
        _pointer = (T*)NativeMemory.AlignedAlloc(bytes, 256);
        NativeMemory.Clear(_pointer, bytes);
    }

    protected override ArrayView<T> GetView() => new(_pointer, Length);

    protected override void CopyFromHost(ReadOnlySpan<T> source) => source.CopyTo(new Span<T>(_pointer, Length));

    protected override void CopyToHost(Span<T> destination) => new Span<T>(_pointer, destination.Length).CopyTo(destination);

    protected override void CopyBytesFromHost(ReadOnlySpan<byte> source) => source.CopyTo(new Span<byte>(_pointer, source.Length));

    protected override void CopyBytesToHost(Span<byte> destination) => new Span<byte>(_pointer, destination.Length).CopyTo(destination);

    protected override void Free()
    {
        NativeMemory.AlignedFree(_pointer);
        _pointer = null;
    }
}
