using System.Numerics;

namespace Engine.Gpu;

/// <summary>
/// The warp of the current thread: lanes, shuffles and votes. Every lane of the warp must take part in a
/// collective (the full-mask .sync forms of PTX); the CPU accelerator reports a collective that some
/// lanes skip. A shuffle whose source lane lies outside the warp returns the caller's own value.
/// </summary>
public static class Warp
{
    /// <summary>Number of lanes in a warp: 32 on NVIDIA GPUs, a setting on the CPU accelerator.</summary>
    public static int WarpSize { [Intrinsic(IntrinsicKind.WarpSize)] get => KernelContext.Get("Warp.WarpSize").WarpSize; }

    /// <summary>Index of the current thread in its warp.</summary>
    public static int LaneIdx { [Intrinsic(IntrinsicKind.LaneIdx)] get => KernelContext.Get("Warp.LaneIdx").LaneIdx; }

    /// <summary>Index of the current warp in its group.</summary>
    public static int WarpIdx => Group.LinearIndex / WarpSize;

    /// <summary>Waits until every lane of the warp has arrived.</summary>
    [Intrinsic(IntrinsicKind.WarpBarrier)]
    public static void Barrier() => KernelContext.Get("Warp.Barrier").WarpBarrier();

    /// <summary>The value held by lane <paramref name="sourceLane"/> (taken modulo the warp size).</summary>
    /// <typeparam name="T">Any unmanaged type; structs are shuffled field by field.</typeparam>
    /// <param name="value">This lane's contribution.</param>
    /// <param name="sourceLane">The lane to read from.</param>
    [Intrinsic(IntrinsicKind.ShuffleIdx)]
    public static T Shuffle<T>(T value, int sourceLane) where T : unmanaged =>
        ShuffleCpu(IntrinsicKind.ShuffleIdx, value, sourceLane);

    /// <summary>The value held by lane <c>LaneIdx + delta</c>, or the caller's own value past the last lane.</summary>
    /// <typeparam name="T">Any unmanaged type; structs are shuffled field by field.</typeparam>
    /// <param name="value">This lane's contribution.</param>
    /// <param name="delta">How many lanes up to read from.</param>
    [Intrinsic(IntrinsicKind.ShuffleDown)]
    public static T ShuffleDown<T>(T value, int delta) where T : unmanaged =>
        ShuffleCpu(IntrinsicKind.ShuffleDown, value, delta);

    /// <summary>The value held by lane <c>LaneIdx - delta</c>, or the caller's own value before lane 0.</summary>
    /// <typeparam name="T">Any unmanaged type; structs are shuffled field by field.</typeparam>
    /// <param name="value">This lane's contribution.</param>
    /// <param name="delta">How many lanes down to read from.</param>
    [Intrinsic(IntrinsicKind.ShuffleUp)]
    public static T ShuffleUp<T>(T value, int delta) where T : unmanaged =>
        ShuffleCpu(IntrinsicKind.ShuffleUp, value, delta);

    /// <summary>The value held by lane <c>LaneIdx ^ laneMask</c> (the butterfly of tree reductions).</summary>
    /// <typeparam name="T">Any unmanaged type; structs are shuffled field by field.</typeparam>
    /// <param name="value">This lane's contribution.</param>
    /// <param name="laneMask">The bits to flip in the lane index.</param>
    [Intrinsic(IntrinsicKind.ShuffleXor)]
    public static T ShuffleXor<T>(T value, int laneMask) where T : unmanaged =>
        ShuffleCpu(IntrinsicKind.ShuffleXor, value, laneMask);

    // The width overloads are library code over the whole-warp idx shuffle: each lane computes the lane
    // it reads (its own when the source leaves its segment), so they need no IR of their own and their
    // CPU meaning is this very code. Widths above the warp size act as the warp size.

    /// <summary>
    /// <see cref="Shuffle{T}(T, int)"/> within segments of <paramref name="width"/> lanes: the value of lane
    /// <c>sourceLane % width</c> of the caller's segment (CUDA's <c>__shfl_sync</c> with a width).
    /// </summary>
    /// <typeparam name="T">Any unmanaged type.</typeparam>
    /// <param name="value">This lane's contribution.</param>
    /// <param name="sourceLane">The lane within the segment to read from.</param>
    /// <param name="width">The segment size: a power of two from 1 to the warp size.</param>
    public static T Shuffle<T>(T value, int sourceLane, int width) where T : unmanaged
    {
        int w = Math.Min(width, WarpSize);
        int segment = LaneIdx & ~(w - 1);
        return Shuffle(value, segment + (sourceLane & (w - 1)));
    }

    /// <summary>
    /// <see cref="ShuffleDown{T}(T, int)"/> within segments of <paramref name="width"/> lanes: past the end of
    /// its segment a lane keeps its own value.
    /// </summary>
    /// <typeparam name="T">Any unmanaged type.</typeparam>
    /// <param name="value">This lane's contribution.</param>
    /// <param name="delta">How many lanes up to read from.</param>
    /// <param name="width">The segment size: a power of two from 1 to the warp size.</param>
    public static T ShuffleDown<T>(T value, int delta, int width) where T : unmanaged
    {
        int w = Math.Min(width, WarpSize);
        int lane = LaneIdx;
        return Shuffle(value, (lane & (w - 1)) + delta < w ? lane + delta : lane);
    }

    /// <summary>
    /// <see cref="ShuffleUp{T}(T, int)"/> within segments of <paramref name="width"/> lanes: before the start
    /// of its segment a lane keeps its own value.
    /// </summary>
    /// <typeparam name="T">Any unmanaged type.</typeparam>
    /// <param name="value">This lane's contribution.</param>
    /// <param name="delta">How many lanes down to read from.</param>
    /// <param name="width">The segment size: a power of two from 1 to the warp size.</param>
    public static T ShuffleUp<T>(T value, int delta, int width) where T : unmanaged
    {
        int w = Math.Min(width, WarpSize);
        int lane = LaneIdx;
        return Shuffle(value, (lane & (w - 1)) >= delta ? lane - delta : lane);
    }

    /// <summary>
    /// <see cref="ShuffleXor{T}(T, int)"/> within segments of <paramref name="width"/> lanes: a partner
    /// outside the caller's segment gives the caller's own value.
    /// </summary>
    /// <typeparam name="T">Any unmanaged type.</typeparam>
    /// <param name="value">This lane's contribution.</param>
    /// <param name="laneMask">The bits to flip in the lane index.</param>
    /// <param name="width">The segment size: a power of two from 1 to the warp size.</param>
    public static T ShuffleXor<T>(T value, int laneMask, int width) where T : unmanaged
    {
        int w = Math.Min(width, WarpSize);
        int lane = LaneIdx;
        int partner = lane ^ laneMask;
        return Shuffle(value, (partner & ~(w - 1)) == (lane & ~(w - 1)) ? partner : lane);
    }

    /// <summary>True when <paramref name="predicate"/> holds on every lane of the warp.</summary>
    /// <param name="predicate">This lane's vote.</param>
    [Intrinsic(IntrinsicKind.VoteAll)]
    public static bool All(bool predicate) => Array.TrueForAll(KernelContext.Get("Warp.All").WarpGather(predicate), p => p);

    /// <summary>True when <paramref name="predicate"/> holds on any lane of the warp.</summary>
    /// <param name="predicate">This lane's vote.</param>
    [Intrinsic(IntrinsicKind.VoteAny)]
    public static bool Any(bool predicate) => Array.Exists(KernelContext.Get("Warp.Any").WarpGather(predicate), p => p);

    /// <summary>A mask with bit i set when <paramref name="predicate"/> holds on lane i.</summary>
    /// <param name="predicate">This lane's vote.</param>
    [Intrinsic(IntrinsicKind.VoteBallot)]
    public static uint Ballot(bool predicate)
    {
        bool[] votes = KernelContext.Get("Warp.Ballot").WarpGather(predicate);
        uint mask = 0;
        for (int lane = 0; lane < votes.Length; lane++)
        {
            if (votes[lane])
            {
                mask |= 1u << lane;
            }
        }
        return mask;
    }

    // Reductions and scans: library code over the shuffles (ILGPU.Algorithms' warp extensions), for any
    // numeric type through generic math. Every lane must call them; every lane gets the result. The
    // order of the additions is fixed (a butterfly, a Hillis-Steele scan), so floating-point results are
    // the same on the CPU accelerator, in plain C# and on the GPU.

    /// <summary>
    /// <paramref name="value"/> combined over the warp with <typeparamref name="TReduction"/>, on every lane:
    /// a butterfly of xor shuffles, so every lane combines in the same order.
    /// </summary>
    /// <typeparam name="T">The values combined.</typeparam>
    /// <typeparam name="TReduction">The associative operation.</typeparam>
    /// <param name="value">This lane's contribution.</param>
    public static T Reduce<T, TReduction>(T value)
        where T : unmanaged
        where TReduction : struct, IReduction<T>
    {
        for (int offset = WarpSize / 2; offset > 0; offset /= 2)
        {
            value = TReduction.Combine(value, ShuffleXor(value, offset));
        }
        return value;
    }

    /// <summary>The sum of <paramref name="value"/> over the warp, on every lane.</summary>
    /// <typeparam name="T">A numeric type.</typeparam>
    /// <param name="value">This lane's contribution.</param>
    public static T Sum<T>(T value) where T : unmanaged, INumber<T> => Reduce<T, SumReduction<T>>(value);

    /// <summary>The largest <paramref name="value"/> of the warp, on every lane (T.Max: a NaN wins, as in .NET).</summary>
    /// <typeparam name="T">A numeric type.</typeparam>
    /// <param name="value">This lane's contribution.</param>
    public static T Max<T>(T value) where T : unmanaged, INumber<T> => Reduce<T, MaxReduction<T>>(value);

    /// <summary>The smallest <paramref name="value"/> of the warp, on every lane (T.Min: a NaN wins, as in .NET).</summary>
    /// <typeparam name="T">A numeric type.</typeparam>
    /// <param name="value">This lane's contribution.</param>
    public static T Min<T>(T value) where T : unmanaged, INumber<T> => Reduce<T, MinReduction<T>>(value);

    /// <summary>The sum of <paramref name="value"/> over lanes 0 to this one.</summary>
    /// <typeparam name="T">A numeric type.</typeparam>
    /// <param name="value">This lane's contribution.</param>
    public static T InclusiveScanSum<T>(T value) where T : unmanaged, INumber<T>
    {
        int lane = LaneIdx;
        for (int offset = 1; offset < WarpSize; offset *= 2)
        {
            T other = ShuffleUp(value, offset);
            if (lane >= offset)
            {
                value += other;
            }
        }
        return value;
    }

    /// <summary>The sum of <paramref name="value"/> over the lanes before this one (zero on lane 0).</summary>
    /// <typeparam name="T">A numeric type.</typeparam>
    /// <param name="value">This lane's contribution.</param>
    public static T ExclusiveScanSum<T>(T value) where T : unmanaged, INumber<T>
    {
        T inclusive = InclusiveScanSum(value);
        T previous = ShuffleUp(inclusive, 1);
        return LaneIdx == 0 ? T.Zero : previous;
    }

    /// <summary>Lane <paramref name="sourceLane"/>'s <paramref name="value"/>, on every lane.</summary>
    /// <typeparam name="T">Any unmanaged type.</typeparam>
    /// <param name="value">This lane's value.</param>
    /// <param name="sourceLane">The lane whose value every lane receives.</param>
    public static T Broadcast<T>(T value, int sourceLane) where T : unmanaged => Shuffle(value, sourceLane);

    private static T ShuffleCpu<T>(IntrinsicKind kind, T value, int argument) where T : unmanaged
    {
        KernelContext context = KernelContext.Get("Warp." + kind);
        T[] all = context.WarpGather(value);
        int source = WarpSemantics.SourceLane(kind, context.LaneIdx, argument, context.WarpSize);
        return source < all.Length ? all[source] : value;
    }
}
