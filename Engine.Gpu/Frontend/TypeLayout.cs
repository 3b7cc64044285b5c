using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;
using Engine.Gpu.IR;

namespace Engine.Gpu.Frontend;

/// <summary>A scalar inside a flattened value: its memory type and byte offset.</summary>
internal readonly record struct Leaf(MemType Mem, int Offset)
{
    public IrType Type => Mem.StackType();
}

/// <summary>Where a field's leaves sit inside its declaring type's leaves.</summary>
internal readonly record struct FieldSlot(int FirstLeaf, int LeafCount, int Offset, Type FieldType);

/// <summary>
/// A type flattened into scalar leaves with the CLR's byte offsets. Structs are how kernels pass data
/// around, but the IR only knows scalars: this is the map between the two (the scalarisation of
/// structs and [InlineArray] register arrays).
/// </summary>
internal sealed class TypeLayout
{
    private static readonly ConcurrentDictionary<Type, TypeLayout> Cache = new();

    private TypeLayout(Type type, Leaf[] leaves, int size, int alignment, Dictionary<FieldInfo, FieldSlot> fields)
    {
        Type = type;
        Leaves = leaves;
        Size = size;
        Alignment = alignment;
        Fields = fields;
    }

    public Type Type { get; }

    public Leaf[] Leaves { get; }

    public int Size { get; }

    public int Alignment { get; }

    public Dictionary<FieldInfo, FieldSlot> Fields { get; }

    public bool IsScalar => Leaves.Length == 1 && Fields.Count == 0;

    /// <summary>The memory type of a primitive, enum or pointer type, or null for a struct.</summary>
    public static MemType? Scalar(Type t)
    {
        if (t.IsEnum)
        {
            t = Enum.GetUnderlyingType(t);
        }
        if (t.IsPointer || t.IsByRef || t == typeof(nint) || t == typeof(nuint))
        {
            return t.IsPointer || t.IsByRef ? MemType.Ptr : MemType.I64;
        }
        return Type.GetTypeCode(t) switch
        {
            TypeCode.Boolean => MemType.U8,
            TypeCode.SByte => MemType.I8,
            TypeCode.Byte => MemType.U8,
            TypeCode.Int16 => MemType.I16,
            TypeCode.UInt16 or TypeCode.Char => MemType.U16,
            TypeCode.Int32 or TypeCode.UInt32 => MemType.I32,
            TypeCode.Int64 or TypeCode.UInt64 => MemType.I64,
            TypeCode.Single => MemType.F32,
            TypeCode.Double => MemType.F64,
            _ => null,
        };
    }

    /// <summary>The layout of <paramref name="type"/>, or null with a reason when it cannot live in a kernel.</summary>
    public static TypeLayout? TryGet(Type type, out string? reason)
    {
        if (Cache.TryGetValue(type, out TypeLayout? cached))
        {
            reason = null;
            return cached;
        }
        TypeLayout? layout = Build(type, out reason);
        if (layout is not null)
        {
            Cache[type] = layout;
        }
        return layout;
    }

    private static TypeLayout? Build(Type type, out string? reason)
    {
        reason = null;
        if (Scalar(type) is MemType m)
        {
            int size = m.Size();
            return new TypeLayout(type, [new Leaf(m, 0)], size, size, []);
        }
        if (!type.IsValueType || type.IsGenericTypeDefinition || type.ContainsGenericParameters)
        {
            reason = $"the type {Describe(type)} (only primitives, pointers and structs of them live in kernels)";
            return null;
        }
        if (type.IsByRefLike)
        {
            reason = $"the ref struct {Describe(type)}";
            return null;
        }
        if (type.IsExplicitLayout)
        {
            reason = $"the explicit-layout struct {Describe(type)}";
            return null;
        }
        FieldInfo[] fields = type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);
        Array.Sort(fields, (a, b) => a.MetadataToken.CompareTo(b.MetadataToken));
        int repeat = type.GetCustomAttribute<InlineArrayAttribute>()?.Length ?? 1;
        var leaves = new List<Leaf>();
        var slots = new Dictionary<FieldInfo, FieldSlot>();
        int offset = 0;
        int alignment = 1;
        foreach (FieldInfo field in fields)
        {
            TypeLayout? inner = TryGet(field.FieldType, out reason);
            if (inner is null)
            {
                reason = $"{reason}, field {field.Name} of {Describe(type)}";
                return null;
            }
            offset = (offset + inner.Alignment - 1) / inner.Alignment * inner.Alignment;
            alignment = Math.Max(alignment, inner.Alignment);
            slots[field] = new FieldSlot(leaves.Count, inner.Leaves.Length, offset, field.FieldType);
            foreach (Leaf leaf in inner.Leaves)
            {
                leaves.Add(leaf with { Offset = offset + leaf.Offset });
            }
            offset += inner.Size;
        }
        int total = Math.Max(1, (offset + alignment - 1) / alignment * alignment);
        if (repeat > 1)
        {
            var repeated = new List<Leaf>();
            for (int k = 0; k < repeat; k++)
            {
                foreach (Leaf leaf in leaves)
                {
                    repeated.Add(leaf with { Offset = k * total + leaf.Offset });
                }
            }
            leaves = repeated;
            total *= repeat;
        }
        int clrSize = (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type).Invoke(null, null)!;
        if (clrSize != total && !(leaves.Count == 0 && clrSize == 1))
        {
            reason = $"the struct {Describe(type)} whose CLR size ({clrSize} bytes) differs from its sequential layout ({total} bytes); use [StructLayout(LayoutKind.Sequential)] with primitive fields";
            return null;
        }
        return new TypeLayout(type, [.. leaves], total, alignment, slots);
    }

    public static string Describe(Type t) => t.IsGenericType
        ? $"{t.Name[..t.Name.IndexOf('`')]}<{string.Join(", ", t.GetGenericArguments().Select(Describe))}>"
        : t.Name;
}
