namespace Engine.Gpu.IR;

/// <summary>The type of an SSA value: the IL evaluation-stack types, with pointers kept apart.</summary>
internal enum IrType : byte
{
    Void,
    I32,
    I64,
    F32,
    F64,
    Ptr,
}

/// <summary>How a scalar sits in memory; loads widen it to its <see cref="IrType"/> (sign or zero).</summary>
internal enum MemType : byte
{
    I8,
    U8,
    I16,
    U16,
    I32,
    I64,
    F32,
    F64,
    Ptr,
}

/// <summary>Comparisons. For floats the "Un" forms are true when either operand is NaN.</summary>
internal enum CmpKind : byte
{
    Eq,
    NeUn,
    Lt,
    Le,
    Gt,
    Ge,
    LtUn,
    LeUn,
    GtUn,
    GeUn,
}

/// <summary>Conversions, named after the IL conv.* opcodes; the source type is the operand's type.</summary>
internal enum ConvKind : byte
{
    ToI1,
    ToU1,
    ToI2,
    ToU2,
    ToI4,
    ToU4,
    ToI8,
    ToU8,
    ToR4,
    ToR8,
    /// <summary>conv.r.un: the integer read as unsigned, to F64.</summary>
    ToRUn,
    /// <summary>conv.r.un followed by conv.r4, fused so the rounding is the CLR's.</summary>
    ToRUn4,
    /// <summary>Reinterprets the bits: I32 and F32, I64 and F64, I64 and Ptr.</summary>
    Bitcast,
}

/// <summary>Math functions; each has the CLR meaning of the method it came from.</summary>
internal enum MathFn : byte
{
    Sqrt,
    Exp,
    Log,
    Log2,
    Exp2,
    Sin,
    Cos,
    Tan,
    Tanh,
    Pow,
    Floor,
    Ceiling,
    Truncate,
    Round,
    Abs,
    Min,
    Max,
    MinUn,
    MaxUn,
    Fma,
    FastEx2,
    FastLg2,
    FastRsqrt,
    FastRcp,
    FastTanh,
    FastSin,
    FastCos,
    FastMin,
    FastMax,
    HalfToFloat,
    FloatToHalf,
    HalfToDouble,
    DoubleToHalf,
    /// <summary>Two F32 operands rounded to f16 and packed into an I32, the first in the low half.</summary>
    PackHalf2,
    /// <summary>Two F32 operands rounded to bf16 and packed into an I32, the first in the low half.</summary>
    PackBFloat162,
    /// <summary>Set bits of an I32 or I64 operand, as an I32 (BitOperations.PopCount).</summary>
    PopCount,
    /// <summary>Leading zero bits of an I32 or I64 operand (the width for zero), as an I32.</summary>
    LeadingZeroCount,
    /// <summary>Trailing zero bits of an I32 or I64 operand (the width for zero), as an I32.</summary>
    TrailingZeroCount,
}

/// <summary>Per-thread special values.</summary>
internal enum SpecialReg : byte
{
    GridIdxX,
    GridIdxY,
    GridIdxZ,
    GridDimX,
    GridDimY,
    GridDimZ,
    GroupIdxX,
    GroupIdxY,
    GroupIdxZ,
    GroupDimX,
    GroupDimY,
    GroupDimZ,
    WarpSize,
    LaneIdx,
    DynamicSharedBytes,
}

/// <summary>IR operations.</summary>
internal enum Op : byte
{
    // Arithmetic on two operands of the result's type (shift counts are I32 or I64).
    Add,
    Sub,
    Mul,
    Div,
    DivUn,
    Rem,
    RemUn,
    And,
    Or,
    Xor,
    Shl,
    Shr,
    ShrUn,
    Neg,
    Not,
    /// <summary>Imm = <see cref="CmpKind"/>; two operands of one type; result I32 0 or 1.</summary>
    Cmp,
    /// <summary>Imm = <see cref="ConvKind"/>.</summary>
    Conv,
    /// <summary>Imm = <see cref="MathFn"/>; one to three operands.</summary>
    Math,
    /// <summary>[cond, a, b]: a when cond is non-zero.</summary>
    Select,
    /// <summary>Imm = <see cref="MemType"/>; [ptr].</summary>
    Load,
    /// <summary>Imm = <see cref="MemType"/>; [ptr, value].</summary>
    Store,
    /// <summary>[ptr, I64 byte offset].</summary>
    PtrAdd,
    /// <summary>[ptr, I32 length, I32 index], Imm = element size: the element's address, bounds-checked on the CPU.</summary>
    ViewElement,
    /// <summary>[I32 length, I32 start, I32 count]: traps on the CPU when the slice does not fit.</summary>
    CheckSlice,
    /// <summary>Imm = <see cref="SpecialReg"/>.</summary>
    Special,
    /// <summary>Imm = 0 group barrier, 1 warp barrier.</summary>
    Barrier,
    /// <summary>Imm = shuffle <see cref="IntrinsicKind"/>; [value, I32 lane argument].</summary>
    Shuffle,
    /// <summary>Imm = vote <see cref="IntrinsicKind"/>; [I32 predicate]; result I32.</summary>
    Vote,
    /// <summary>Imm = bytes, Imm2 = alignment: a group's static shared allocation.</summary>
    SharedAlloc,
    /// <summary>The start of the launch's dynamic shared memory.</summary>
    SharedDynamic,
    /// <summary>Imm = atomic <see cref="IntrinsicKind"/>, Imm2 = <see cref="MemType"/>; [ptr, value] or [ptr, compare, value].</summary>
    Atomic,
    /// <summary>Imm = fence <see cref="IntrinsicKind"/>.</summary>
    Fence,
    /// <summary>
    /// Imm = MmaF16 or MmaBF16 <see cref="IntrinsicKind"/>; [a0..a3, b0, b1, c0..c3]; the result is d0,
    /// and <see cref="Part"/> instructions read d1..d3. A warp collective.
    /// </summary>
    Mma,
    /// <summary>
    /// Imm = count (1, 2 or 4) + 8 when transposed; [I32-pair row address in shared memory]: ldmatrix,
    /// a warp collective. The result is register 0; <see cref="Part"/> instructions read the others.
    /// </summary>
    LoadMatrix,
    /// <summary>Imm = k (1..3); [an Mma or LoadMatrix]: its result number k.</summary>
    Part,
    /// <summary>Imm = bytes (4, 8 or 16); [shared destination, global source].</summary>
    CopyAsync,
    /// <summary>Closes the current group of asynchronous copies.</summary>
    CopyAsyncCommit,
    /// <summary>Imm = N: waits until at most N groups of asynchronous copies are pending.</summary>
    CopyAsyncWait,
    /// <summary>Terminator: unconditional branch to Targets[0].</summary>
    Br,
    /// <summary>Terminator: [cond]; Targets[0] when non-zero, else Targets[1].</summary>
    CondBr,
    /// <summary>Terminator: [I32 value]; Targets[i] for value i, the last target otherwise.</summary>
    Switch,
    /// <summary>Terminator: end of the thread.</summary>
    Ret,
}

internal static class IrTypeExtensions
{
    public static IrType StackType(this MemType m) => m switch
    {
        MemType.I64 => IrType.I64,
        MemType.F32 => IrType.F32,
        MemType.F64 => IrType.F64,
        MemType.Ptr => IrType.Ptr,
        _ => IrType.I32,
    };

    public static int Size(this MemType m) => m switch
    {
        MemType.I8 or MemType.U8 => 1,
        MemType.I16 or MemType.U16 => 2,
        MemType.I32 or MemType.F32 => 4,
        _ => 8,
    };

    public static bool IsTerminator(this Op op) => op is Op.Br or Op.CondBr or Op.Switch or Op.Ret;

    public static bool IsFloat(this IrType t) => t is IrType.F32 or IrType.F64;

    public static bool IsInt(this IrType t) => t is IrType.I32 or IrType.I64;

    /// <summary>Operations with an effect beyond their result; dead-code elimination keeps them.</summary>
    public static bool HasSideEffects(this Op op) => op is Op.Store or Op.Barrier or Op.Shuffle or Op.Vote
        or Op.Mma or Op.LoadMatrix or Op.CopyAsync or Op.CopyAsyncCommit or Op.CopyAsyncWait
        or Op.Atomic or Op.Fence or Op.ViewElement or Op.CheckSlice or Op.Div or Op.DivUn or Op.Rem or Op.RemUn
        or Op.Math || op.IsTerminator();
}
