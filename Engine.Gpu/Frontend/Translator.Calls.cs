using System.Reflection;
using Engine.Gpu.IR;

namespace Engine.Gpu.Frontend;

internal sealed partial class Translator
{
    private void Call(Frame f, IlInstr ins, bool newObj)
    {
        MethodBase m;
        try
        {
            m = f.Method.Module.ResolveMethod((int)ins.Int, f.TypeArgs, f.MethodArgs)!;
        }
        catch (Exception e) when (e is ArgumentException or BadImageFormatException)
        {
            throw Error($"a method token that cannot be resolved ({e.Message})");
        }
        if (ins.ConstrainedToken != 0)
        {
            Type constrained = f.Method.Module.ResolveType(ins.ConstrainedToken, f.TypeArgs, f.MethodArgs);
            m = ResolveConstrained(constrained, m);
        }
        ParameterInfo[] ps = m.GetParameters();
        bool hasThis = !m.IsStatic && !newObj;
        int n = ps.Length + (hasThis ? 1 : 0);
        var args = new Item[n];
        for (int k = n - 1; k >= 0; k--)
        {
            args[k] = Pop();
        }
        string name = MethodName(m);

        if (m.GetCustomAttribute<IntrinsicAttribute>() is { } intrinsic)
        {
            Intrinsic(intrinsic.Kind, m, args);
            return;
        }
        if (KnownMethods.TryGet(m, out MathFn fn))
        {
            if (DeviceMathFor(m, fn) is { } library)
            {
                // A precise transcendental: PTX has none, so the device library's C# is inlined (on every
                // backend, so the CPU accelerator and the GPU compute the same bits).
                _stack.Push(Inline(library, args)!);
                return;
            }
            IrType operand = fn is MathFn.HalfToFloat or MathFn.HalfToDouble ? IrType.I32 : ScalarOf(args[0]).Type;
            Value[] values = args.Select(a => Coerce(a is StructItem s ? s.Leaves[0] : ScalarOf(a), operand)).ToArray();
            Value result = _b.Value(Op.Math, Semantics.MathResult(fn, operand), values, (long)fn);
            Type ret = ((MethodInfo)m).ReturnType;
            _stack.Push(ret == typeof(Half) ? new StructItem(typeof(Half), [result]) : new ScalarItem(result));
            return;
        }
        if (TrySpecialMethod(m, args) || TryTypeMethod(m, args))
        {
            return;
        }
        if (newObj)
        {
            Type t = m.DeclaringType!;
            if (!t.IsValueType)
            {
                throw Error($"an allocation of the class {TypeLayout.Describe(t)} (new {t.Name}(...))",
                    "Kernels cannot allocate objects; use a struct.");
            }
            Var[] temp = NewVars(t, $"new{_tempCount++}");
            foreach (Var v in temp)
            {
                _b.Write(v, Constant.Zero(v.Type));
            }
            Inline(m, [new RefItem(t, temp), .. args]);
            _stack.Push(MakeValue(t, ReadLeaves(temp)));
            return;
        }
        if (hasThis && m.DeclaringType is { IsValueType: false } owner)
        {
            throw Error(owner.IsInterface
                    ? $"an interface call of {name} on a value that is not a generic struct parameter"
                    : $"a call of the instance method {name} on the class {TypeLayout.Describe(owner)}",
                "Kernels call static methods and methods of structs; virtual dispatch is not supported.");
        }
        if (m.IsAbstract)
        {
            throw Error($"a call of the abstract method {name}");
        }
        Item? result2 = Inline(m, args);
        if (result2 is not null)
        {
            _stack.Push(result2);
        }
    }

    /// <summary>The <see cref="DeviceMath"/> method standing in for <paramref name="m"/>, or null when the IR's own math op serves.</summary>
    private static MethodInfo? DeviceMathFor(MethodBase m, MathFn fn) =>
        fn is MathFn.Exp or MathFn.Log or MathFn.Log2 or MathFn.Sin or MathFn.Cos or MathFn.Tan or MathFn.Tanh or MathFn.Pow
            ? typeof(DeviceMath).GetMethod(m.Name, BindingFlags.Public | BindingFlags.Static, m.GetParameters().Select(p => p.ParameterType).ToArray())
            : null;

    /// <summary>
    /// A constrained call on a struct type parameter: the struct's own implementation, found through
    /// its interface map. This is how <c>T.TileSize</c> on a generic struct argument becomes a constant.
    /// </summary>
    private MethodBase ResolveConstrained(Type constrained, MethodBase m)
    {
        if (!constrained.IsValueType)
        {
            throw Error($"a constrained call of {MethodName(m)} on the reference type {constrained.Name}");
        }
        if (TryResolveConstrained(constrained, m) is { } target)
        {
            return target;
        }
        throw Error(m.DeclaringType!.IsInterface
            ? $"the interface method {MethodName(m)}, which {constrained.Name} does not implement"
            : $"a call of {MethodName(m)} on the struct {constrained.Name}, which boxes it");
    }

    /// <summary>
    /// The method a constrained call of <paramref name="m"/> on the struct <paramref name="constrained"/>
    /// reaches, or null. Shared with <see cref="KernelFingerprint"/>, which must follow the same calls.
    /// </summary>
    internal static MethodBase? TryResolveConstrained(Type constrained, MethodBase m)
    {
        if (!constrained.IsValueType)
        {
            return null;
        }
        Type declaring = m.DeclaringType!;
        if (declaring.IsInterface)
        {
            InterfaceMapping map = constrained.GetInterfaceMap(declaring);
            for (int k = 0; k < map.InterfaceMethods.Length; k++)
            {
                MethodInfo im = map.InterfaceMethods[k];
                if (im.MetadataToken == m.MetadataToken && im.Module == m.Module)
                {
                    MethodInfo target = map.TargetMethods[k];
                    return m.IsGenericMethod ? target.MakeGenericMethod(m.GetGenericArguments()) : target;
                }
            }
            return null;
        }
        // A virtual method of object (ToString, GetHashCode, Equals): only the struct's own override is callable.
        return constrained.GetMethod(m.Name, BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly,
            m.GetParameters().Select(p => p.ParameterType).ToArray());
    }

    private Value ScalarOf(Item item) => item switch
    {
        ScalarItem s => s.Value,
        StructItem { Leaves.Length: 1 } st => st.Leaves[0],
        _ => throw Error("a struct or reference where a number is expected"),
    };

    private (Value Pointer, Value Length) ViewLeaves(Item view, Type viewType)
    {
        Item value = view is StructItem ? view : LoadFrom(view, viewType);
        var s = (StructItem)value;
        return (s.Leaves[0], s.Leaves[1]);
    }

    private void Intrinsic(IntrinsicKind kind, MethodBase m, Item[] args)
    {
        switch (kind)
        {
            case >= IntrinsicKind.GridIdxX and <= IntrinsicKind.LaneIdx:
                Push(_b.Emit(Op.Special, IrType.I32, [], (long)(SpecialReg)(int)kind));
                return;
            case IntrinsicKind.GroupBarrier:
            case IntrinsicKind.WarpBarrier:
                UsesCollectives = true;
                _b.Emit(Op.Barrier, IrType.Void, [], kind == IntrinsicKind.GroupBarrier ? 0 : 1);
                return;
            case IntrinsicKind.ShuffleIdx or IntrinsicKind.ShuffleDown or IntrinsicKind.ShuffleUp or IntrinsicKind.ShuffleXor:
            {
                UsesCollectives = true;
                Type t = m.GetGenericArguments()[0];
                Value[] leaves = Leaves(args[0], t);
                Value lane = Coerce(ScalarOf(args[1]), IrType.I32);
                Value[] results = leaves.Select(l => (Value)_b.Emit(Op.Shuffle, l.Type, [l, lane], (long)kind)).ToArray();
                _stack.Push(MakeValue(t, results));
                return;
            }
            case IntrinsicKind.VoteAll or IntrinsicKind.VoteAny or IntrinsicKind.VoteBallot:
                UsesCollectives = true;
                Push(_b.Emit(Op.Vote, IrType.I32, [Coerce(ScalarOf(args[0]), IrType.I32)], (long)kind));
                return;
            case IntrinsicKind.SharedAllocate:
            {
                Type t = m.GetGenericArguments()[0];
                TypeLayout layout = Layout(t);
                if (ScalarOf(args[0]) is not Constant { I32: >= 0 } length)
                {
                    throw Error("SharedMemory.Allocate with a length that is not a non-negative compile-time constant",
                        "Use a const, or a static value of a generic struct argument; for a size chosen at launch use SharedMemory.GetDynamic<T>().");
                }
                long bytes = (long)layout.Size * length.I32;
                Value ptr = _b.Emit(Op.SharedAlloc, IrType.Ptr, [], bytes, Math.Max(16, layout.Alignment));
                _stack.Push(new StructItem(typeof(ArrayView<>).MakeGenericType(t), [ptr, length]));
                return;
            }
            case IntrinsicKind.SharedDynamic:
            {
                Type t = m.GetGenericArguments()[0];
                TypeLayout layout = Layout(t);
                Value ptr = _b.Emit(Op.SharedDynamic, IrType.Ptr, []);
                Value bytes = _b.Emit(Op.Special, IrType.I32, [], (long)SpecialReg.DynamicSharedBytes);
                Value length = _b.Value(Op.DivUn, IrType.I32, [bytes, Constant.Int(layout.Size)]);
                _stack.Push(new StructItem(typeof(ArrayView<>).MakeGenericType(t), [ptr, length]));
                return;
            }
            case >= IntrinsicKind.AtomicAdd and <= IntrinsicKind.AtomicXor:
            {
                if (args[0] is not ScalarItem { Value.Type: IrType.Ptr } target)
                {
                    throw Error($"Atomic.{m.Name} on a local variable", "Atomics work on ArrayView elements (global or shared memory).");
                }
                Type element = m.GetParameters()[0].ParameterType.GetElementType()!;
                IrType t = TypeLayout.Scalar(element)!.Value.StackType();
                Value[] operands = [target.Value, .. args.Skip(1).Select(a => Coerce(ScalarOf(a), t))];
                Push(_b.Emit(Op.Atomic, t, operands, (long)kind, (int)Type.GetTypeCode(element)));
                return;
            }
            case IntrinsicKind.FenceGroup or IntrinsicKind.FenceDevice or IntrinsicKind.FenceSystem:
                _b.Emit(Op.Fence, IrType.Void, [], (long)kind);
                return;
            case >= IntrinsicKind.FastEx2 and <= IntrinsicKind.FastMax:
            {
                MathFn fn = kind switch
                {
                    IntrinsicKind.FastEx2 => MathFn.FastEx2,
                    IntrinsicKind.FastLg2 => MathFn.FastLg2,
                    IntrinsicKind.FastRsqrt => MathFn.FastRsqrt,
                    IntrinsicKind.FastRcp => MathFn.FastRcp,
                    IntrinsicKind.FastTanh => MathFn.FastTanh,
                    IntrinsicKind.FastSin => MathFn.FastSin,
                    IntrinsicKind.FastCos => MathFn.FastCos,
                    IntrinsicKind.Fma => MathFn.Fma,
                    IntrinsicKind.FastMin => MathFn.FastMin,
                    _ => MathFn.FastMax,
                };
                Value[] operands = args.Select(a => Coerce(ScalarOf(a), IrType.F32)).ToArray();
                Push(_b.Value(Op.Math, IrType.F32, operands, (long)fn));
                return;
            }
            case IntrinsicKind.ViewElement:
            {
                Type viewType = m.DeclaringType!;
                Type t = viewType.GetGenericArguments()[0];
                var (ptr, length) = ViewLeaves(args[0], viewType);
                Value index = Coerce(ScalarOf(args[1]), IrType.I32);
                Push(_b.Emit(Op.ViewElement, IrType.Ptr, [ptr, length, index], Layout(t).Size), t);
                return;
            }
            case IntrinsicKind.ViewSubView:
            {
                Type viewType = m.DeclaringType!;
                int size = Layout(viewType.GetGenericArguments()[0]).Size;
                var (ptr, length) = ViewLeaves(args[0], viewType);
                Value start = Coerce(ScalarOf(args[1]), IrType.I32);
                Value count = Coerce(ScalarOf(args[2]), IrType.I32);
                _b.Emit(Op.CheckSlice, IrType.Void, [length, start, count]);
                Value bytes = _b.Value(Op.Mul, IrType.I64, [Coerce(start, IrType.I64), Constant.Long(size)]);
                Value moved = bytes is Constant { Bits: 0 } ? ptr : _b.Emit(Op.PtrAdd, IrType.Ptr, [ptr, bytes]);
                _stack.Push(new StructItem(viewType, [moved, count]));
                return;
            }
            case IntrinsicKind.ViewCast:
            {
                Type viewType = m.DeclaringType!;
                Type from = viewType.GetGenericArguments()[0];
                Type to = m.GetGenericArguments()[0];
                var (ptr, length) = ViewLeaves(args[0], viewType);
                Value bytes = _b.Value(Op.Mul, IrType.I64, [Coerce(length, IrType.I64), Constant.Long(Layout(from).Size)]);
                Value count = Coerce(_b.Value(Op.Div, IrType.I64, [bytes, Constant.Long(Layout(to).Size)]), IrType.I32);
                _stack.Push(new StructItem(typeof(ArrayView<>).MakeGenericType(to), [ptr, count]));
                return;
            }
            case IntrinsicKind.MmaF16 or IntrinsicKind.MmaBF16:
            {
                UsesCollectives = true;
                Value[] operands =
                [
                    .. Leaves(args[0], typeof(MmaFragmentA)),
                    .. Leaves(args[1], typeof(MmaFragmentB)),
                    .. Leaves(args[2], typeof(MmaAccumulator)),
                ];
                Instr mma = _b.Emit(Op.Mma, IrType.F32, operands, (long)kind);
                Value[] d = [mma, .. Enumerable.Range(1, 3).Select(k => (Value)_b.Emit(Op.Part, IrType.F32, [mma], k))];
                _stack.Push(new StructItem(typeof(MmaAccumulator), d));
                return;
            }
            case >= IntrinsicKind.LoadMatrixX1 and <= IntrinsicKind.LoadMatrixX4Transposed:
            {
                UsesCollectives = true;
                if (args[0] is not ScalarItem { Value.Type: IrType.Ptr } row)
                {
                    throw Error($"TensorCore.{m.Name} on a local variable", "ldmatrix reads rows of a shared-memory view.");
                }
                int index = kind - IntrinsicKind.LoadMatrixX1;
                int count = (index % 3) switch { 0 => 1, 1 => 2, _ => 4 };
                bool transpose = index >= 3;
                Instr load = _b.Emit(Op.LoadMatrix, IrType.I32, [row.Value], count + (transpose ? 8 : 0));
                Value[] registers = [load, .. Enumerable.Range(1, count - 1).Select(k => (Value)_b.Emit(Op.Part, IrType.I32, [load], k))];
                _stack.Push(count switch
                {
                    1 => new ScalarItem(load),
                    2 => new StructItem(typeof(MmaFragmentB), registers),
                    _ => new StructItem(typeof(MmaFragmentA), registers),
                });
                return;
            }
            case IntrinsicKind.PackHalf2 or IntrinsicKind.PackBFloat162:
            {
                Value[] operands = args.Select(a => Coerce(ScalarOf(a), IrType.F32)).ToArray();
                Push(_b.Value(Op.Math, IrType.I32, operands, (long)(kind == IntrinsicKind.PackHalf2 ? MathFn.PackHalf2 : MathFn.PackBFloat162)));
                return;
            }
            case IntrinsicKind.CopyAsync:
            {
                Type t = m.GetGenericArguments()[0];
                int bytes = Layout(t).Size;
                if (bytes is not (4 or 8 or 16))
                {
                    throw Error($"AsyncCopy.Copy of {TypeLayout.Describe(t)} ({bytes} bytes)", "cp.async moves 4, 8 or 16 bytes per thread; copy a struct of that size.");
                }
                if (args[0] is not ScalarItem { Value.Type: IrType.Ptr } dst || args[1] is not ScalarItem { Value.Type: IrType.Ptr } src)
                {
                    throw Error("AsyncCopy.Copy on a local variable", "Both ends are view elements: shared memory and global memory.");
                }
                _b.Emit(Op.CopyAsync, IrType.Void, [dst.Value, src.Value], bytes);
                return;
            }
            case IntrinsicKind.CopyAsyncCommit:
                _b.Emit(Op.CopyAsyncCommit, IrType.Void, []);
                return;
            case IntrinsicKind.CopyAsyncWait:
                if (ScalarOf(args[0]) is not Constant { I32: >= 0 and <= 7 } pending)
                {
                    throw Error("AsyncCopy.Wait with a count that is not a constant from 0 to 7");
                }
                _b.Emit(Op.CopyAsyncWait, IrType.Void, [], pending.I32);
                return;
            default:
                throw Error($"the intrinsic {kind}, which this compiler does not implement yet");
        }
    }

    /// <summary>Base-library helpers with an obvious one-instruction meaning, and [InlineArray] element access.</summary>
    private bool TrySpecialMethod(MethodBase m, Item[] args)
    {
        Type? owner = m.DeclaringType;
        if (owner is null)
        {
            return false;
        }
        if ((owner == typeof(float) || owner == typeof(double)) && m.Name == "IsNaN")
        {
            Value x = ScalarOf(args[0]);
            Push(_b.Value(Op.Cmp, IrType.I32, [x, x], (long)CmpKind.NeUn));
            return true;
        }
        if ((owner == typeof(float) || owner == typeof(double)) && m.Name is "IsInfinity" or "IsFinite" && args.Length == 1)
        {
            Value x = ScalarOf(args[0]);
            Value magnitude = _b.Value(Op.Math, x.Type, [x], (long)MathFn.Abs);
            Value infinity = x.Type == IrType.F32 ? Constant.Float(float.PositiveInfinity) : Constant.Double(double.PositiveInfinity);
            Push(_b.Value(Op.Cmp, IrType.I32, [magnitude, infinity], (long)(m.Name == "IsInfinity" ? CmpKind.Eq : CmpKind.Lt)));
            return true;
        }
        if (owner == typeof(Math) && m.Name == "Clamp" && args.Length == 3 && m is MethodInfo clamp && TypeLayout.Scalar(clamp.ReturnType) is { } clampType)
        {
            // Math.Clamp's own IL throws when min > max; kernels cannot, so that check is dropped.
            bool unsigned = clamp.ReturnType == typeof(uint) || clamp.ReturnType == typeof(ulong) || clamp.ReturnType == typeof(nuint)
                || clamp.ReturnType == typeof(byte) || clamp.ReturnType == typeof(ushort);
            IrType t = clampType.StackType();
            Value v = Coerce(ScalarOf(args[0]), t), lo = Coerce(ScalarOf(args[1]), t), hi = Coerce(ScalarOf(args[2]), t);
            Value below = _b.Value(Op.Cmp, IrType.I32, [v, lo], (long)(unsigned ? CmpKind.LtUn : CmpKind.Lt));
            Value above = _b.Value(Op.Cmp, IrType.I32, [v, hi], (long)(unsigned ? CmpKind.GtUn : CmpKind.Gt));
            Push(_b.Value(Op.Select, t, [below, lo, _b.Value(Op.Select, t, [above, hi, v])]));
            return true;
        }
        if (owner == typeof(BitConverter) && m.Name is "SingleToInt32Bits" or "Int32BitsToSingle" or "DoubleToInt64Bits"
            or "Int64BitsToDouble" or "SingleToUInt32Bits" or "UInt32BitsToSingle" or "DoubleToUInt64Bits" or "UInt64BitsToDouble")
        {
            Value x = ScalarOf(args[0]);
            Push(_b.Value(Op.Conv, Semantics.ConvResult(ConvKind.Bitcast, x.Type), [x], (long)ConvKind.Bitcast));
            return true;
        }
        if (owner == typeof(BitConverter) && m.Name is "HalfToUInt16Bits" or "HalfToInt16Bits")
        {
            Value bits = ScalarOf(args[0]);
            Push(m.Name == "HalfToInt16Bits" ? _b.Value(Op.Conv, IrType.I32, [bits], (long)ConvKind.ToI2) : bits);
            return true;
        }
        if (owner == typeof(BitConverter) && m.Name is "UInt16BitsToHalf" or "Int16BitsToHalf")
        {
            Value bits = _b.Value(Op.Conv, IrType.I32, [ScalarOf(args[0])], (long)ConvKind.ToU2);
            _stack.Push(new StructItem(typeof(Half), [bits]));
            return true;
        }
        if (owner.Name == "<PrivateImplementationDetails>" && m.Name is "InlineArrayAsSpan" or "InlineArrayAsReadOnlySpan" && args[0] is RefItem spanBuffer
            && ScalarOf(args[1]) is Constant length)
        {
            _stack.Push(new SpanItem(spanBuffer, m.GetGenericArguments()[1], length.I32));
            return true;
        }
        if (owner.IsGenericType && owner.GetGenericTypeDefinition() is var span && (span == typeof(Span<>) || span == typeof(ReadOnlySpan<>))
            && args.Length > 0 && args[0] is SpanItem spanItem)
        {
            switch (m.Name)
            {
                case "get_Length":
                    Push(Constant.Int(spanItem.Length));
                    return true;
                case "get_Item":
                    _stack.Push(ElementOf(spanItem, ScalarOf(args[1])));
                    return true;
            }
            throw Error($"the span method {MethodName(m)} on a register array", "Index the [InlineArray] directly.");
        }
        if (owner.Name == "<PrivateImplementationDetails>" && m.Name is "InlineArrayAsSpan" or "InlineArrayAsReadOnlySpan")
        {
            throw Error($"an [InlineArray] register array ({m.GetGenericArguments()[0].Name}) indexed by a value that is not a compile-time constant, or used as a span",
                "Index it with constants or loop counters of loops with constant bounds (which are unrolled).");
        }
        if (owner == typeof(System.Runtime.CompilerServices.Unsafe))
        {
            return TryUnsafe(m, args);
        }
        if (owner.Name == "<PrivateImplementationDetails>" && m.Name is "InlineArrayElementRef" or "InlineArrayFirstElementRef")
        {
            Type buffer = m.GetGenericArguments()[0];
            Type element = m.GetGenericArguments()[1];
            int perElement = Layout(element).Leaves.Length;
            Value index = m.Name == "InlineArrayFirstElementRef" ? Constant.Int(0) : ScalarOf(args[1]);
            int count = Layout(buffer).Leaves.Length / perElement;
            switch (args[0])
            {
                case RefItem r when index is Constant c:
                    if ((uint)c.I32 >= (uint)count)
                    {
                        throw Error($"an index {c.I32} outside the [InlineArray] {buffer.Name} of length {count}");
                    }
                    _stack.Push(new RefItem(element, r.Leaves.Skip(c.I32 * perElement).Take(perElement).ToArray()));
                    return true;
                case RefItem r:
                    _stack.Push(ElementOf(new SpanItem(r, element, count), index));
                    return true;
                case ScalarItem { Value.Type: IrType.Ptr } p:
                {
                    Value bytes = _b.Value(Op.Mul, IrType.I64, [Coerce(index, IrType.I64), Constant.Long(Layout(element).Size)]);
                    Push(_b.Emit(Op.PtrAdd, IrType.Ptr, [p.Value, bytes]), element);
                    return true;
                }
            }
        }
        return false;
    }

    /// <summary>
    /// The Unsafe helpers are JIT intrinsics whose IL bodies only throw; their meaning on addresses is
    /// given here. References to locals may be re-typed only where the leaves line up.
    /// </summary>
    private bool TryUnsafe(MethodBase m, Item[] args)
    {
        Type[] g = m.IsGenericMethod ? m.GetGenericArguments() : [];
        switch (m.Name)
        {
            case "SizeOf":
                Push(Constant.Int(Layout(g[0]).Size));
                return true;
            case "AsRef" when args.Length == 1 && args[0] is not ScalarItem { Value.Type: not IrType.Ptr }:
                _stack.Push(args[0]);
                return true;
            case "As" when g.Length == 2:
                switch (args[0])
                {
                    case RefItem r when Layout(g[1]).Leaves.Length == r.Leaves.Length:
                        _stack.Push(new RefItem(g[1], r.Leaves));
                        return true;
                    case RefItem:
                        throw Error($"Unsafe.As from {g[0].Name} to {g[1].Name} on a local (its leaves do not line up)");
                    case ScalarItem p:
                        Push(Coerce(p.Value, IrType.Ptr), g[1]);
                        return true;
                }
                break;
            case "Add" or "Subtract" when g.Length == 1 && args.Length == 2 && m.GetParameters()[0].ParameterType.IsByRef:
            {
                Value count = ScalarOf(args[1]);
                int size = Layout(g[0]).Size;
                switch (args[0])
                {
                    case ScalarItem p:
                    {
                        Value bytes = _b.Value(Op.Mul, IrType.I64, [Coerce(count, IrType.I64), Constant.Long(m.Name == "Add" ? size : -size)]);
                        Push(_b.Emit(Op.PtrAdd, IrType.Ptr, [Coerce(p.Value, IrType.Ptr), bytes]), g[0]);
                        return true;
                    }
                    case RefItem r when count is Constant c:
                    {
                        int per = Layout(g[0]).Leaves.Length;
                        int k = m.Name == "Add" ? (int)c.Bits : -(int)c.Bits;
                        if (k < 0 || (k + 1) * per > r.Leaves.Length)
                        {
                            throw Error($"Unsafe.{m.Name} moving a reference outside its local");
                        }
                        _stack.Push(new RefItem(g[0], r.Leaves.Skip(k * per).Take(per).ToArray()));
                        return true;
                    }
                    case RefItem:
                        throw Error($"Unsafe.{m.Name} on a reference to a local with an offset that is not a compile-time constant");
                }
                break;
            }
        }
        throw Error($"the Unsafe method {MethodName(m)}");
    }

    /// <summary>Element <paramref name="index"/> of a register array: a plain reference when the index is constant.</summary>
    private Item ElementOf(SpanItem span, Value index)
    {
        int per = Layout(span.ElementType).Leaves.Length;
        Var[][] elements = Enumerable.Range(0, span.Length).Select(k => span.Buffer.Leaves.Skip(k * per).Take(per).ToArray()).ToArray();
        index = Coerce(index, IrType.I32);
        if (index is Constant c)
        {
            if ((uint)c.I32 >= (uint)span.Length)
            {
                throw Error($"an index {c.I32} outside the register array {span.Buffer.Type.Name} of length {span.Length}");
            }
            return new RefItem(span.ElementType, elements[c.I32]);
        }
        // The CLR throws on an index outside the array; the CPU accelerator reports it the same way as a view.
        _b.Emit(Op.ViewElement, IrType.Ptr, [Constant.Zero(IrType.Ptr), Constant.Int(span.Length), index], 0);
        return new DynamicRefItem(span.ElementType, elements, index);
    }

    private Value[] SelectLeaves(DynamicRefItem d)
    {
        int per = d.Elements[0].Length;
        var result = new Value[per];
        for (int l = 0; l < per; l++)
        {
            Value v = _b.Read(d.Elements[0][l]);
            for (int k = 1; k < d.Elements.Length; k++)
            {
                Value hit = _b.Value(Op.Cmp, IrType.I32, [d.Index, Constant.Int(k)], (long)CmpKind.Eq);
                v = _b.Value(Op.Select, v.Type, [hit, _b.Read(d.Elements[k][l]), v]);
            }
            result[l] = v;
        }
        return result;
    }

    private void StoreSelected(DynamicRefItem d, Value[] leaves)
    {
        for (int k = 0; k < d.Elements.Length; k++)
        {
            Value hit = _b.Value(Op.Cmp, IrType.I32, [d.Index, Constant.Int(k)], (long)CmpKind.Eq);
            for (int l = 0; l < leaves.Length; l++)
            {
                Var v = d.Elements[k][l];
                _b.Write(v, _b.Value(Op.Select, v.Type, [hit, Coerce(leaves[l], v.Type), _b.Read(v)]));
            }
        }
    }
}
