namespace Engine.Gpu;

/// <summary>
/// Fast math: the GPU's special-function unit. Where a member says "approximate", the GPU result may
/// differ from the CPU meaning written here by a few ulp (PTX <c>.approx</c>); everything else is exact.
/// </summary>
public static class FastMath
{
    /// <summary>Approximate 2^x (PTX <c>ex2.approx.f32</c>).</summary>
    /// <param name="x">The exponent.</param>
    [Intrinsic(IntrinsicKind.FastEx2)]
    public static float Ex2(float x) => float.Exp2(x);

    /// <summary>Approximate log2(x) (PTX <c>lg2.approx.f32</c>).</summary>
    /// <param name="x">The argument.</param>
    [Intrinsic(IntrinsicKind.FastLg2)]
    public static float Lg2(float x) => MathF.Log2(x);

    /// <summary>Approximate 1/sqrt(x) (PTX <c>rsqrt.approx.f32</c>).</summary>
    /// <param name="x">The argument.</param>
    [Intrinsic(IntrinsicKind.FastRsqrt)]
    public static float Rsqrt(float x) => 1f / MathF.Sqrt(x);

    /// <summary>Approximate 1/x (PTX <c>rcp.approx.f32</c>).</summary>
    /// <param name="x">The argument.</param>
    [Intrinsic(IntrinsicKind.FastRcp)]
    public static float Rcp(float x) => 1f / x;

    /// <summary>Approximate tanh(x) (PTX <c>tanh.approx.f32</c>, sm_75+).</summary>
    /// <param name="x">The argument.</param>
    [Intrinsic(IntrinsicKind.FastTanh)]
    public static float Tanh(float x) => MathF.Tanh(x);

    /// <summary>Approximate sin(x) (PTX <c>sin.approx.f32</c>); accurate for |x| up to about 100.</summary>
    /// <param name="x">The angle in radians.</param>
    [Intrinsic(IntrinsicKind.FastSin)]
    public static float Sin(float x) => MathF.Sin(x);

    /// <summary>Approximate cos(x) (PTX <c>cos.approx.f32</c>); accurate for |x| up to about 100.</summary>
    /// <param name="x">The angle in radians.</param>
    [Intrinsic(IntrinsicKind.FastCos)]
    public static float Cos(float x) => MathF.Cos(x);

    /// <summary>Approximate e^x, computed as 2^(x * log2 e).</summary>
    /// <param name="x">The exponent.</param>
    public static float Exp(float x) => Ex2(x * 1.44269504088896341f);

    /// <summary>a * b + c with a single rounding (PTX <c>fma.rn.f32</c>); exact.</summary>
    /// <param name="a">The first factor.</param>
    /// <param name="b">The second factor.</param>
    /// <param name="c">The addend.</param>
    [Intrinsic(IntrinsicKind.Fma)]
    public static float Fma(float a, float b, float c) => MathF.FusedMultiplyAdd(a, b, c);

    /// <summary>The smaller of two values; a NaN operand is ignored (PTX <c>min.f32</c>).</summary>
    /// <param name="a">The first value.</param>
    /// <param name="b">The second value.</param>
    [Intrinsic(IntrinsicKind.FastMin)]
    public static float Min(float a, float b) => float.IsNaN(a) ? b : float.IsNaN(b) ? a : MathF.Min(a, b);

    /// <summary>The larger of two values; a NaN operand is ignored (PTX <c>max.f32</c>).</summary>
    /// <param name="a">The first value.</param>
    /// <param name="b">The second value.</param>
    [Intrinsic(IntrinsicKind.FastMax)]
    public static float Max(float a, float b) => float.IsNaN(a) ? b : float.IsNaN(b) ? a : MathF.Max(a, b);
}
