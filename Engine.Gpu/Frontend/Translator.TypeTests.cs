using System.Reflection;
using Engine.Gpu.IR;

namespace Engine.Gpu.Frontend;

/// <summary>
/// <c>typeof</c> comparisons and boxing round trips, decided at compile time. Generic math in the core
/// library dispatches on the type argument this way (<c>float.CreateTruncating&lt;TOther&gt;</c> tests
/// <c>typeof(TOther) == typeof(double)</c> and converts with <c>(double)(object)value</c>), as do
/// kernels specialised by hand; every kernel instantiation is compiled separately, so each test is a
/// constant and the branches it guards fold before they are translated.
/// </summary>
internal sealed partial class Translator
{
    /// <summary><c>ldtoken</c> of a type: a compile-time <see cref="TypeItem"/>; other tokens are refused.</summary>
    private void LdToken(Frame f, IlInstr ins)
    {
        MemberInfo? member;
        try
        {
            member = f.Method.Module.ResolveMember((int)ins.Int, f.TypeArgs, f.MethodArgs);
        }
        catch (Exception e) when (e is ArgumentException or BadImageFormatException)
        {
            throw Error($"a token that cannot be resolved ({e.Message})");
        }
        if (member is not Type type)
        {
            throw Error($"the token of the {(member is FieldInfo ? "field" : "method")} {member?.Name} (ldtoken)",
                "Only type tokens (typeof) are supported, for compile-time type tests.");
        }
        _stack.Push(new TypeItem(type));
    }

    /// <summary><c>box</c>: the value with its static type, at compile time (nothing is allocated).</summary>
    private void Box(Frame f, IlInstr ins) => _stack.Push(new BoxItem(ResolveType(f, ins), Pop()));

    /// <summary><c>unbox.any</c> of a value boxed in this kernel: the value itself when the types agree.</summary>
    private void UnboxAny(Frame f, IlInstr ins)
    {
        Type type = ResolveType(f, ins);
        Item item = PopAny();
        if (item is not BoxItem boxed)
        {
            throw Error($"unboxing a value of unknown type to {TypeLayout.Describe(type)} (unbox.any)",
                "Kernels can only unbox what they boxed themselves, as generic math's (T)(object)value does.");
        }
        if (boxed.Type != type)
        {
            throw Error($"unboxing a {TypeLayout.Describe(boxed.Type)} as a {TypeLayout.Describe(type)} (unbox.any), which always fails",
                "Convert the value instead of casting through object.");
        }
        _stack.Push(boxed.Value);
    }

    /// <summary>Type.GetTypeFromHandle and Type equality on compile-time types.</summary>
    private bool TryTypeMethod(MethodBase m, Item[] args)
    {
        if (m.DeclaringType != typeof(Type))
        {
            return false;
        }
        if (m.Name == nameof(Type.GetTypeFromHandle) && args is [TypeItem handle])
        {
            _stack.Push(handle);
            return true;
        }
        if (m.Name is "op_Equality" or "op_Inequality" && args is [TypeItem left, TypeItem right])
        {
            bool equal = left.Type == right.Type;
            Push(Constant.Int(equal == (m.Name == "op_Equality") ? 1 : 0));
            return true;
        }
        if (m.Name == "get_IsValueType" && args is [TypeItem subject])
        {
            Push(Constant.Int(subject.Type.IsValueType ? 1 : 0));
            return true;
        }
        if (args.Any(a => a is not TypeItem))
        {
            throw Error($"a call of {MethodName(m)} on a System.Type that is not known at compile time",
                "Compare typeof(T) with typeof(SomeType); the type argument is fixed per instantiation.");
        }
        return false;
    }
}
