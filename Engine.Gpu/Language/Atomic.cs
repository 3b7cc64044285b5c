namespace Engine.Gpu;

/// <summary>
/// Atomic read-modify-write operations on global or shared memory. Each returns the value the target held
/// before the operation. The order in which the threads' operations apply is unspecified, so floating-point
/// sums may differ in their last bits between runs on the GPU; the CPU accelerator is deterministic.
/// </summary>
public static class Atomic
{
    /// <summary>Adds <paramref name="value"/> to the target; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicAdd)]
    public static int Add(ref int target, int value) => Interlocked.Add(ref target, value) - value;

    /// <summary>Adds <paramref name="value"/> to the target; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicAdd)]
    public static uint Add(ref uint target, uint value) => Interlocked.Add(ref target, value) - value;

    /// <summary>Adds <paramref name="value"/> to the target; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicAdd)]
    public static long Add(ref long target, long value) => Interlocked.Add(ref target, value) - value;

    /// <summary>Adds <paramref name="value"/> to the target; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicAdd)]
    public static ulong Add(ref ulong target, ulong value) => Interlocked.Add(ref target, value) - value;

    /// <summary>Adds <paramref name="value"/> to the target; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicAdd)]
    public static float Add(ref float target, float value) => Update(ref target, value, static (a, b) => a + b);

    /// <summary>Adds <paramref name="value"/> to the target; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicAdd)]
    public static double Add(ref double target, double value) => Update(ref target, value, static (a, b) => a + b);

    /// <summary>Stores the smaller of the target and <paramref name="value"/>; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicMin)]
    public static int Min(ref int target, int value) => Update(ref target, value, static (a, b) => Math.Min(a, b));

    /// <summary>Stores the larger of the target and <paramref name="value"/>; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicMax)]
    public static int Max(ref int target, int value) => Update(ref target, value, static (a, b) => Math.Max(a, b));

    /// <summary>Stores the smaller of the target and <paramref name="value"/>; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicMin)]
    public static uint Min(ref uint target, uint value) => Update(ref target, value, static (a, b) => Math.Min(a, b));

    /// <summary>Stores the larger of the target and <paramref name="value"/>; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicMax)]
    public static uint Max(ref uint target, uint value) => Update(ref target, value, static (a, b) => Math.Max(a, b));

    /// <summary>Stores the smaller of the target and <paramref name="value"/>; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicMin)]
    public static long Min(ref long target, long value) => Update(ref target, value, static (a, b) => Math.Min(a, b));

    /// <summary>Stores the larger of the target and <paramref name="value"/>; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicMax)]
    public static long Max(ref long target, long value) => Update(ref target, value, static (a, b) => Math.Max(a, b));

    /// <summary>Stores the smaller of the target and <paramref name="value"/>; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicMin)]
    public static ulong Min(ref ulong target, ulong value) => Update(ref target, value, static (a, b) => Math.Min(a, b));

    /// <summary>Stores the larger of the target and <paramref name="value"/>; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicMax)]
    public static ulong Max(ref ulong target, ulong value) => Update(ref target, value, static (a, b) => Math.Max(a, b));

    /// <summary>Stores the smaller of the target and <paramref name="value"/>; returns the old value. A NaN operand is ignored.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicMin)]
    public static float Min(ref float target, float value) => Update(ref target, value, static (a, b) => FastMath.Min(a, b));

    /// <summary>Stores the larger of the target and <paramref name="value"/>; returns the old value. A NaN operand is ignored.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicMax)]
    public static float Max(ref float target, float value) => Update(ref target, value, static (a, b) => FastMath.Max(a, b));

    /// <summary>Stores <paramref name="value"/>; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicExchange)]
    public static int Exchange(ref int target, int value) => Interlocked.Exchange(ref target, value);

    /// <summary>Stores <paramref name="value"/> if the target equals <paramref name="compare"/> (bitwise for floats); returns the old value either way.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="compare">The value the target must hold for the exchange to happen.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicCompareExchange)]
    public static int CompareExchange(ref int target, int compare, int value) => Interlocked.CompareExchange(ref target, value, compare);

    /// <summary>Stores <paramref name="value"/>; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicExchange)]
    public static uint Exchange(ref uint target, uint value) => Interlocked.Exchange(ref target, value);

    /// <summary>Stores <paramref name="value"/> if the target equals <paramref name="compare"/> (bitwise for floats); returns the old value either way.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="compare">The value the target must hold for the exchange to happen.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicCompareExchange)]
    public static uint CompareExchange(ref uint target, uint compare, uint value) => Interlocked.CompareExchange(ref target, value, compare);

    /// <summary>Stores <paramref name="value"/>; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicExchange)]
    public static long Exchange(ref long target, long value) => Interlocked.Exchange(ref target, value);

    /// <summary>Stores <paramref name="value"/> if the target equals <paramref name="compare"/> (bitwise for floats); returns the old value either way.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="compare">The value the target must hold for the exchange to happen.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicCompareExchange)]
    public static long CompareExchange(ref long target, long compare, long value) => Interlocked.CompareExchange(ref target, value, compare);

    /// <summary>Stores <paramref name="value"/>; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicExchange)]
    public static ulong Exchange(ref ulong target, ulong value) => Interlocked.Exchange(ref target, value);

    /// <summary>Stores <paramref name="value"/> if the target equals <paramref name="compare"/> (bitwise for floats); returns the old value either way.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="compare">The value the target must hold for the exchange to happen.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicCompareExchange)]
    public static ulong CompareExchange(ref ulong target, ulong compare, ulong value) => Interlocked.CompareExchange(ref target, value, compare);

    /// <summary>Stores <paramref name="value"/>; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicExchange)]
    public static float Exchange(ref float target, float value) => Interlocked.Exchange(ref target, value);

    /// <summary>Stores <paramref name="value"/> if the target equals <paramref name="compare"/> (bitwise for floats); returns the old value either way.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="compare">The value the target must hold for the exchange to happen.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicCompareExchange)]
    public static float CompareExchange(ref float target, float compare, float value) => Interlocked.CompareExchange(ref target, value, compare);

    /// <summary>Stores <paramref name="value"/>; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicExchange)]
    public static double Exchange(ref double target, double value) => Interlocked.Exchange(ref target, value);

    /// <summary>Stores <paramref name="value"/> if the target equals <paramref name="compare"/> (bitwise for floats); returns the old value either way.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="compare">The value the target must hold for the exchange to happen.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicCompareExchange)]
    public static double CompareExchange(ref double target, double compare, double value) => Interlocked.CompareExchange(ref target, value, compare);

    /// <summary>Stores the bitwise and of the target and <paramref name="value"/>; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicAnd)]
    public static int And(ref int target, int value) => Update(ref target, value, static (a, b) => a & b);

    /// <summary>Stores the bitwise or of the target and <paramref name="value"/>; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicOr)]
    public static int Or(ref int target, int value) => Update(ref target, value, static (a, b) => a | b);

    /// <summary>Stores the bitwise xor of the target and <paramref name="value"/>; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicXor)]
    public static int Xor(ref int target, int value) => Update(ref target, value, static (a, b) => a ^ b);

    /// <summary>Stores the bitwise and of the target and <paramref name="value"/>; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicAnd)]
    public static uint And(ref uint target, uint value) => Update(ref target, value, static (a, b) => a & b);

    /// <summary>Stores the bitwise or of the target and <paramref name="value"/>; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicOr)]
    public static uint Or(ref uint target, uint value) => Update(ref target, value, static (a, b) => a | b);

    /// <summary>Stores the bitwise xor of the target and <paramref name="value"/>; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicXor)]
    public static uint Xor(ref uint target, uint value) => Update(ref target, value, static (a, b) => a ^ b);

    /// <summary>Stores the bitwise and of the target and <paramref name="value"/>; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicAnd)]
    public static long And(ref long target, long value) => Update(ref target, value, static (a, b) => a & b);

    /// <summary>Stores the bitwise or of the target and <paramref name="value"/>; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicOr)]
    public static long Or(ref long target, long value) => Update(ref target, value, static (a, b) => a | b);

    /// <summary>Stores the bitwise xor of the target and <paramref name="value"/>; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicXor)]
    public static long Xor(ref long target, long value) => Update(ref target, value, static (a, b) => a ^ b);

    /// <summary>Stores the bitwise and of the target and <paramref name="value"/>; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicAnd)]
    public static ulong And(ref ulong target, ulong value) => Update(ref target, value, static (a, b) => a & b);

    /// <summary>Stores the bitwise or of the target and <paramref name="value"/>; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicOr)]
    public static ulong Or(ref ulong target, ulong value) => Update(ref target, value, static (a, b) => a | b);

    /// <summary>Stores the bitwise xor of the target and <paramref name="value"/>; returns the old value.</summary>
    /// <param name="target">The memory to update.</param>
    /// <param name="value">The operand.</param>
    [Intrinsic(IntrinsicKind.AtomicXor)]
    public static ulong Xor(ref ulong target, ulong value) => Update(ref target, value, static (a, b) => a ^ b);

    private static T Update<T>(ref T target, T value, Func<T, T, T> combine) where T : unmanaged
    {
        // The CPU meaning of every read-modify-write: retry a compare-exchange of the bits until no other
        // thread wrote in between. Comparing bits (not values) keeps NaN and -0.0 targets from looping.
        while (true)
        {
            T old = target;
            T updated = combine(old, value);
            if (CompareBits(ref target, updated, old))
            {
                return old;
            }
        }
    }

    private static unsafe bool CompareBits<T>(ref T target, T updated, T old) where T : unmanaged
    {
        if (sizeof(T) == 4)
        {
            ref int bits = ref System.Runtime.CompilerServices.Unsafe.As<T, int>(ref target);
            int expected = System.Runtime.CompilerServices.Unsafe.As<T, int>(ref old);
            return Interlocked.CompareExchange(ref bits, System.Runtime.CompilerServices.Unsafe.As<T, int>(ref updated), expected) == expected;
        }
        else
        {
            ref long bits = ref System.Runtime.CompilerServices.Unsafe.As<T, long>(ref target);
            long expected = System.Runtime.CompilerServices.Unsafe.As<T, long>(ref old);
            return Interlocked.CompareExchange(ref bits, System.Runtime.CompilerServices.Unsafe.As<T, long>(ref updated), expected) == expected;
        }
    }
}
