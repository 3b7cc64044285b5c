using Engine.Gpu.IR;

namespace Engine.Gpu.Frontend;

/// <summary>A variable of SSA construction: one scalar leaf of an argument, local or stack slot.</summary>
internal sealed class Var
{
    public Var(IrType type, string name)
    {
        Type = type;
        Name = name;
    }

    public IrType Type { get; }

    public string Name { get; }

    public override string ToString() => Name;
}

/// <summary>An entry of the IL evaluation stack while a method is translated.</summary>
internal abstract class Item
{
}

/// <summary>A scalar value; for pointers, <see cref="Pointee"/> is the type pointed to when known.</summary>
internal sealed class ScalarItem(Value value, Type? pointee = null) : Item
{
    public Value Value { get; } = value;

    public Type? Pointee { get; } = pointee;
}

/// <summary>A struct value, flattened into its leaves.</summary>
internal sealed class StructItem(Type type, Value[] leaves) : Item
{
    public Type Type { get; } = type;

    public Value[] Leaves { get; } = leaves;
}

/// <summary>
/// The address of a local variable or argument (or a field of one). It exists only at compile time: the
/// variable stays in registers, and loads and stores through the address become reads and writes of
/// the variable's leaves.
/// </summary>
internal sealed class RefItem(Type type, Var[] leaves) : Item
{
    public Type Type { get; } = type;

    public Var[] Leaves { get; } = leaves;

    public bool SameAs(RefItem other) => Type == other.Type && Leaves.SequenceEqual(other.Leaves);
}

/// <summary>
/// An element of a register array (an [InlineArray] local) chosen by an index known only at run time.
/// Loads become a chain of selects over the elements and stores a select per element, so the array
/// stays in registers; once loops are unrolled and the index is constant, the selects fold away.
/// </summary>
internal sealed class DynamicRefItem(Type type, Var[][] elements, Value index) : Item
{
    public Type Type { get; } = type;

    public Var[][] Elements { get; } = elements;

    public Value Index { get; } = index;
}

/// <summary>The span C# makes over an [InlineArray] local to index it with a variable: compile-time only.</summary>
internal sealed class SpanItem(RefItem buffer, Type elementType, int length) : Item
{
    public RefItem Buffer { get; } = buffer;

    public Type ElementType { get; } = elementType;

    public int Length { get; } = length;
}

/// <summary>A System.Type known at compile time (<c>typeof</c>): only compared, never materialised.</summary>
internal sealed class TypeItem(Type type) : Item
{
    public Type Type { get; } = type;
}

/// <summary>A value boxed at compile time: it can only be unboxed again as its own type.</summary>
internal sealed class BoxItem(Type type, Item value) : Item
{
    public Type Type { get; } = type;

    public Item Value { get; } = value;
}
