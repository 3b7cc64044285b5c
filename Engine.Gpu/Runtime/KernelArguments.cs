using System.Reflection;
using System.Runtime.CompilerServices;
using Engine.Gpu.Frontend;
using Engine.Gpu.IR;

namespace Engine.Gpu;

/// <summary>Flattens launch arguments into the IR's scalar parameter leaves (as raw 64-bit slots).</summary>
internal static class KernelArguments
{
    public static unsafe void Write<T>(T value, long[] destination, ref int position)
    {
        TypeLayout layout = TypeLayout.TryGet(typeof(T), out string? reason)
            ?? throw new ArgumentException($"A kernel argument of type {typeof(T).Name} cannot be passed: {reason}.");
        byte* bytes = stackalloc byte[Math.Max(layout.Size, 8)];
        Unsafe.WriteUnaligned(bytes, value);
        foreach (Leaf leaf in layout.Leaves)
        {
            byte* p = bytes + leaf.Offset;
            destination[position++] = leaf.Mem switch
            {
                MemType.I8 => *(sbyte*)p,
                MemType.U8 => *p,
                MemType.I16 => *(short*)p,
                MemType.U16 => *(ushort*)p,
                MemType.I32 or MemType.F32 => *(int*)p,
                _ => *(long*)p,
            };
        }
    }

    private static readonly MethodInfo WriteMethod = typeof(KernelArguments).GetMethod(nameof(Write))!;

    public static long[] FromObjects(CompiledKernel kernel, object?[] args)
    {
        if (args.Length != kernel.ParameterTypes.Length)
        {
            throw new ArgumentException($"{kernel.Name} takes {kernel.ParameterTypes.Length} arguments; {args.Length} were given.");
        }
        var result = new long[kernel.Function.Params.Count];
        int position = 0;
        for (int k = 0; k < args.Length; k++)
        {
            Type expected = kernel.ParameterTypes[k];
            object arg = args[k] ?? throw new ArgumentNullException($"args[{k}]", $"Argument {k} of {kernel.Name} is null.");
            if (arg.GetType() != expected)
            {
                throw new ArgumentException($"Argument {k} of {kernel.Name} is a {arg.GetType().Name}; the kernel expects {expected.Name}.");
            }
            object?[] call = [arg, result, position];
            WriteMethod.MakeGenericMethod(expected).Invoke(null, call);
            position = (int)call[2]!;
        }
        return result;
    }
}
