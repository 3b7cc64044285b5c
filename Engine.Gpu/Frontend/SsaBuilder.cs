using Engine.Gpu.IR;

namespace Engine.Gpu.Frontend;

/// <summary>
/// SSA construction after Braun et al., "Simple and Efficient Construction of Static Single Assignment
/// Form" (CC 2013): variables are read and written per block while the IL is walked, phis appear on
/// demand, and a block is sealed once all its predecessors are known. Trivial phis are left for
/// <see cref="Passes"/> to remove. Instructions are folded as they are emitted, so constants from
/// generic type arguments reach branches and loop bounds before anything else looks at them.
/// </summary>
internal sealed class SsaBuilder
{
    private sealed class BlockState
    {
        public readonly Dictionary<Var, Value> Defs = [];
        public readonly Dictionary<Var, Phi> Incomplete = [];
        public bool Sealed;
        public int Expected;
        public int Arrived;
    }

    private readonly Dictionary<Block, BlockState> _state = [];
    private int _nextBlock;

    public SsaBuilder(Function function) => Function = function;

    public Function Function { get; }

    /// <summary>The block instructions are appended to.</summary>
    public Block Current { get; set; } = null!;

    /// <summary>The source location stamped on emitted instructions.</summary>
    public SourceLoc? Loc { get; set; }

    /// <summary>A new block that seals itself once <paramref name="expectedPreds"/> edges have arrived.</summary>
    public Block NewBlock(int expectedPreds)
    {
        var b = new Block(_nextBlock++);
        Function.Blocks.Add(b);
        _state[b] = new BlockState { Expected = expectedPreds };
        if (expectedPreds == 0)
        {
            // Nothing will ever branch here (an entry, or code after a folded branch): seal right away.
            _state[b].Sealed = true;
        }
        return b;
    }

    public bool IsTerminated => Current.Terminator is not null;

    public void Write(Var v, Value value) => _state[Current].Defs[v] = value;

    public Value Read(Var v) => Read(v, Current);

    private Value Read(Var v, Block b)
    {
        BlockState s = _state[b];
        return s.Defs.TryGetValue(v, out Value? value) ? value : ReadRecursive(v, b, s);
    }

    private Value ReadRecursive(Var v, Block b, BlockState s)
    {
        Value value;
        if (!s.Sealed)
        {
            var phi = new Phi(v.Type, b);
            b.Phis.Add(phi);
            s.Incomplete[v] = phi;
            value = phi;
        }
        else if (b.Preds.Count == 1)
        {
            value = Read(v, b.Preds[0]);
        }
        else if (b.Preds.Count == 0)
        {
            value = Constant.Zero(v.Type); // Unreachable code or a read before any write: zero, like localsinit.
        }
        else
        {
            var phi = new Phi(v.Type, b);
            b.Phis.Add(phi);
            s.Defs[v] = phi;
            AddPhiOperands(v, phi);
            value = phi;
        }
        s.Defs[v] = value;
        return value;
    }

    private void AddPhiOperands(Var v, Phi phi)
    {
        foreach (Block pred in phi.Block.Preds)
        {
            phi.Args.Add(Read(v, pred));
        }
    }

    public void Seal(Block b)
    {
        BlockState s = _state[b];
        if (s.Sealed)
        {
            return;
        }
        s.Sealed = true;
        foreach (var (v, phi) in s.Incomplete)
        {
            AddPhiOperands(v, phi);
        }
        s.Incomplete.Clear();
    }

    private void AddEdge(Block from, Block to)
    {
        to.Preds.Add(from);
        BlockState s = _state[to];
        if (s.Sealed)
        {
            throw new InvalidOperationException($"edge {from} -> {to} added after {to} was sealed");
        }
        if (++s.Arrived == s.Expected)
        {
            Seal(to);
        }
    }

    public Instr Emit(Op op, IrType type, Value[] args, long imm = 0, int imm2 = 0)
    {
        var i = new Instr(op, type, args, imm, imm2) { Block = Current, Loc = Loc };
        Current.Body.Add(i);
        return i;
    }

    /// <summary>Emits an instruction, or returns its value when every operand is a constant.</summary>
    public Value Value(Op op, IrType type, Value[] args, long imm = 0)
    {
        if (args.All(a => a is Constant) && TryFold(op, type, imm, args) is { } folded)
        {
            return folded;
        }
        return Emit(op, type, args, imm);
    }

    private static Constant? TryFold(Op op, IrType type, long imm, Value[] args)
    {
        long A(int k) => ((Constant)args[k]).Bits;
        switch (op)
        {
            case Op.Add or Op.Sub or Op.Mul or Op.Div or Op.DivUn or Op.Rem or Op.RemUn or Op.And or Op.Or or Op.Xor
                or Op.Shl or Op.Shr or Op.ShrUn when type != IrType.Ptr:
                return Semantics.TryBinary(op, type, A(0), A(1), out long r) ? new Constant(type, r) : null;
            case Op.Neg or Op.Not:
                return new Constant(type, Semantics.Unary(op, type, A(0)));
            case Op.Cmp:
                return Constant.Int(Semantics.Compare((CmpKind)imm, args[0].Type, A(0), A(1)) ? 1 : 0);
            case Op.Conv when type != IrType.Ptr && args[0].Type != IrType.Ptr:
                return new Constant(type, Semantics.Convert((ConvKind)imm, args[0].Type, A(0)));
            case Op.Math:
                return Semantics.TryMath((MathFn)imm, args[0].Type, A(0), args.Length > 1 ? A(1) : 0,
                    args.Length > 2 ? A(2) : 0, out long m) ? new Constant(type, m) : null;
            case Op.Select:
                return (Constant)(A(0) != 0 ? args[1] : args[2]);
            default:
                return null;
        }
    }

    public void Br(Block target)
    {
        Terminate(new Instr(Op.Br, IrType.Void, []) { Targets = [target] });
    }

    public void CondBr(Value cond, Block ifTrue, Block ifFalse)
    {
        if (cond is Constant c)
        {
            // A branch on a constant (often a generic type argument's value) keeps one edge only; the
            // other target may become unreachable and is removed by a later pass.
            Br(c.Bits != 0 ? ifTrue : ifFalse);
            return;
        }
        Terminate(new Instr(Op.CondBr, IrType.Void, [cond]) { Targets = [ifTrue, ifFalse] });
    }

    public void Switch(Value value, Block[] targets)
    {
        if (value is Constant c)
        {
            Br((ulong)c.I32 < (ulong)(targets.Length - 1) ? targets[c.I32] : targets[^1]);
            return;
        }
        Terminate(new Instr(Op.Switch, IrType.Void, [value]) { Targets = targets });
    }

    public void Ret() => Terminate(new Instr(Op.Ret, IrType.Void, []));

    private void Terminate(Instr t)
    {
        t.Block = Current;
        t.Loc = Loc;
        Current.Terminator = t;
        foreach (Block target in t.Targets)
        {
            AddEdge(Current, target);
        }
    }

    /// <summary>Seals every block still open; called when no more edges can appear.</summary>
    public void SealAll(IEnumerable<Block> blocks)
    {
        foreach (Block b in blocks)
        {
            Seal(b);
        }
    }
}
