using System.Numerics;

namespace Engine.Gpu;

/// <summary>
/// An associative operation for <see cref="Warp.Reduce{T, TReduction}"/> and <see cref="Group.Reduce{T, TReduction}"/>:
/// a struct whose static <see cref="Combine"/> the compiler inlines (ILGPU's reduce operations, as
/// static abstract members). Write your own for any unmanaged T.
/// </summary>
/// <typeparam name="T">The values combined.</typeparam>
public interface IReduction<T> where T : unmanaged
{
    /// <summary>The combination of two partial results.</summary>
    /// <param name="a">The partial result of the lower lanes or warps.</param>
    /// <param name="b">The partial result of the higher ones.</param>
    static abstract T Combine(T a, T b);
}

/// <summary>Addition.</summary>
/// <typeparam name="T">A numeric type.</typeparam>
public readonly struct SumReduction<T> : IReduction<T> where T : unmanaged, INumber<T>
{
    /// <inheritdoc/>
    public static T Combine(T a, T b) => a + b;
}

/// <summary>The larger value (T.Max: a NaN wins, as in .NET).</summary>
/// <typeparam name="T">A numeric type.</typeparam>
public readonly struct MaxReduction<T> : IReduction<T> where T : unmanaged, INumber<T>
{
    /// <inheritdoc/>
    public static T Combine(T a, T b) => T.Max(a, b);
}

/// <summary>The smaller value (T.Min: a NaN wins, as in .NET).</summary>
/// <typeparam name="T">A numeric type.</typeparam>
public readonly struct MinReduction<T> : IReduction<T> where T : unmanaged, INumber<T>
{
    /// <inheritdoc/>
    public static T Combine(T a, T b) => T.Min(a, b);
}
