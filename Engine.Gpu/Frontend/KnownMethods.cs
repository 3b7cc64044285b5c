using System.Reflection;
using Engine.Gpu.IR;

namespace Engine.Gpu.Frontend;

/// <summary>
/// Base-library methods a kernel may call that are not inlined from their IL (which uses hardware
/// intrinsics or tables) but mapped to one IR math function with the same CLR meaning. The precise
/// transcendentals (Exp, Log, Sin, Pow, ...) are not here: DeviceMath's C# is inlined for them.
/// </summary>
internal static class KnownMethods
{
    private static readonly Dictionary<MethodBase, MathFn> Map = Build();

    public static bool TryGet(MethodBase method, out MathFn fn) => Map.TryGetValue(method, out fn);

    private static Dictionary<MethodBase, MathFn> Build()
    {
        var map = new Dictionary<MethodBase, MathFn>();
        var names = new Dictionary<string, MathFn>
        {
            ["Sqrt"] = MathFn.Sqrt,
            ["Floor"] = MathFn.Floor,
            ["Ceiling"] = MathFn.Ceiling,
            ["Truncate"] = MathFn.Truncate,
            ["Round"] = MathFn.Round,
            ["Abs"] = MathFn.Abs,
            ["Min"] = MathFn.Min,
            ["Max"] = MathFn.Max,
            ["FusedMultiplyAdd"] = MathFn.Fma,
        };
        Type[] floats = [typeof(float), typeof(double)];
        Type[] signed = [typeof(int), typeof(long), typeof(short), typeof(sbyte), typeof(byte), typeof(ushort)];
        Type[] unsigned = [typeof(uint), typeof(ulong)];
        foreach (Type host in new[] { typeof(Math), typeof(MathF) })
        {
            foreach (MethodInfo m in host.GetMethods(BindingFlags.Public | BindingFlags.Static))
            {
                if (!names.TryGetValue(m.Name, out MathFn fn) || m.IsGenericMethod)
                {
                    continue;
                }
                ParameterInfo[] ps = m.GetParameters();
                if (ps.Length == 0 || ps.Any(p => p.ParameterType != m.ReturnType))
                {
                    continue;
                }
                Type t = m.ReturnType;
                bool isFloat = floats.Contains(t);
                bool isSigned = signed.Contains(t);
                bool isUnsigned = unsigned.Contains(t);
                if (!isFloat && !isSigned && !isUnsigned)
                {
                    continue;
                }
                if (!isFloat && fn is not (MathFn.Abs or MathFn.Min or MathFn.Max))
                {
                    continue;
                }
                if (isUnsigned && fn == MathFn.Abs)
                {
                    continue;
                }
                if (fn == MathFn.Round && ps.Length != 1)
                {
                    continue;
                }
                int arity = fn switch { MathFn.Min or MathFn.Max => 2, MathFn.Fma => 3, _ => 1 };
                if (ps.Length != arity)
                {
                    continue;
                }
                map[m] = isUnsigned ? fn switch { MathFn.Min => MathFn.MinUn, _ => MathFn.MaxUn } : fn;
            }
        }
        foreach (MethodInfo m in typeof(Half).GetMethods(BindingFlags.Public | BindingFlags.Static))
        {
            if (m.Name is not ("op_Explicit" or "op_Implicit") || m.GetParameters().Length != 1)
            {
                continue;
            }
            Type from = m.GetParameters()[0].ParameterType;
            if (from == typeof(Half) && m.ReturnType == typeof(float))
            {
                map[m] = MathFn.HalfToFloat;
            }
            else if (from == typeof(Half) && m.ReturnType == typeof(double))
            {
                map[m] = MathFn.HalfToDouble;
            }
            else if (from == typeof(float) && m.ReturnType == typeof(Half))
            {
                map[m] = MathFn.FloatToHalf;
            }
            else if (from == typeof(double) && m.ReturnType == typeof(Half))
            {
                map[m] = MathFn.DoubleToHalf;
            }
        }
        // Bit counts: popc and clz on the GPU (trailing zeros through brev + clz).
        foreach (MethodInfo m in typeof(System.Numerics.BitOperations).GetMethods(BindingFlags.Public | BindingFlags.Static))
        {
            MathFn? bits = m.Name switch
            {
                "PopCount" => MathFn.PopCount,
                "LeadingZeroCount" => MathFn.LeadingZeroCount,
                "TrailingZeroCount" => MathFn.TrailingZeroCount,
                _ => null,
            };
            ParameterInfo[] ps = m.GetParameters();
            if (bits is { } fn && ps.Length == 1 && ps[0].ParameterType is var p
                && (p == typeof(int) || p == typeof(uint) || p == typeof(long) || p == typeof(ulong)))
            {
                map[m] = fn;
            }
        }
        return map;
    }
}
