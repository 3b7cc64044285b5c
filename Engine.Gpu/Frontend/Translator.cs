using System.Reflection;
using System.Reflection.Emit;
using Engine.Gpu.IR;

namespace Engine.Gpu.Frontend;

/// <summary>
/// Translates a kernel's IL, and every method it calls, into one SSA function. Calls are inlined as they
/// are met; structs are kept as their scalar leaves; addresses of locals exist only at compile time.
/// Anything outside the kernel language stops translation with a <see cref="KernelCompilationException"/>.
/// </summary>
internal sealed partial class Translator
{
    private const int MaxInlineDepth = 64;

    /// <summary>One method being translated (the kernel, or an inlined callee).</summary>
    private sealed class Frame
    {
        public required MethodBase Method;
        public required string Name;
        public required IlCfg Cfg;
        public required Type[] TypeArgs;
        public required Type[] MethodArgs;
        public required Type[] ArgTypes;
        public required Item?[] FixedArgs;
        public required Var[]?[] ArgVars;
        public required Type[] LocalTypes;
        public required Var[]?[] LocalVars;
        public required Item?[] FixedLocals;
        public Block[] IrBlocks = [];
        public readonly Dictionary<(IlBlock Block, int Depth, int Leaf), Var> StackVars = [];
        public readonly Dictionary<IlBlock, Item[]> EntryShapes = [];
        public Type ReturnType = typeof(void);
        public Var[]? ReturnVars;
        public Item? ReturnFixed;
        public Block? Continuation;
        /// <summary>Single-block callees return their value here instead of branching.</summary>
        public Item? DirectReturn;
        public bool Direct;
        public IlInstr Current = null!;
    }

    private readonly SsaBuilder _b;
    private readonly List<Frame> _frames = [];
    private readonly Stack<Item> _stack = new();
    private int _tempCount;

    private Translator(Function f) => _b = new SsaBuilder(f);

    public bool UsesCollectives { get; private set; }

    public static (Function Function, bool UsesCollectives) Translate(MethodInfo kernel)
    {
        string name = MethodName(kernel);
        if (!kernel.IsStatic)
        {
            throw new KernelCompilationException(name, 0, "an instance method as a kernel", "Kernels are static methods.");
        }
        if (kernel.ReturnType != typeof(void))
        {
            throw new KernelCompilationException(name, 0, $"a kernel returning {kernel.ReturnType.Name}", "Kernels return void; write results to an ArrayView.");
        }
        if (kernel.ContainsGenericParameters)
        {
            throw new KernelCompilationException(name, 0, "an open generic kernel", "Instantiate it (MyKernel<Config>) before loading it.");
        }
        var function = new Function(name);
        var t = new Translator(function);
        t.TranslateKernel(kernel);
        return (function, t.UsesCollectives);
    }

    private void TranslateKernel(MethodInfo kernel)
    {
        Block entry = _b.NewBlock(0);
        _b.Current = entry;
        ParameterInfo[] ps = kernel.GetParameters();
        var args = new Item[ps.Length];
        for (int k = 0; k < ps.Length; k++)
        {
            Type pt = ps[k].ParameterType;
            if (pt.IsByRef)
            {
                throw new KernelCompilationException(MethodName(kernel), 0, $"the by-reference kernel parameter '{ps[k].Name}'", "Pass an ArrayView instead.");
            }
            TypeLayout layout = Layout(pt, 0, MethodName(kernel));
            var leaves = new Value[layout.Leaves.Length];
            for (int l = 0; l < leaves.Length; l++)
            {
                var p = new Parameter(layout.Leaves[l].Type, _b.Function.Params.Count, layout.Leaves.Length == 1 ? ps[k].Name ?? $"arg{k}" : $"{ps[k].Name}.{l}")
                {
                    // The launch refuses a misaligned view of 16-byte elements (KernelArguments), so its pointer leaf is 16-aligned.
                    Alignment = l == 0 && KernelArguments.RequiredAlignment(pt) is int align ? align : 0,
                };
                _b.Function.Params.Add(p);
                leaves[l] = p;
            }
            args[k] = MakeValue(pt, leaves);
        }
        Inline(kernel, args);
        if (!_b.IsTerminated)
        {
            _b.Ret();
        }
    }

    // ---------------------------------------------------------------- inlining

    private Item? Inline(MethodBase method, Item[] args)
    {
        // The callee has its own evaluation stack; the caller's resumes after the call.
        Item[] callerStack = _stack.ToArray();
        _stack.Clear();
        try
        {
            return InlineBody(method, args);
        }
        finally
        {
            _stack.Clear();
            for (int k = callerStack.Length - 1; k >= 0; k--)
            {
                _stack.Push(callerStack[k]);
            }
        }
    }

    private Item? InlineBody(MethodBase method, Item[] args)
    {
        string name = MethodName(method);
        if (_frames.Any(f => f.Method == method))
        {
            throw Error($"a recursive call of {name}", "Kernels cannot recurse; rewrite it as a loop.");
        }
        if (_frames.Count >= MaxInlineDepth)
        {
            throw Error($"inlining deeper than {MaxInlineDepth} calls at {name}");
        }
        MethodBody body = method.GetMethodBody()
            ?? throw Error($"a call of {name}, which has no IL body (an extern, runtime or abstract method)");
        if (body.ExceptionHandlingClauses.Count > 0)
        {
            var clause = body.ExceptionHandlingClauses[0];
            throw new KernelCompilationException(name, clause.TryOffset, $"an exception handler (try/{clause.Flags.ToString().ToLowerInvariant()})",
                "Kernels cannot catch or clean up after exceptions; remove the try block (using, lock and foreach over classes create one too).")
            { CallChain = Chain(name) };
        }
        byte[] il = body.GetILAsByteArray() ?? [];
        IlCfg cfg = IlCfg.Build(IlReader.Decode(il, name));
        Type[] typeArgs = method.DeclaringType?.IsGenericType == true ? method.DeclaringType.GetGenericArguments() : [];
        Type[] methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : [];

        ParameterInfo[] ps = method.GetParameters();
        bool hasThis = !method.IsStatic;
        int n = ps.Length + (hasThis ? 1 : 0);
        var argTypes = new Type[n];
        if (hasThis)
        {
            argTypes[0] = method.DeclaringType!.MakeByRefType();
        }
        for (int k = 0; k < ps.Length; k++)
        {
            argTypes[k + (hasThis ? 1 : 0)] = ps[k].ParameterType;
        }
        IList<LocalVariableInfo> locals = body.LocalVariables;
        var frame = new Frame
        {
            Method = method,
            Name = name,
            Cfg = cfg,
            TypeArgs = typeArgs,
            MethodArgs = methodArgs,
            ArgTypes = argTypes,
            FixedArgs = new Item?[n],
            ArgVars = new Var[]?[n],
            LocalTypes = locals.Select(l => Substitute(l.LocalType, typeArgs, methodArgs)).ToArray(),
            LocalVars = new Var[]?[locals.Count],
            FixedLocals = new Item?[locals.Count],
            ReturnType = method is MethodInfo mi ? mi.ReturnType : typeof(void),
        };
        _frames.Add(frame);
        frame.Current = cfg.Instrs.Count > 0 ? cfg.Instrs[0] : new IlInstr();

        // Arguments: by-reference ones are fixed items; values become variables written here.
        for (int k = 0; k < n; k++)
        {
            if (argTypes[k].IsByRef)
            {
                frame.FixedArgs[k] = args[k] is ScalarItem { Value.Type: IrType.I64 } s
                    ? new ScalarItem(_b.Value(Op.Conv, IrType.Ptr, [s.Value], (long)ConvKind.Bitcast), argTypes[k].GetElementType())
                    : args[k];
                continue;
            }
            Var[] vars = NewVars(argTypes[k], $"{method.Name}.a{k}");
            frame.ArgVars[k] = vars;
            WriteLeaves(vars, Leaves(args[k], argTypes[k]));
        }
        for (int k = 0; k < locals.Count; k++)
        {
            Type lt = frame.LocalTypes[k];
            if (lt.IsByRef)
            {
                continue;
            }
            if (locals[k].IsPinned)
            {
                throw Error($"a pinned local ('fixed' statement) in {name}");
            }
            if (TypeLayout.TryGet(lt, out _) is null)
            {
                // Reported when the local is used, so the message names the construct that made the
                // value (new, box, ldstr) rather than the local's declaration.
                continue;
            }
            Var[] vars = NewVars(lt, $"{method.Name}.l{k}");
            frame.LocalVars[k] = vars;
            foreach (Var v in vars)
            {
                _b.Write(v, Constant.Zero(v.Type));
            }
        }

        bool direct = cfg.Blocks.Count == 1 && cfg.Blocks[0].ReachablePredEdges == 0 && cfg.ReachableReturns == 1;
        frame.Direct = direct;
        if (direct)
        {
            TranslateBlock(frame, cfg.Blocks[0]);
            _frames.RemoveAt(_frames.Count - 1);
            return frame.DirectReturn;
        }

        // General case: the callee's blocks, entered by a branch, left through a continuation block.
        frame.IrBlocks = new Block[cfg.Blocks.Count];
        foreach (IlBlock ib in cfg.Order)
        {
            frame.IrBlocks[ib.Index] = _b.NewBlock(ib.ReachablePredEdges + (ib.Index == 0 ? 1 : 0));
        }
        bool isKernel = _frames.Count == 1;
        if (!isKernel)
        {
            frame.Continuation = _b.NewBlock(cfg.ReachableReturns);
            if (frame.ReturnType != typeof(void) && !frame.ReturnType.IsByRef)
            {
                frame.ReturnVars = NewVars(frame.ReturnType, $"{method.Name}.ret");
            }
            else if (frame.ReturnType.IsByRef)
            {
                frame.ReturnVars = [new Var(IrType.Ptr, $"{method.Name}.retref")];
            }
        }
        _b.Br(frame.IrBlocks[0]);
        foreach (IlBlock ib in cfg.Order)
        {
            _b.Current = frame.IrBlocks[ib.Index];
            if (_b.Current.Preds.Count == 0)
            {
                // Blocks are visited in reverse postorder, so a reachable block has been branched to by now
                // (a loop header from its entry): nothing did, because every branch here folded the other
                // way (a typeof test, a generic constant). Its IL is never translated, so code that only
                // other instantiations reach (unboxing, throwing) is never judged for this one.
                _b.Ret();
                continue;
            }
            TranslateBlock(frame, ib);
        }
        _b.SealAll(frame.IrBlocks.Where(x => x is not null));
        _frames.RemoveAt(_frames.Count - 1);
        if (isKernel)
        {
            return null;
        }
        _b.Current = frame.Continuation!;
        _b.Seal(frame.Continuation!);
        if (frame.ReturnType == typeof(void))
        {
            return null;
        }
        if (frame.ReturnFixed is not null)
        {
            return frame.ReturnFixed;
        }
        if (frame.ReturnType.IsByRef)
        {
            return new ScalarItem(_b.Read(frame.ReturnVars![0]), frame.ReturnType.GetElementType());
        }
        return MakeValue(frame.ReturnType, ReadLeaves(frame.ReturnVars!));
    }

    private void TranslateBlock(Frame f, IlBlock ib)
    {
        _stack.Clear();
        if (f.EntryShapes.TryGetValue(ib, out Item[]? shape))
        {
            for (int d = 0; d < shape.Length; d++)
            {
                _stack.Push(RestoreStackItem(f, ib, d, shape[d]));
            }
        }
        for (int k = ib.First; k <= ib.Last; k++)
        {
            if (_skipNext)
            {
                _skipNext = false;
                continue;
            }
            f.Current = f.Cfg.Instrs[k];
            _b.Loc = new SourceLoc(f.Name, f.Current.Offset);
            TranslateInstr(f, f.Current, ib);
            if (_b.IsTerminated)
            {
                return;
            }
        }
        if (f.Direct)
        {
            return; // The single block of a directly inlined callee ended with its ret.
        }
        // Fell off the end of the block into the next one.
        IlBlock next = ib.Succs.Single();
        SaveStack(f, ib);
        _b.Br(f.IrBlocks[next.Index]);
    }

    /// <summary>Values left on the IL stack at a block's end flow into its successors through variables.</summary>
    private void SaveStack(Frame f, IlBlock from)
    {
        if (_stack.Count == 0)
        {
            foreach (IlBlock s in from.Succs)
            {
                if (f.EntryShapes.TryGetValue(s, out Item[]? existing) && existing.Length != 0)
                {
                    throw Error("IL whose evaluation stack depth differs between branches");
                }
                f.EntryShapes[s] = [];
            }
            return;
        }
        Item[] items = _stack.Reverse().ToArray();
        foreach (IlBlock succ in from.Succs.Distinct())
        {
            for (int d = 0; d < items.Length; d++)
            {
                Value[] leaves = items[d] switch
                {
                    ScalarItem s => [s.Value],
                    StructItem st => st.Leaves,
                    _ => [],
                };
                for (int l = 0; l < leaves.Length; l++)
                {
                    if (!f.StackVars.TryGetValue((succ, d, l), out Var? v))
                    {
                        v = new Var(leaves[l].Type, $"stack{d}.{l}@IL_{succ.StartOffset:X4}");
                        f.StackVars[(succ, d, l)] = v;
                    }
                    _b.Write(v, Coerce(leaves[l], v.Type));
                }
            }
        }
        foreach (IlBlock s in from.Succs)
        {
            if (f.EntryShapes.TryGetValue(s, out Item[]? existing))
            {
                if (existing.Length != items.Length)
                {
                    throw Error("IL whose evaluation stack depth differs between branches");
                }
                for (int d = 0; d < items.Length; d++)
                {
                    bool compileTimeOnly = items[d] is RefItem or SpanItem or DynamicRefItem or TypeItem or BoxItem;
                    bool same = items[d] is RefItem r ? existing[d] is RefItem e && e.SameAs(r) : existing[d] == items[d];
                    if (compileTimeOnly && !same)
                    {
                        throw Error("a reference to a local that differs between branches (e.g. cond ? ref a : ref b)");
                    }
                }
                continue;
            }
            f.EntryShapes[s] = items;
        }
    }

    private Item RestoreStackItem(Frame f, IlBlock block, int depth, Item shape) => shape switch
    {
        RefItem or SpanItem or DynamicRefItem => shape,
        ScalarItem s => new ScalarItem(_b.Read(f.StackVars[(block, depth, 0)]), s.Pointee),
        StructItem st => new StructItem(st.Type, Enumerable.Range(0, st.Leaves.Length).Select(l => _b.Read(f.StackVars[(block, depth, l)])).ToArray()),
        _ => throw new InvalidOperationException(),
    };

    // ---------------------------------------------------------------- values, leaves and layouts

    private TypeLayout Layout(Type t, int offset = -1, string? method = null)
    {
        TypeLayout? layout = TypeLayout.TryGet(t, out string? reason);
        if (layout is null)
        {
            if (method is not null)
            {
                throw new KernelCompilationException(method, offset, reason!);
            }
            throw Error(reason!);
        }
        return layout;
    }

    private Var[] NewVars(Type t, string name)
    {
        TypeLayout layout = Layout(t);
        var vars = new Var[layout.Leaves.Length];
        for (int l = 0; l < vars.Length; l++)
        {
            vars[l] = new Var(layout.Leaves[l].Type, $"{name}.{l}");
        }
        return vars;
    }

    private void WriteLeaves(Var[] vars, Value[] values)
    {
        for (int l = 0; l < vars.Length; l++)
        {
            _b.Write(vars[l], Coerce(values[l], vars[l].Type));
        }
    }

    private Value[] ReadLeaves(Var[] vars) => vars.Select(_b.Read).ToArray();

    private Item MakeValue(Type t, Value[] leaves)
    {
        TypeLayout layout = Layout(t);
        if (layout.IsScalar)
        {
            return new ScalarItem(leaves[0], t.IsPointer ? t.GetElementType() : null);
        }
        return new StructItem(t, leaves);
    }

    /// <summary>The leaves of a value item, converted to <paramref name="t"/>'s leaf types.</summary>
    private Value[] Leaves(Item item, Type t)
    {
        TypeLayout layout = Layout(t);
        switch (item)
        {
            case ScalarItem s when layout.Leaves.Length == 1:
                return [Coerce(s.Value, layout.Leaves[0].Type)];
            case StructItem st when st.Leaves.Length == layout.Leaves.Length:
                return st.Leaves.Select((v, l) => Coerce(v, layout.Leaves[l].Type)).ToArray();
            case RefItem:
                throw Error($"a reference to a local stored as a value of type {TypeLayout.Describe(t)}");
            default:
                throw Error($"a value whose shape does not match its type {TypeLayout.Describe(t)}");
        }
    }

    /// <summary>Implicit IL stack conversions: int32 and native int, float and double, pointers and native int.</summary>
    private Value Coerce(Value v, IrType to)
    {
        if (v.Type == to)
        {
            return v;
        }
        return (v.Type, to) switch
        {
            (IrType.I32, IrType.I64) => _b.Value(Op.Conv, IrType.I64, [v], (long)ConvKind.ToI8),
            (IrType.I64, IrType.I32) => _b.Value(Op.Conv, IrType.I32, [v], (long)ConvKind.ToI4),
            (IrType.F32, IrType.F64) => _b.Value(Op.Conv, IrType.F64, [v], (long)ConvKind.ToR8),
            (IrType.F64, IrType.F32) => _b.Value(Op.Conv, IrType.F32, [v], (long)ConvKind.ToR4),
            (IrType.I64, IrType.Ptr) or (IrType.Ptr, IrType.I64) => _b.Value(Op.Conv, to, [v], (long)ConvKind.Bitcast),
            (IrType.I32, IrType.Ptr) => _b.Value(Op.Conv, IrType.Ptr, [_b.Value(Op.Conv, IrType.I64, [v], (long)ConvKind.ToU8)], (long)ConvKind.Bitcast),
            _ => throw Error($"a {v.Type} value used where a {to} is expected"),
        };
    }

    /// <summary>Loads the value at an address item: a reference to a local, or a pointer.</summary>
    private Item LoadFrom(Item address, Type t)
    {
        TypeLayout layout = Layout(t);
        switch (address)
        {
            case RefItem r:
                if (r.Leaves.Length != layout.Leaves.Length)
                {
                    throw Error($"a reinterpreting load of {TypeLayout.Describe(r.Type)} as {TypeLayout.Describe(t)} from a local");
                }
                return MakeValue(t, ReadLeaves(r.Leaves));
            case DynamicRefItem d:
                return MakeValue(t, SelectLeaves(d));
            case ScalarItem { Value.Type: IrType.Ptr or IrType.I64 } p:
            {
                Value ptr = Coerce(p.Value, IrType.Ptr);
                var leaves = new Value[layout.Leaves.Length];
                for (int l = 0; l < leaves.Length; l++)
                {
                    Leaf leaf = layout.Leaves[l];
                    leaves[l] = _b.Emit(Op.Load, leaf.Type, [Offset(ptr, leaf.Offset)], (long)leaf.Mem);
                }
                return MakeValue(t, leaves);
            }
            default:
                throw Error("a load through something that is not an address");
        }
    }

    private void StoreTo(Item address, Type t, Item value)
    {
        TypeLayout layout = Layout(t);
        Value[] leaves = Leaves(value, t);
        switch (address)
        {
            case RefItem r:
                if (r.Leaves.Length != leaves.Length)
                {
                    throw Error($"a reinterpreting store of {TypeLayout.Describe(t)} into a local of type {TypeLayout.Describe(r.Type)}");
                }
                WriteLeaves(r.Leaves, leaves);
                return;
            case DynamicRefItem d:
                StoreSelected(d, leaves);
                return;
            case ScalarItem { Value.Type: IrType.Ptr or IrType.I64 } p:
            {
                Value ptr = Coerce(p.Value, IrType.Ptr);
                for (int l = 0; l < leaves.Length; l++)
                {
                    Leaf leaf = layout.Leaves[l];
                    _b.Emit(Op.Store, IrType.Void, [Offset(ptr, leaf.Offset), leaves[l]], (long)leaf.Mem);
                }
                return;
            }
            default:
                throw Error("a store through something that is not an address");
        }
    }

    private Value Offset(Value ptr, long bytes) =>
        bytes == 0 ? ptr : _b.Emit(Op.PtrAdd, IrType.Ptr, [ptr, Constant.Long(bytes)]);

    private Item Pop()
    {
        Item item = PopAny();
        if (item is BoxItem boxed)
        {
            // Only unbox.any may take a boxed value (generic math's (T)(object)value); anything else
            // would need the object itself.
            throw Error($"boxing a value of type {TypeLayout.Describe(boxed.Type)} (box) and using the object",
                "Kernels have no objects: keep the value typed, or unbox it as its own type right away.");
        }
        return item;
    }

    /// <summary>Pops whatever is on top, a compile-time boxed value included.</summary>
    private Item PopAny() => _stack.Count > 0 ? _stack.Pop() : throw Error("an IL stack underflow");

    private Value PopValue()
    {
        Item item = Pop();
        return item switch
        {
            ScalarItem s => s.Value,
            StructItem st => throw Error($"a struct value of type {TypeLayout.Describe(st.Type)} used as a number"),
            _ => throw Error("a reference to a local used as a number (pointer arithmetic on locals)"),
        };
    }

    private void Push(Value v, Type? pointee = null) => _stack.Push(new ScalarItem(v, pointee));

    // ---------------------------------------------------------------- diagnostics

    private Frame Top => _frames[^1];

    private KernelCompilationException Error(string construct, string? hint = null)
    {
        Frame? f = _frames.Count > 0 ? Top : null;
        return new KernelCompilationException(f?.Name ?? _b.Function.Name, f?.Current.Offset ?? 0, construct, hint)
        {
            CallChain = _frames.Select(x => $"{x.Name} (IL_{x.Current.Offset:X4})").ToList(),
        };
    }

    private List<string> Chain(string callee) =>
        [.. _frames.Select(x => $"{x.Name} (IL_{x.Current.Offset:X4})"), callee];

    public static string MethodName(MethodBase m)
    {
        string type = m.DeclaringType is null ? "" : TypeLayout.Describe(m.DeclaringType) + ".";
        string generic = m.IsGenericMethod ? $"<{string.Join(", ", m.GetGenericArguments().Select(TypeLayout.Describe))}>" : "";
        return type + m.Name + generic;
    }

    private static Type Substitute(Type t, Type[] typeArgs, Type[] methodArgs)
    {
        if (!t.ContainsGenericParameters)
        {
            return t;
        }
        if (t.IsGenericParameter)
        {
            return t.DeclaringMethod is not null ? methodArgs[t.GenericParameterPosition] : typeArgs[t.GenericParameterPosition];
        }
        if (t.IsByRef)
        {
            return Substitute(t.GetElementType()!, typeArgs, methodArgs).MakeByRefType();
        }
        if (t.IsPointer)
        {
            return Substitute(t.GetElementType()!, typeArgs, methodArgs).MakePointerType();
        }
        if (t.IsArray)
        {
            return Substitute(t.GetElementType()!, typeArgs, methodArgs).MakeArrayType();
        }
        if (t.IsGenericType)
        {
            return t.GetGenericTypeDefinition().MakeGenericType(t.GetGenericArguments().Select(a => Substitute(a, typeArgs, methodArgs)).ToArray());
        }
        return t;
    }
}
