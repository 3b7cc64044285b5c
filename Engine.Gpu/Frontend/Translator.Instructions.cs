using System.Reflection;
using System.Reflection.Emit;
using Engine.Gpu.IR;

namespace Engine.Gpu.Frontend;

internal sealed partial class Translator
{
    private void TranslateInstr(Frame f, IlInstr ins, IlBlock ib)
    {
        OpCode c = ins.Code;
        switch (c.Name)
        {
            case "nop":
            case "break":
                return;
            case "ldarg.0": LdArg(f, 0); return;
            case "ldarg.1": LdArg(f, 1); return;
            case "ldarg.2": LdArg(f, 2); return;
            case "ldarg.3": LdArg(f, 3); return;
            case "ldarg.s":
            case "ldarg": LdArg(f, (int)ins.Int); return;
            case "ldarga.s":
            case "ldarga": LdArgA(f, (int)ins.Int); return;
            case "starg.s":
            case "starg": StArg(f, (int)ins.Int); return;
            case "ldloc.0": LdLoc(f, 0); return;
            case "ldloc.1": LdLoc(f, 1); return;
            case "ldloc.2": LdLoc(f, 2); return;
            case "ldloc.3": LdLoc(f, 3); return;
            case "ldloc.s":
            case "ldloc": LdLoc(f, (int)ins.Int); return;
            case "ldloca.s":
            case "ldloca": LdLocA(f, (int)ins.Int); return;
            case "stloc.0": StLoc(f, 0); return;
            case "stloc.1": StLoc(f, 1); return;
            case "stloc.2": StLoc(f, 2); return;
            case "stloc.3": StLoc(f, 3); return;
            case "stloc.s":
            case "stloc": StLoc(f, (int)ins.Int); return;
            case "ldc.i4.m1": Push(Constant.Int(-1)); return;
            case "ldc.i4.0": Push(Constant.Int(0)); return;
            case "ldc.i4.1": Push(Constant.Int(1)); return;
            case "ldc.i4.2": Push(Constant.Int(2)); return;
            case "ldc.i4.3": Push(Constant.Int(3)); return;
            case "ldc.i4.4": Push(Constant.Int(4)); return;
            case "ldc.i4.5": Push(Constant.Int(5)); return;
            case "ldc.i4.6": Push(Constant.Int(6)); return;
            case "ldc.i4.7": Push(Constant.Int(7)); return;
            case "ldc.i4.8": Push(Constant.Int(8)); return;
            case "ldc.i4.s":
            case "ldc.i4": Push(Constant.Int((int)ins.Int)); return;
            case "ldc.i8": Push(Constant.Long(ins.Int)); return;
            case "ldc.r4": Push(Constant.Float((float)ins.Real)); return;
            case "ldc.r8": Push(Constant.Double(ins.Real)); return;
            case "dup":
            {
                Item top = PopAny();
                _stack.Push(top);
                _stack.Push(top);
                return;
            }
            case "pop": PopAny(); return;
            case "ret": Return(f); return;
            case "br.s":
            case "br":
                SaveStack(f, ib);
                _b.Br(f.IrBlocks[ib.Succs[0].Index]);
                return;
            case "brfalse.s":
            case "brfalse":
            case "brtrue.s":
            case "brtrue":
            {
                Value x = PopValue();
                Value cond = x.Type == IrType.I32 ? x : _b.Value(Op.Cmp, IrType.I32, [Coerce(x, IrType.I64), Coerce(Constant.Zero(IrType.I32), IrType.I64)], (long)CmpKind.NeUn);
                SaveStack(f, ib);
                Block taken = f.IrBlocks[ib.Succs[0].Index], fallthrough = f.IrBlocks[ib.Succs[1].Index];
                if (c.Name.StartsWith("brtrue", StringComparison.Ordinal))
                {
                    _b.CondBr(cond, taken, fallthrough);
                }
                else
                {
                    _b.CondBr(cond, fallthrough, taken);
                }
                return;
            }
            case "beq.s" or "beq": CompareBranch(f, ib, CmpKind.Eq); return;
            case "bne.un.s" or "bne.un": CompareBranch(f, ib, CmpKind.NeUn); return;
            case "blt.s" or "blt": CompareBranch(f, ib, CmpKind.Lt); return;
            case "ble.s" or "ble": CompareBranch(f, ib, CmpKind.Le); return;
            case "bgt.s" or "bgt": CompareBranch(f, ib, CmpKind.Gt); return;
            case "bge.s" or "bge": CompareBranch(f, ib, CmpKind.Ge); return;
            case "blt.un.s" or "blt.un": CompareBranch(f, ib, CmpKind.LtUn); return;
            case "ble.un.s" or "ble.un": CompareBranch(f, ib, CmpKind.LeUn); return;
            case "bgt.un.s" or "bgt.un": CompareBranch(f, ib, CmpKind.GtUn); return;
            case "bge.un.s" or "bge.un": CompareBranch(f, ib, CmpKind.GeUn); return;
            case "switch":
            {
                Value x = Coerce(PopValue(), IrType.I32);
                SaveStack(f, ib);
                _b.Switch(x, ib.Succs.Select(s => f.IrBlocks[s.Index]).ToArray());
                return;
            }
            case "ceq": Compare(CmpKind.Eq); return;
            case "cgt": Compare(CmpKind.Gt); return;
            case "cgt.un": Compare(CmpKind.GtUn); return;
            case "clt": Compare(CmpKind.Lt); return;
            case "clt.un": Compare(CmpKind.LtUn); return;
            case "add": Binary(Op.Add); return;
            case "sub": Binary(Op.Sub); return;
            case "mul": Binary(Op.Mul); return;
            case "div": Binary(Op.Div); return;
            case "div.un": Binary(Op.DivUn); return;
            case "rem": Binary(Op.Rem); return;
            case "rem.un": Binary(Op.RemUn); return;
            case "and": Binary(Op.And); return;
            case "or": Binary(Op.Or); return;
            case "xor": Binary(Op.Xor); return;
            case "shl": Shift(Op.Shl); return;
            case "shr": Shift(Op.Shr); return;
            case "shr.un": Shift(Op.ShrUn); return;
            case "neg":
            {
                Value x = PopValue();
                Push(_b.Value(Op.Neg, x.Type, [x]));
                return;
            }
            case "not":
            {
                Value x = PopValue();
                Push(_b.Value(Op.Not, x.Type, [x]));
                return;
            }
            case "conv.i1": Convert(ConvKind.ToI1); return;
            case "conv.u1": Convert(ConvKind.ToU1); return;
            case "conv.i2": Convert(ConvKind.ToI2); return;
            case "conv.u2": Convert(ConvKind.ToU2); return;
            case "conv.i4": Convert(ConvKind.ToI4); return;
            case "conv.u4": Convert(ConvKind.ToU4); return;
            case "conv.i8":
            case "conv.i": Convert(ConvKind.ToI8); return;
            case "conv.u8":
            case "conv.u": Convert(ConvKind.ToU8); return;
            case "conv.r4": Convert(ConvKind.ToR4); return;
            case "conv.r8": Convert(ConvKind.ToR8); return;
            case "conv.r.un":
            {
                // conv.r.un; conv.r4 is how C# writes an unsigned-to-float cast: fuse it so it rounds once
                // exactly as the CLR's own conversion does.
                int next = f.Cfg.Instrs.IndexOf(ins) + 1;
                if (next <= ib.Last && f.Cfg.Instrs[next].Code == OpCodes.Conv_R4)
                {
                    Value x = PopValue();
                    Push(_b.Value(Op.Conv, IrType.F32, [x.Type == IrType.Ptr ? Coerce(x, IrType.I64) : x], (long)ConvKind.ToRUn4));
                    _skipNext = true;
                    return;
                }
                Convert(ConvKind.ToRUn);
                return;
            }
            case "ldind.i1": LdInd(typeof(sbyte)); return;
            case "ldind.u1": LdInd(typeof(byte)); return;
            case "ldind.i2": LdInd(typeof(short)); return;
            case "ldind.u2": LdInd(typeof(ushort)); return;
            case "ldind.i4": LdInd(typeof(int)); return;
            case "ldind.u4": LdInd(typeof(uint)); return;
            case "ldind.i8": LdInd(typeof(long)); return;
            case "ldind.i": LdInd(typeof(nint)); return;
            case "ldind.r4": LdInd(typeof(float)); return;
            case "ldind.r8": LdInd(typeof(double)); return;
            case "stind.i1": StInd(typeof(sbyte)); return;
            case "stind.i2": StInd(typeof(short)); return;
            case "stind.i4": StInd(typeof(int)); return;
            case "stind.i8": StInd(typeof(long)); return;
            case "stind.i": StInd(typeof(nint)); return;
            case "stind.r4": StInd(typeof(float)); return;
            case "stind.r8": StInd(typeof(double)); return;
            case "ldobj":
            {
                Type t = ResolveType(f, ins);
                Item address = Pop();
                _stack.Push(LoadFrom(address, t));
                return;
            }
            case "stobj":
            {
                Type t = ResolveType(f, ins);
                Item value = Pop();
                Item address = Pop();
                StoreTo(address, t, value);
                return;
            }
            case "cpobj":
            {
                Type t = ResolveType(f, ins);
                Item source = Pop();
                Item dest = Pop();
                StoreTo(dest, t, LoadFrom(source, t));
                return;
            }
            case "initobj":
            {
                Type t = ResolveType(f, ins);
                Item address = Pop();
                TypeLayout layout = Layout(t);
                StoreTo(address, t, MakeValue(t, layout.Leaves.Select(l => (Value)Constant.Zero(l.Type)).ToArray()));
                return;
            }
            case "sizeof":
                Push(Constant.Int(Layout(ResolveType(f, ins)).Size));
                return;
            case "ldfld": LdFld(f, ins); return;
            case "ldflda": LdFldA(f, ins); return;
            case "stfld": StFld(f, ins); return;
            case "ldsfld": LdSFld(f, ins); return;
            case "stsfld":
            {
                FieldInfo field = ResolveField(f, ins);
                throw Error($"a store to the static field {field.DeclaringType?.Name}.{field.Name} (stsfld)", Hint(c));
            }
            case "ldtoken": LdToken(f, ins); return;
            case "box": Box(f, ins); return;
            case "unbox.any": UnboxAny(f, ins); return;
            case "call": Call(f, ins, newObj: false); return;
            case "callvirt": Call(f, ins, newObj: false); return;
            case "newobj": Call(f, ins, newObj: true); return;
        }
        throw Error(Describe(c), Hint(c));
    }

    /// <summary>Set when an instruction consumed the one after it (a fused pair).</summary>
    private bool _skipNext;

    private static string Describe(OpCode c) => (c.Name ?? "") switch
    {
        "ldstr" => "a string literal (ldstr)",
        "ldnull" => "a null reference (ldnull)",
        "newarr" => "an array allocation (newarr)",
        "ldlen" or "ldelem" or "ldelema" or "stelem" or "ldelem.i4" or "ldelem.r4" or "stelem.i4" or "stelem.r4" => $"a managed array access ({c.Name})",
        "box" => "boxing a value (box)",
        "unbox" or "unbox.any" => "unboxing (unbox)",
        "throw" or "rethrow" => "throwing an exception (throw)",
        "stsfld" => "a store to a static field (stsfld)",
        "ldsflda" => "the address of a static field (ldsflda)",
        "castclass" or "isinst" => $"a type test or cast on a reference ({c.Name})",
        "ldftn" or "ldvirtftn" or "calli" => $"a delegate or function pointer ({c.Name})",
        "localloc" => "stackalloc (localloc)",
        "ldtoken" => "a type or member token (ldtoken, e.g. typeof)",
        "cpblk" or "initblk" => $"a block memory operation ({c.Name})",
        "ckfinite" => "a finite check (ckfinite)",
        _ when c.Name!.Contains(".ovf", StringComparison.Ordinal) => $"checked arithmetic ({c.Name})",
        _ when c.Name!.StartsWith("ldelem", StringComparison.Ordinal) || c.Name.StartsWith("stelem", StringComparison.Ordinal) => $"a managed array access ({c.Name})",
        _ => $"the IL instruction {c.Name}",
    };

    private static string? Hint(OpCode c) => (c.Name ?? "") switch
    {
        "newarr" or "ldlen" => "Use SharedMemory.Allocate<T>(n) or an [InlineArray] struct for per-thread arrays.",
        _ when c.Name!.Contains(".ovf", StringComparison.Ordinal) => "Kernels cannot throw; remove the checked context.",
        _ when c.Name!.Contains("elem", StringComparison.Ordinal) => "Pass an ArrayView<T> instead of a T[].",
        "stsfld" => "Kernels cannot change static state; pass the value as a parameter.",
        "throw" => "Kernels cannot throw; write an error code to a view instead.",
        _ => null,
    };

    // ---------------------------------------------------------------- arguments and locals

    private void LdArg(Frame f, int k)
    {
        if (f.FixedArgs[k] is { } fixedItem)
        {
            _stack.Push(fixedItem);
            return;
        }
        _stack.Push(MakeValue(f.ArgTypes[k], ReadLeaves(f.ArgVars[k]!)));
    }

    private void LdArgA(Frame f, int k)
    {
        if (f.ArgVars[k] is null)
        {
            throw Error("the address of a by-reference parameter");
        }
        _stack.Push(new RefItem(f.ArgTypes[k], f.ArgVars[k]!));
    }

    private void StArg(Frame f, int k)
    {
        Item value = Pop();
        if (f.ArgVars[k] is null)
        {
            throw Error("re-pointing a by-reference parameter");
        }
        WriteLeaves(f.ArgVars[k]!, Leaves(value, f.ArgTypes[k]));
    }

    private void LdLoc(Frame f, int k)
    {
        Type t = f.LocalTypes[k];
        if (t.IsByRef)
        {
            if (f.LocalVars[k] is { } pointer)
            {
                Push(_b.Read(pointer[0]), t.GetElementType());
                return;
            }
            _stack.Push(f.FixedLocals[k] ?? throw Error($"a ref local (V_{k}) read before it was assigned"));
            return;
        }
        if (f.FixedLocals[k] is SpanItem span)
        {
            _stack.Push(span);
            return;
        }
        _stack.Push(MakeValue(t, ReadLeaves(f.LocalVars[k] ?? throw Error($"a local of type {TypeLayout.Describe(t)}", LocalHint))));
    }

    private const string LocalHint = "Kernel locals are primitives, pointers and structs of them.";

    private void LdLocA(Frame f, int k)
    {
        if (f.LocalTypes[k].IsByRef)
        {
            throw Error("the address of a ref local");
        }
        if (f.FixedLocals[k] is SpanItem span)
        {
            _stack.Push(span); // The address of a compile-time span is the span.
            return;
        }
        _stack.Push(new RefItem(f.LocalTypes[k], f.LocalVars[k] ?? throw Error($"a local of type {TypeLayout.Describe(f.LocalTypes[k])}", LocalHint)));
    }

    private void StLoc(Frame f, int k)
    {
        Item value = Pop();
        Type t = f.LocalTypes[k];
        if (t.IsByRef)
        {
            // A ref local keeps one target for its whole life: a pointer may change (it is a variable),
            // a reference to another local may not (it has no run-time form).
            switch (value)
            {
                case RefItem r:
                    if (f.FixedLocals[k] is RefItem old && !old.SameAs(r) || f.LocalVars[k] is not null)
                    {
                        throw Error($"a ref local (V_{k}) re-pointed to a different local");
                    }
                    f.FixedLocals[k] = r;
                    return;
                case ScalarItem s:
                {
                    if (f.FixedLocals[k] is RefItem)
                    {
                        throw Error($"a ref local (V_{k}) pointing at both a local and memory");
                    }
                    if (f.LocalVars[k] is null)
                    {
                        f.LocalVars[k] = [new Var(IrType.Ptr, $"{f.Method.Name}.l{k}")];
                    }
                    _b.Write(f.LocalVars[k]![0], Coerce(s.Value, IrType.Ptr));
                    return;
                }
                default:
                    throw Error("a struct value stored in a ref local");
            }
        }
        if (value is SpanItem span)
        {
            if (f.FixedLocals[k] is SpanItem old && !old.Buffer.SameAs(span.Buffer))
            {
                throw Error($"a span local (V_{k}) over two different register arrays");
            }
            f.FixedLocals[k] = span;
            return;
        }
        WriteLeaves(f.LocalVars[k] ?? throw Error($"a local of type {TypeLayout.Describe(t)}", LocalHint), Leaves(value, t));
    }

    // ---------------------------------------------------------------- arithmetic

    private void Binary(Op op)
    {
        Value b = PopValue();
        Value a = PopValue();
        if (a.Type == IrType.Ptr || b.Type == IrType.Ptr)
        {
            // Managed pointer arithmetic, as Unsafe.Add and fixed buffers produce it.
            if (op == Op.Add && a.Type == IrType.Ptr && b.Type != IrType.Ptr)
            {
                Push(_b.Emit(Op.PtrAdd, IrType.Ptr, [a, Coerce(b, IrType.I64)]));
                return;
            }
            if (op == Op.Add && b.Type == IrType.Ptr && a.Type != IrType.Ptr)
            {
                Push(_b.Emit(Op.PtrAdd, IrType.Ptr, [b, Coerce(a, IrType.I64)]));
                return;
            }
            if (op == Op.Sub && a.Type == IrType.Ptr && b.Type != IrType.Ptr)
            {
                Push(_b.Emit(Op.PtrAdd, IrType.Ptr, [a, _b.Value(Op.Neg, IrType.I64, [Coerce(b, IrType.I64)])]));
                return;
            }
            a = Coerce(a, IrType.I64);
            b = Coerce(b, IrType.I64);
        }
        IrType t = Common(a.Type, b.Type);
        if (op == Op.Rem && t.IsFloat())
        {
            // PTX has no floating-point remainder: the CLR's exact one, written in C#, is inlined here.
            Type c = t == IrType.F32 ? typeof(float) : typeof(double);
            _stack.Push(Inline(typeof(SoftFloat).GetMethod(nameof(SoftFloat.Remainder), [c, c])!,
                [new ScalarItem(Coerce(a, t)), new ScalarItem(Coerce(b, t))])!);
            return;
        }
        Push(_b.Value(op, t, [Coerce(a, t), Coerce(b, t)]));
    }

    private IrType Common(IrType a, IrType b)
    {
        if (a == b)
        {
            return a;
        }
        if (a.IsInt() && b.IsInt())
        {
            return IrType.I64;
        }
        if (a.IsFloat() && b.IsFloat())
        {
            return IrType.F64;
        }
        throw Error($"arithmetic mixing {a} and {b}");
    }

    private void Shift(Op op)
    {
        Value amount = PopValue();
        Value x = PopValue();
        if (!x.Type.IsInt() || !amount.Type.IsInt())
        {
            throw Error($"a shift of {x.Type} by {amount.Type}");
        }
        Push(_b.Value(op, x.Type, [x, Coerce(amount, IrType.I32)]));
    }

    private Value CompareValues(CmpKind kind)
    {
        Value b = PopValue();
        Value a = PopValue();
        if (a.Type == IrType.Ptr || b.Type == IrType.Ptr)
        {
            a = Coerce(a, IrType.I64);
            b = Coerce(b, IrType.I64);
        }
        IrType t = Common(a.Type, b.Type);
        return _b.Value(Op.Cmp, IrType.I32, [Coerce(a, t), Coerce(b, t)], (long)kind);
    }

    private void Compare(CmpKind kind) => Push(CompareValues(kind));

    private void CompareBranch(Frame f, IlBlock ib, CmpKind kind)
    {
        Value cond = CompareValues(kind);
        SaveStack(f, ib);
        _b.CondBr(cond, f.IrBlocks[ib.Succs[0].Index], f.IrBlocks[ib.Succs[1].Index]);
    }

    private void Convert(ConvKind kind)
    {
        Value x = PopValue();
        if (x.Type == IrType.Ptr)
        {
            x = Coerce(x, IrType.I64);
        }
        IrType result = Semantics.ConvResult(kind, x.Type);
        Push(_b.Value(Op.Conv, result, [x], (long)kind));
    }

    private void LdInd(Type t)
    {
        Item address = Pop();
        _stack.Push(LoadFrom(address, t));
    }

    private void StInd(Type t)
    {
        Item value = Pop();
        Item address = Pop();
        StoreTo(address, t, value);
    }

    // ---------------------------------------------------------------- fields

    private FieldInfo ResolveField(Frame f, IlInstr ins)
    {
        try
        {
            return f.Method.Module.ResolveField((int)ins.Int, f.TypeArgs, f.MethodArgs)!;
        }
        catch (Exception e) when (e is ArgumentException or BadImageFormatException)
        {
            throw Error($"a field token that cannot be resolved ({e.Message})");
        }
    }

    private Type ResolveType(Frame f, IlInstr ins)
    {
        try
        {
            return f.Method.Module.ResolveType((int)ins.Int, f.TypeArgs, f.MethodArgs);
        }
        catch (Exception e) when (e is ArgumentException or BadImageFormatException)
        {
            throw Error($"a type token that cannot be resolved ({e.Message})");
        }
    }

    private FieldSlot Slot(FieldInfo field)
    {
        Type owner = field.DeclaringType!;
        if (!owner.IsValueType)
        {
            throw Error($"the field {owner.Name}.{field.Name} of the class {owner.Name}", "Kernels use structs only.");
        }
        TypeLayout layout = Layout(owner);
        foreach (var (fi, slot) in layout.Fields)
        {
            if (fi.MetadataToken == field.MetadataToken && fi.Module == field.Module)
            {
                return slot;
            }
        }
        throw Error($"the field {owner.Name}.{field.Name}, which is not part of its struct's layout");
    }

    private void LdFld(Frame f, IlInstr ins)
    {
        FieldInfo field = ResolveField(f, ins);
        if (field.IsStatic)
        {
            LdSFld(f, ins);
            return;
        }
        FieldSlot slot = Slot(field);
        Item source = Pop();
        switch (source)
        {
            case StructItem st:
                _stack.Push(MakeValue(slot.FieldType, st.Leaves.Skip(slot.FirstLeaf).Take(slot.LeafCount).ToArray()));
                return;
            case RefItem r:
                _stack.Push(MakeValue(slot.FieldType, ReadLeaves(r.Leaves.Skip(slot.FirstLeaf).Take(slot.LeafCount).ToArray())));
                return;
            case DynamicRefItem d:
                _stack.Push(LoadFrom(FieldOf(d, slot), slot.FieldType));
                return;
            case ScalarItem { Value.Type: IrType.Ptr } p:
                _stack.Push(LoadFrom(new ScalarItem(Offset(p.Value, slot.Offset)), slot.FieldType));
                return;
            default:
                throw Error($"a field load ({field.Name}) from something that is not a struct");
        }
    }

    private void LdFldA(Frame f, IlInstr ins)
    {
        FieldInfo field = ResolveField(f, ins);
        FieldSlot slot = Slot(field);
        Item source = Pop();
        switch (source)
        {
            case RefItem r:
                _stack.Push(new RefItem(slot.FieldType, r.Leaves.Skip(slot.FirstLeaf).Take(slot.LeafCount).ToArray()));
                return;
            case DynamicRefItem d:
                _stack.Push(FieldOf(d, slot));
                return;
            case ScalarItem { Value.Type: IrType.Ptr } p:
                Push(Offset(p.Value, slot.Offset), slot.FieldType);
                return;
            default:
                throw Error($"the address of a field ({field.Name}) of a temporary");
        }
    }

    private static DynamicRefItem FieldOf(DynamicRefItem d, FieldSlot slot) =>
        new(slot.FieldType, d.Elements.Select(e => e.Skip(slot.FirstLeaf).Take(slot.LeafCount).ToArray()).ToArray(), d.Index);

    private void StFld(Frame f, IlInstr ins)
    {
        FieldInfo field = ResolveField(f, ins);
        if (field.IsStatic)
        {
            throw Error($"a store to the static field {field.DeclaringType?.Name}.{field.Name}", Hint(OpCodes.Stsfld));
        }
        FieldSlot slot = Slot(field);
        Item value = Pop();
        Item target = Pop();
        Value[] leaves = Leaves(value, slot.FieldType);
        switch (target)
        {
            case RefItem r:
                WriteLeaves(r.Leaves.Skip(slot.FirstLeaf).Take(slot.LeafCount).ToArray(), leaves);
                return;
            case DynamicRefItem d:
                StoreTo(FieldOf(d, slot), slot.FieldType, value);
                return;
            case ScalarItem { Value.Type: IrType.Ptr } p:
                StoreTo(new ScalarItem(Offset(p.Value, slot.Offset)), slot.FieldType, value);
                return;
            default:
                throw Error($"a field store ({field.Name}) into something that is not a struct address");
        }
    }

    private void LdSFld(Frame f, IlInstr ins)
    {
        FieldInfo field = ResolveField(f, ins);
        if (!field.IsInitOnly && !field.IsLiteral)
        {
            throw Error($"a load of the mutable static field {field.DeclaringType?.Name}.{field.Name}",
                "Only static readonly fields of primitive type are read (as constants); pass other values as parameters.");
        }
        object? value = field.GetValue(null);
        Type t = field.FieldType;
        if (TypeLayout.Scalar(t) is not MemType m || m == MemType.Ptr)
        {
            throw Error($"a load of the static readonly field {field.DeclaringType?.Name}.{field.Name} of type {t.Name}",
                "Only primitive static readonly fields become constants.");
        }
        Push(ConstantOf(value!, t));
    }

    private static Constant ConstantOf(object value, Type t)
    {
        if (t.IsEnum)
        {
            t = Enum.GetUnderlyingType(t);
            value = System.Convert.ChangeType(value, t, System.Globalization.CultureInfo.InvariantCulture);
        }
        return value switch
        {
            bool x => Constant.Int(x ? 1 : 0),
            sbyte x => Constant.Int(x),
            byte x => Constant.Int(x),
            short x => Constant.Int(x),
            ushort x => Constant.Int(x),
            char x => Constant.Int(x),
            int x => Constant.Int(x),
            uint x => Constant.Int((int)x),
            long x => Constant.Long(x),
            ulong x => Constant.Long((long)x),
            nint x => Constant.Long(x),
            nuint x => Constant.Long((long)x),
            float x => Constant.Float(x),
            double x => Constant.Double(x),
            _ => throw new InvalidOperationException(t.Name),
        };
    }

    // ---------------------------------------------------------------- return

    private void Return(Frame f)
    {
        Item? value = f.ReturnType == typeof(void) ? null : Pop();
        if (f.Direct)
        {
            f.DirectReturn = value is null ? null : NormalizeReturn(f, value);
            return;
        }
        if (f.Continuation is null)
        {
            _b.Ret();
            return;
        }
        if (value is not null)
        {
            if (f.ReturnType.IsByRef)
            {
                switch (value)
                {
                    case RefItem r:
                        if (f.ReturnFixed is RefItem old && !old.SameAs(r))
                        {
                            throw Error("a method returning references to different locals");
                        }
                        f.ReturnFixed = r;
                        break;
                    case ScalarItem s:
                        _b.Write(f.ReturnVars![0], Coerce(s.Value, IrType.Ptr));
                        break;
                    default:
                        throw Error("a by-reference return of a value");
                }
            }
            else
            {
                WriteLeaves(f.ReturnVars!, Leaves(value, f.ReturnType));
            }
        }
        _b.Br(f.Continuation);
    }

    private Item NormalizeReturn(Frame f, Item value) => f.ReturnType.IsByRef || value is RefItem
        ? value
        : MakeValue(f.ReturnType, Leaves(value, f.ReturnType));
}
