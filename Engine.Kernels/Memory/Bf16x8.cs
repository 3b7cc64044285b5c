using System.Runtime.InteropServices;

namespace Engine.Kernels;

/// <summary>
/// Eight bf16 values in 16 bytes: the element type that makes the compiler emit 128-bit loads and stores
/// (ld.global.v4.u32), the widest a thread can move at once. Each uint holds a pair, the lower index in
/// the low half.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
internal struct Bf16x8
{
    public uint P0, P1, P2, P3;
}

/// <summary>Eight packs held in registers by one lane: a whole row of up to 2048 bf16 values across a warp of 32.</summary>
[System.Runtime.CompilerServices.InlineArray(8)]
internal struct Bf16x8Registers
{
    private Bf16x8 _element;
}

/// <summary>How many packs a lane keeps in registers: a compile-time constant chosen by the row width.</summary>
internal interface IPackCount
{
    static abstract int Count { get; }
}

/// <summary>Four packs a lane: rows up to 1024 values on a warp of 32, at about half the registers of eight.</summary>
internal struct FourPacks : IPackCount
{
    public static int Count => 4;
}

/// <summary>Eight packs a lane: rows up to 2048 values on a warp of 32.</summary>
internal struct EightPacks : IPackCount
{
    public static int Count => 8;
}
