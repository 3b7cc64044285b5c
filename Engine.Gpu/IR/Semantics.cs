namespace Engine.Gpu.IR;

/// <summary>
/// The CLR meaning of each IR operation on raw value bits (I32 sign-extended in a long, floats as IEEE
/// bits). Constant folding evaluates through here, so folding can never disagree with the CLR; the
/// interpreter has a faster copy of the same rules, and the differential tests hold both to the CLR.
/// </summary>
internal static class Semantics
{
    public static float F(long bits) => BitConverter.Int32BitsToSingle((int)bits);

    public static double D(long bits) => BitConverter.Int64BitsToDouble(bits);

    public static long Bits(float v) => BitConverter.SingleToInt32Bits(v);

    public static long Bits(double v) => BitConverter.DoubleToInt64Bits(v);

    /// <summary>False when the operation traps (integer division by zero or overflow).</summary>
    public static bool TryBinary(Op op, IrType t, long a, long b, out long result)
    {
        result = 0;
        switch (t)
        {
            case IrType.I32:
            {
                int x = (int)a, y = (int)b;
                if (op is Op.Div or Op.Rem && (y == 0 || (x == int.MinValue && y == -1)))
                {
                    return false;
                }
                if (op is Op.DivUn or Op.RemUn && y == 0)
                {
                    return false;
                }
                result = op switch
                {
                    Op.Add => x + y,
                    Op.Sub => x - y,
                    Op.Mul => x * y,
                    Op.Div => x / y,
                    Op.DivUn => (int)((uint)x / (uint)y),
                    Op.Rem => x % y,
                    Op.RemUn => (int)((uint)x % (uint)y),
                    Op.And => x & y,
                    Op.Or => x | y,
                    Op.Xor => x ^ y,
                    Op.Shl => x << (int)b,
                    Op.Shr => x >> (int)b,
                    Op.ShrUn => (int)((uint)x >> (int)b),
                    _ => throw new InvalidOperationException(op.ToString()),
                };
                return true;
            }
            case IrType.I64:
            {
                if (op is Op.Div or Op.Rem && (b == 0 || (a == long.MinValue && b == -1)))
                {
                    return false;
                }
                if (op is Op.DivUn or Op.RemUn && b == 0)
                {
                    return false;
                }
                result = op switch
                {
                    Op.Add => a + b,
                    Op.Sub => a - b,
                    Op.Mul => a * b,
                    Op.Div => a / b,
                    Op.DivUn => (long)((ulong)a / (ulong)b),
                    Op.Rem => a % b,
                    Op.RemUn => (long)((ulong)a % (ulong)b),
                    Op.And => a & b,
                    Op.Or => a | b,
                    Op.Xor => a ^ b,
                    Op.Shl => a << (int)b,
                    Op.Shr => a >> (int)b,
                    Op.ShrUn => (long)((ulong)a >> (int)b),
                    _ => throw new InvalidOperationException(op.ToString()),
                };
                return true;
            }
            case IrType.F32:
            {
                float x = F(a), y = F(b);
                result = Bits(op switch
                {
                    Op.Add => x + y,
                    Op.Sub => x - y,
                    Op.Mul => x * y,
                    Op.Div => x / y,
                    Op.Rem => x % y,
                    _ => throw new InvalidOperationException(op.ToString()),
                });
                return true;
            }
            case IrType.F64:
            {
                double x = D(a), y = D(b);
                result = Bits(op switch
                {
                    Op.Add => x + y,
                    Op.Sub => x - y,
                    Op.Mul => x * y,
                    Op.Div => x / y,
                    Op.Rem => x % y,
                    _ => throw new InvalidOperationException(op.ToString()),
                });
                return true;
            }
            default:
                throw new InvalidOperationException($"{op} on {t}");
        }
    }

    public static long Unary(Op op, IrType t, long a) => (op, t) switch
    {
        (Op.Neg, IrType.I32) => -(int)a,
        (Op.Neg, IrType.I64) => -a,
        (Op.Neg, IrType.F32) => Bits(-F(a)),
        (Op.Neg, IrType.F64) => Bits(-D(a)),
        (Op.Not, IrType.I32) => ~(int)a,
        (Op.Not, IrType.I64) => ~a,
        _ => throw new InvalidOperationException($"{op} on {t}"),
    };

    public static bool Compare(CmpKind k, IrType t, long a, long b)
    {
        switch (t)
        {
            case IrType.I32:
            case IrType.I64:
            case IrType.Ptr:
            {
                long x = t == IrType.I32 ? (int)a : a, y = t == IrType.I32 ? (int)b : b;
                ulong ux = t == IrType.I32 ? (uint)a : (ulong)a, uy = t == IrType.I32 ? (uint)b : (ulong)b;
                return k switch
                {
                    CmpKind.Eq => x == y,
                    CmpKind.NeUn => x != y,
                    CmpKind.Lt => x < y,
                    CmpKind.Le => x <= y,
                    CmpKind.Gt => x > y,
                    CmpKind.Ge => x >= y,
                    CmpKind.LtUn => ux < uy,
                    CmpKind.LeUn => ux <= uy,
                    CmpKind.GtUn => ux > uy,
                    _ => ux >= uy,
                };
            }
            default:
            {
                double x = t == IrType.F32 ? F(a) : D(a), y = t == IrType.F32 ? F(b) : D(b);
                return k switch
                {
                    CmpKind.Eq => x == y,
                    CmpKind.NeUn => !(x == y),
                    CmpKind.Lt => x < y,
                    CmpKind.Le => x <= y,
                    CmpKind.Gt => x > y,
                    CmpKind.Ge => x >= y,
                    CmpKind.LtUn => !(x >= y),
                    CmpKind.LeUn => !(x > y),
                    CmpKind.GtUn => !(x <= y),
                    _ => !(x < y),
                };
            }
        }
    }

    /// <summary>The result type of a conversion from <paramref name="from"/>.</summary>
    public static IrType ConvResult(ConvKind k, IrType from) => k switch
    {
        ConvKind.ToI8 or ConvKind.ToU8 => IrType.I64,
        ConvKind.ToR4 or ConvKind.ToRUn4 => IrType.F32,
        ConvKind.ToR8 or ConvKind.ToRUn => IrType.F64,
        ConvKind.Bitcast => from switch
        {
            IrType.I32 => IrType.F32,
            IrType.F32 => IrType.I32,
            IrType.I64 => IrType.F64,
            IrType.F64 => IrType.I64,
            _ => IrType.I64,
        },
        _ => IrType.I32,
    };

    /// <summary>The CLR conversion; each arm is the C# cast that compiles to the same conv.* opcode.</summary>
    public static long Convert(ConvKind k, IrType from, long a)
    {
        switch (from)
        {
            case IrType.I32:
            {
                int x = (int)a;
                return k switch
                {
                    ConvKind.ToI1 => (sbyte)x,
                    ConvKind.ToU1 => (byte)x,
                    ConvKind.ToI2 => (short)x,
                    ConvKind.ToU2 => (ushort)x,
                    ConvKind.ToI4 or ConvKind.ToU4 => x,
                    ConvKind.ToI8 => x,
                    ConvKind.ToU8 => (uint)x,
                    ConvKind.ToR4 => Bits((float)x),
                    ConvKind.ToR8 => Bits((double)x),
                    ConvKind.ToRUn => Bits((double)(uint)x),
                    ConvKind.ToRUn4 => Bits((float)(uint)x),
                    _ => x,
                };
            }
            case IrType.I64:
            case IrType.Ptr:
                return k switch
                {
                    ConvKind.ToI1 => (sbyte)a,
                    ConvKind.ToU1 => (byte)a,
                    ConvKind.ToI2 => (short)a,
                    ConvKind.ToU2 => (ushort)a,
                    ConvKind.ToI4 or ConvKind.ToU4 => (int)a,
                    ConvKind.ToI8 or ConvKind.ToU8 => a,
                    ConvKind.ToR4 => Bits((float)a),
                    ConvKind.ToR8 => Bits((double)a),
                    ConvKind.ToRUn => Bits((double)(ulong)a),
                    ConvKind.ToRUn4 => Bits((float)(ulong)a),
                    _ => a,
                };
            case IrType.F32:
            {
                float x = F(a);
                return k switch
                {
                    ConvKind.ToI1 => (sbyte)x,
                    ConvKind.ToU1 => (byte)x,
                    ConvKind.ToI2 => (short)x,
                    ConvKind.ToU2 => (ushort)x,
                    ConvKind.ToI4 => (int)x,
                    ConvKind.ToU4 => (int)(uint)x,
                    ConvKind.ToI8 => (long)x,
                    ConvKind.ToU8 => (long)(ulong)x,
                    ConvKind.ToR4 or ConvKind.ToRUn4 => Bits(x),
                    ConvKind.ToR8 or ConvKind.ToRUn => Bits((double)x),
                    _ => (int)a,
                };
            }
            default:
            {
                double x = D(a);
                return k switch
                {
                    ConvKind.ToI1 => (sbyte)x,
                    ConvKind.ToU1 => (byte)x,
                    ConvKind.ToI2 => (short)x,
                    ConvKind.ToU2 => (ushort)x,
                    ConvKind.ToI4 => (int)x,
                    ConvKind.ToU4 => (int)(uint)x,
                    ConvKind.ToI8 => (long)x,
                    ConvKind.ToU8 => (long)(ulong)x,
                    ConvKind.ToR4 or ConvKind.ToRUn4 => Bits((float)x),
                    ConvKind.ToR8 or ConvKind.ToRUn => Bits(x),
                    _ => a,
                };
            }
        }
    }

    /// <summary>The CLR meaning of a math function; false when it traps (Math.Abs of the minimum integer).</summary>
    public static bool TryMath(MathFn fn, IrType t, long a, long b, long c, out long result)
    {
        result = 0;
        if (t == IrType.I32 || t == IrType.I64)
        {
            bool wide = t == IrType.I64;
            long x = wide ? a : (int)a, y = wide ? b : (int)b;
            switch (fn)
            {
                case MathFn.Abs:
                    if (x == (wide ? long.MinValue : int.MinValue))
                    {
                        return false;
                    }
                    result = Math.Abs(x);
                    return true;
                case MathFn.Min:
                    result = Math.Min(x, y);
                    return true;
                case MathFn.Max:
                    result = Math.Max(x, y);
                    return true;
                case MathFn.MinUn:
                    result = wide ? (long)Math.Min((ulong)a, (ulong)b) : (int)Math.Min((uint)a, (uint)b);
                    return true;
                case MathFn.MaxUn:
                    result = wide ? (long)Math.Max((ulong)a, (ulong)b) : (int)Math.Max((uint)a, (uint)b);
                    return true;
                case MathFn.PopCount:
                    result = wide ? System.Numerics.BitOperations.PopCount((ulong)a) : System.Numerics.BitOperations.PopCount((uint)a);
                    return true;
                case MathFn.LeadingZeroCount:
                    result = wide ? System.Numerics.BitOperations.LeadingZeroCount((ulong)a) : System.Numerics.BitOperations.LeadingZeroCount((uint)a);
                    return true;
                case MathFn.TrailingZeroCount:
                    result = wide ? System.Numerics.BitOperations.TrailingZeroCount(a) : System.Numerics.BitOperations.TrailingZeroCount((int)a);
                    return true;
                case MathFn.HalfToFloat:
                    result = Bits((float)BitConverter.UInt16BitsToHalf((ushort)a));
                    return true;
                case MathFn.HalfToDouble:
                    result = Bits((double)BitConverter.UInt16BitsToHalf((ushort)a));
                    return true;
                default:
                    throw new InvalidOperationException($"{fn} on {t}");
            }
        }
        if (t == IrType.F32 || fn == MathFn.FloatToHalf)
        {
            float x = F(a), y = F(b), z = F(c);
            if (fn == MathFn.FloatToHalf)
            {
                result = BitConverter.HalfToUInt16Bits((Half)x);
                return true;
            }
            if (fn is MathFn.PackHalf2 or MathFn.PackBFloat162)
            {
                result = (int)(fn == MathFn.PackHalf2 ? TensorCoreSemantics.PackHalf2(x, y) : TensorCoreSemantics.PackBFloat162(x, y));
                return true;
            }
            result = Bits(fn switch
            {
                MathFn.Sqrt => MathF.Sqrt(x),
                MathFn.Exp => MathF.Exp(x),
                MathFn.Log => MathF.Log(x),
                MathFn.Log2 => MathF.Log2(x),
                MathFn.Exp2 => float.Exp2(x),
                MathFn.Sin => MathF.Sin(x),
                MathFn.Cos => MathF.Cos(x),
                MathFn.Tan => MathF.Tan(x),
                MathFn.Tanh => MathF.Tanh(x),
                MathFn.Pow => MathF.Pow(x, y),
                MathFn.Floor => MathF.Floor(x),
                MathFn.Ceiling => MathF.Ceiling(x),
                MathFn.Truncate => MathF.Truncate(x),
                MathFn.Round => MathF.Round(x),
                MathFn.Abs => MathF.Abs(x),
                MathFn.Min => MathF.Min(x, y),
                MathFn.Max => MathF.Max(x, y),
                MathFn.Fma => MathF.FusedMultiplyAdd(x, y, z),
                MathFn.FastEx2 => FastMath.Ex2(x),
                MathFn.FastLg2 => FastMath.Lg2(x),
                MathFn.FastRsqrt => FastMath.Rsqrt(x),
                MathFn.FastRcp => FastMath.Rcp(x),
                MathFn.FastTanh => FastMath.Tanh(x),
                MathFn.FastSin => FastMath.Sin(x),
                MathFn.FastCos => FastMath.Cos(x),
                MathFn.FastMin => FastMath.Min(x, y),
                MathFn.FastMax => FastMath.Max(x, y),
                _ => throw new InvalidOperationException($"{fn} on {t}"),
            });
            return true;
        }
        {
            double x = D(a), y = D(b), z = D(c);
            if (fn == MathFn.DoubleToHalf)
            {
                result = BitConverter.HalfToUInt16Bits((Half)x);
                return true;
            }
            result = Bits(fn switch
            {
                MathFn.Sqrt => Math.Sqrt(x),
                MathFn.Exp => Math.Exp(x),
                MathFn.Log => Math.Log(x),
                MathFn.Log2 => Math.Log2(x),
                MathFn.Exp2 => double.Exp2(x),
                MathFn.Sin => Math.Sin(x),
                MathFn.Cos => Math.Cos(x),
                MathFn.Tan => Math.Tan(x),
                MathFn.Tanh => Math.Tanh(x),
                MathFn.Pow => Math.Pow(x, y),
                MathFn.Floor => Math.Floor(x),
                MathFn.Ceiling => Math.Ceiling(x),
                MathFn.Truncate => Math.Truncate(x),
                MathFn.Round => Math.Round(x),
                MathFn.Abs => Math.Abs(x),
                MathFn.Min => Math.Min(x, y),
                MathFn.Max => Math.Max(x, y),
                MathFn.Fma => Math.FusedMultiplyAdd(x, y, z),
                _ => throw new InvalidOperationException($"{fn} on {t}"),
            });
            return true;
        }
    }

    /// <summary>The operand type a math function's result has, given its IR operand type.</summary>
    public static IrType MathResult(MathFn fn, IrType operand) => fn switch
    {
        MathFn.HalfToFloat => IrType.F32,
        MathFn.HalfToDouble => IrType.F64,
        MathFn.FloatToHalf or MathFn.DoubleToHalf or MathFn.PackHalf2 or MathFn.PackBFloat162 => IrType.I32,
        MathFn.PopCount or MathFn.LeadingZeroCount or MathFn.TrailingZeroCount => IrType.I32,
        _ => operand,
    };
}
