namespace Engine.Gpu;

/// <summary>
/// Marks a method whose body is its CPU meaning and whose compiled meaning is the IR operation
/// <see cref="Kind"/>. The kernel compiler never inlines the body of such a method.
/// </summary>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Property, Inherited = false)]
public sealed class IntrinsicAttribute : Attribute
{
    /// <summary>Creates the attribute for the given operation.</summary>
    /// <param name="kind">The operation the compiler emits for a call of the marked method.</param>
    public IntrinsicAttribute(IntrinsicKind kind) => Kind = kind;

    /// <summary>The operation the compiler emits for a call of the marked method.</summary>
    public IntrinsicKind Kind { get; }
}

/// <summary>The operations behind the intrinsic methods of the kernel language.</summary>
public enum IntrinsicKind
{
    /// <summary>Index of the group in the grid, x.</summary>
    GridIdxX,
    /// <summary>Index of the group in the grid, y.</summary>
    GridIdxY,
    /// <summary>Index of the group in the grid, z.</summary>
    GridIdxZ,
    /// <summary>Number of groups in the grid, x.</summary>
    GridDimX,
    /// <summary>Number of groups in the grid, y.</summary>
    GridDimY,
    /// <summary>Number of groups in the grid, z.</summary>
    GridDimZ,
    /// <summary>Index of the thread in its group, x.</summary>
    GroupIdxX,
    /// <summary>Index of the thread in its group, y.</summary>
    GroupIdxY,
    /// <summary>Index of the thread in its group, z.</summary>
    GroupIdxZ,
    /// <summary>Number of threads in a group, x.</summary>
    GroupDimX,
    /// <summary>Number of threads in a group, y.</summary>
    GroupDimY,
    /// <summary>Number of threads in a group, z.</summary>
    GroupDimZ,
    /// <summary>Number of lanes in a warp.</summary>
    WarpSize,
    /// <summary>Index of the thread in its warp.</summary>
    LaneIdx,
    /// <summary>Barrier over all threads of a group, with a group-wide memory fence.</summary>
    GroupBarrier,
    /// <summary>Barrier over the lanes of a warp.</summary>
    WarpBarrier,
    /// <summary>Warp shuffle from an absolute lane.</summary>
    ShuffleIdx,
    /// <summary>Warp shuffle from lane + delta.</summary>
    ShuffleDown,
    /// <summary>Warp shuffle from lane - delta.</summary>
    ShuffleUp,
    /// <summary>Warp shuffle from lane ^ mask.</summary>
    ShuffleXor,
    /// <summary>True on every lane when the predicate holds on all lanes of the warp.</summary>
    VoteAll,
    /// <summary>True on every lane when the predicate holds on any lane of the warp.</summary>
    VoteAny,
    /// <summary>The bit mask of lanes whose predicate holds.</summary>
    VoteBallot,
    /// <summary>A statically sized shared-memory array per group.</summary>
    SharedAllocate,
    /// <summary>The dynamically sized shared memory of a launch.</summary>
    SharedDynamic,
    /// <summary>Atomic add, returns the old value.</summary>
    AtomicAdd,
    /// <summary>Atomic minimum, returns the old value.</summary>
    AtomicMin,
    /// <summary>Atomic maximum, returns the old value.</summary>
    AtomicMax,
    /// <summary>Atomic exchange, returns the old value.</summary>
    AtomicExchange,
    /// <summary>Atomic compare-and-exchange, returns the old value.</summary>
    AtomicCompareExchange,
    /// <summary>Atomic bitwise and, returns the old value.</summary>
    AtomicAnd,
    /// <summary>Atomic bitwise or, returns the old value.</summary>
    AtomicOr,
    /// <summary>Atomic bitwise xor, returns the old value.</summary>
    AtomicXor,
    /// <summary>Memory fence at group scope.</summary>
    FenceGroup,
    /// <summary>Memory fence at device scope.</summary>
    FenceDevice,
    /// <summary>Memory fence at system scope.</summary>
    FenceSystem,
    /// <summary>Approximate 2^x.</summary>
    FastEx2,
    /// <summary>Approximate log2(x).</summary>
    FastLg2,
    /// <summary>Approximate 1/sqrt(x).</summary>
    FastRsqrt,
    /// <summary>Approximate 1/x.</summary>
    FastRcp,
    /// <summary>Approximate tanh(x).</summary>
    FastTanh,
    /// <summary>Approximate sin(x).</summary>
    FastSin,
    /// <summary>Approximate cos(x).</summary>
    FastCos,
    /// <summary>Fused multiply-add, one rounding.</summary>
    Fma,
    /// <summary>Minimum that ignores a NaN operand.</summary>
    FastMin,
    /// <summary>Maximum that ignores a NaN operand.</summary>
    FastMax,
    /// <summary>Address of a view element, bounds-checked on the CPU.</summary>
    ViewElement,
    /// <summary>A sub-range of a view.</summary>
    ViewSubView,
    /// <summary>A view reinterpreted with another element type.</summary>
    ViewCast,
    /// <summary>Warp-wide D = A * B + C, m16n8k16, f16 inputs, f32 accumulators (mma.sync).</summary>
    MmaF16,
    /// <summary>Warp-wide D = A * B + C, m16n8k16, bf16 inputs, f32 accumulators (mma.sync).</summary>
    MmaBF16,
    /// <summary>Warp-wide load of 8x8 matrices of 16-bit values from shared memory (ldmatrix), x1, x2 or x4.</summary>
    LoadMatrixX1,
    /// <summary>ldmatrix .x2.</summary>
    LoadMatrixX2,
    /// <summary>ldmatrix .x4.</summary>
    LoadMatrixX4,
    /// <summary>ldmatrix .x1.trans.</summary>
    LoadMatrixX1Transposed,
    /// <summary>ldmatrix .x2.trans.</summary>
    LoadMatrixX2Transposed,
    /// <summary>ldmatrix .x4.trans.</summary>
    LoadMatrixX4Transposed,
    /// <summary>Two floats rounded to f16 and packed in 32 bits, the first in the low half.</summary>
    PackHalf2,
    /// <summary>Two floats rounded to bf16 and packed in 32 bits, the first in the low half.</summary>
    PackBFloat162,
    /// <summary>An asynchronous 4, 8 or 16-byte copy from global to shared memory (cp.async).</summary>
    CopyAsync,
    /// <summary>Closes the group of copies issued so far (cp.async.commit_group).</summary>
    CopyAsyncCommit,
    /// <summary>Waits until at most N committed groups are pending (cp.async.wait_group).</summary>
    CopyAsyncWait,
}
