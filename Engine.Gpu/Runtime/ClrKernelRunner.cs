using System.Reflection;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

namespace Engine.Gpu;

/// <summary>
/// Runs a kernel as the plain C# it is, under the CLR, with the intrinsics' CPU meanings: the
/// specification the compiled kernel must match. Threads of a group run one after another, unless the
/// kernel uses barriers or warp collectives; then each thread of a group gets its own OS thread (slow,
/// meant for tests and for stepping through a kernel in a debugger).
/// </summary>
public static class ClrKernelRunner
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    /// <summary>Runs <paramref name="kernel"/> on every thread of the launch.</summary>
    /// <param name="kernel">A static [Kernel] method.</param>
    /// <param name="config">The launch shape.</param>
    /// <param name="warpSize">Lanes per warp, as the accelerator being compared would use.</param>
    /// <param name="args">One argument per kernel parameter.</param>
    public static void Run(Delegate kernel, KernelConfig config, int warpSize, params object?[] args)
    {
        MethodInfo method = kernel.Method;
        if (!method.IsStatic || kernel.Target is not null)
        {
            throw new ArgumentException($"The kernel {method.Name} must be a static method.", nameof(kernel));
        }
        config.Validate(1024);
        bool cooperative;
        try
        {
            cooperative = KernelCompiler.Compile(method).UsesCollectives;
        }
        catch (KernelCompilationException)
        {
            cooperative = true; // Plain C# runs anything; assume the worst about collectives.
        }
        for (int gz = 0; gz < config.GridDim.Z; gz++)
        {
            for (int gy = 0; gy < config.GridDim.Y; gy++)
            {
                for (int gx = 0; gx < config.GridDim.X; gx++)
                {
                    using var group = new ClrGroup(config, warpSize, new Index3D(gx, gy, gz));
                    if (cooperative)
                    {
                        group.RunThreaded(method, args);
                    }
                    else
                    {
                        for (int t = 0; t < config.GroupSize; t++)
                        {
                            group.RunOne(method, args, t);
                        }
                    }
                }
            }
        }
    }

    private sealed unsafe class ClrGroup : IDisposable
    {
        private readonly List<nint> _shared = [];
        private readonly object _lock = new();

        public ClrGroup(KernelConfig config, int warpSize, Index3D index)
        {
            Config = config;
            WarpSize = warpSize;
            Index = index;
            GroupBarrier = new Barrier(config.GroupSize);
            int warps = (config.GroupSize + warpSize - 1) / warpSize;
            WarpBarriers = new Barrier[warps];
            WarpSlots = new object?[warps][];
            for (int w = 0; w < warps; w++)
            {
                int lanes = Math.Min(warpSize, config.GroupSize - w * warpSize);
                WarpBarriers[w] = new Barrier(lanes);
                WarpSlots[w] = new object?[lanes];
            }
            DynamicBytes = config.DynamicSharedBytes;
            Dynamic = (nint)NativeMemory.AlignedAlloc((nuint)Math.Max(DynamicBytes, 16), 64);
            new Span<byte>((void*)Dynamic, DynamicBytes).Fill(0xCD);
        }

        public KernelConfig Config { get; }
        public int WarpSize { get; }
        public Index3D Index { get; }
        public Barrier GroupBarrier { get; }
        public Barrier[] WarpBarriers { get; }
        public object?[][] WarpSlots { get; }
        public nint Dynamic { get; }
        public int DynamicBytes { get; }

        public nint Shared(int k, int bytes)
        {
            lock (_lock)
            {
                while (_shared.Count <= k)
                {
                    nint p = (nint)NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 16), 64);
                    new Span<byte>((void*)p, bytes).Fill(0xCD);
                    _shared.Add(p);
                }
                return _shared[k];
            }
        }

        public void RunOne(MethodInfo method, object?[] args, int t)
        {
            KernelContext.Install(new ClrThread(this, t));
            try
            {
                method.Invoke(null, args);
            }
            catch (TargetInvocationException e) when (e.InnerException is not null)
            {
                ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            }
            finally
            {
                KernelContext.Install(null);
            }
        }

        public void RunThreaded(MethodInfo method, object?[] args)
        {
            int n = Config.GroupSize;
            var errors = new Exception?[n];
            var threads = new Thread[n];
            for (int t = 0; t < n; t++)
            {
                int id = t;
                threads[t] = new Thread(() =>
                {
                    try
                    {
                        RunOne(method, args, id);
                    }
                    catch (Exception e)
                    {
                        errors[id] = e;
                    }
                    finally
                    {
                        // A finished thread leaves the barriers, so the others are never stuck waiting for it.
                        GroupBarrier.RemoveParticipant();
                        WarpBarriers[id / WarpSize].RemoveParticipant();
                    }
                }, 256 * 1024);
                threads[t].Start();
            }
            foreach (Thread thread in threads)
            {
                thread.Join();
            }
            if (errors.FirstOrDefault(e => e is not null) is { } first)
            {
                ExceptionDispatchInfo.Capture(first).Throw();
            }
        }

        public void Dispose()
        {
            foreach (nint p in _shared)
            {
                NativeMemory.AlignedFree((void*)p);
            }
            NativeMemory.AlignedFree((void*)Dynamic);
            GroupBarrier.Dispose();
            foreach (Barrier b in WarpBarriers)
            {
                b.Dispose();
            }
        }
    }

    private sealed class ClrThread : KernelContext
    {
        private readonly ClrGroup _group;
        private int _allocations;

        public ClrThread(ClrGroup group, int t)
        {
            _group = group;
            KernelConfig c = group.Config;
            GridIdx = group.Index;
            GridDim = c.GridDim;
            GroupDim = c.GroupDim;
            GroupIdx = new Index3D(t % c.GroupDim.X, t / c.GroupDim.X % c.GroupDim.Y, t / (c.GroupDim.X * c.GroupDim.Y));
            WarpSize = group.WarpSize;
        }

        private int Warp => LinearGroupIdx / WarpSize;

        public override void GroupBarrier() => Wait(_group.GroupBarrier, "Group.Barrier");

        public override void WarpBarrier() => Wait(_group.WarpBarriers[Warp], "Warp.Barrier");

        public override T[] WarpGather<T>(T value)
        {
            object?[] slots = _group.WarpSlots[Warp];
            slots[LaneIdx] = value;
            Wait(_group.WarpBarriers[Warp], "a warp collective");
            T[] all = slots.Select(s => s is T x ? x : default).ToArray();
            Wait(_group.WarpBarriers[Warp], "a warp collective");
            return all;
        }

        public override nint SharedAllocate(int bytes) => _group.Shared(_allocations++, bytes);

        public override nint DynamicShared(out int bytes)
        {
            bytes = _group.DynamicBytes;
            return _group.Dynamic;
        }

        private static void Wait(Barrier barrier, string what)
        {
            if (!barrier.SignalAndWait(Patience))
            {
                throw new TimeoutException($"{what} waited {Patience.TotalSeconds} s for the other threads: the kernel's threads diverge at a barrier or collective.");
            }
        }
    }
}
