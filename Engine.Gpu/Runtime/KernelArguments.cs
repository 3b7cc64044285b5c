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
        if (Alignment<T>.Bytes is > 0 and int align && *(long*)bytes % align != 0)
        {
            throw new ArgumentException($"A view of {typeof(T).GetGenericArguments()[0].Name} starts at 0x{*(long*)bytes:X}, " +
                $"which is not a multiple of {align}: kernels read such views with {align}-byte vector loads. Start the view at an element boundary of an allocation.");
        }
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

    /// <summary>
    /// The alignment a kernel argument of type <paramref name="type"/> must have, or null: a view whose
    /// element size is a multiple of 16 bytes must start on a 16-byte boundary (allocations do; a view
    /// cast from an offset view of smaller elements may not).
    /// </summary>
    public static int? RequiredAlignment(Type type)
    {
        if (!type.IsGenericType || type.GetGenericTypeDefinition() != typeof(ArrayView<>))
        {
            return null;
        }
        int size = (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type.GetGenericArguments()[0]).Invoke(null, null)!;
        return size % 16 == 0 ? 16 : null;
    }

    private static class Alignment<T>
    {
        public static readonly int Bytes = RequiredAlignment(typeof(T)) ?? 0;
    }

    private static readonly MethodInfo WriteMethod = typeof(KernelArguments).GetMethod(nameof(Write))!;

    public static long[] FromObjects(CompiledKernel kernel, object?[] args)
    {
        if (args.Length != kernel.ParameterTypes.Length)
        {
            throw new ArgumentException($"{kernel.Name} takes {kernel.ParameterTypes.Length} arguments; {args.Length} were given.");
        }
        var result = new long[kernel.ParameterSlots];
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
