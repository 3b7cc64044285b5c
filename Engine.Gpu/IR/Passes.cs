namespace Engine.Gpu.IR;

/// <summary>The clean-up passes after SSA construction. Each keeps the function valid for the verifier.</summary>
internal static class Passes
{
    /// <summary>Removes blocks no path from the entry reaches, and their phi operands.</summary>
    public static void RemoveUnreachable(Function f)
    {
        var reachable = new HashSet<Block>(Dominators.ReversePostorder(f));
        foreach (Block b in f.Blocks)
        {
            if (!reachable.Contains(b))
            {
                continue;
            }
            for (int k = b.Preds.Count - 1; k >= 0; k--)
            {
                if (!reachable.Contains(b.Preds[k]))
                {
                    b.Preds.RemoveAt(k);
                    foreach (Phi phi in b.Phis)
                    {
                        phi.Args.RemoveAt(k);
                    }
                }
            }
        }
        // Keep the entry first and the remaining order (roughly the IL order) otherwise.
        f.Blocks.RemoveAll(b => !reachable.Contains(b));
    }

    /// <summary>
    /// Replaces phis whose operands are all one value (or the phi itself), until none is left, and
    /// rewrites every use. Braun et al. do this during construction; doing it once here is simpler and
    /// gives the same result.
    /// </summary>
    public static void RemoveTrivialPhis(Function f)
    {
        var replace = new Dictionary<Value, Value>();
        Value Resolve(Value v)
        {
            while (replace.TryGetValue(v, out Value? r))
            {
                v = r;
            }
            return v;
        }
        bool changed = true;
        while (changed)
        {
            changed = false;
            foreach (Block b in f.Blocks)
            {
                foreach (Phi phi in b.Phis)
                {
                    if (replace.ContainsKey(phi))
                    {
                        continue;
                    }
                    Value? same = null;
                    bool trivial = true;
                    foreach (Value a in phi.Args)
                    {
                        Value r = Resolve(a);
                        if (r == phi || r == same || (same is Constant c1 && r is Constant c2 && c1.Type == c2.Type && c1.Bits == c2.Bits))
                        {
                            continue;
                        }
                        if (same is not null)
                        {
                            trivial = false;
                            break;
                        }
                        same = r;
                    }
                    if (trivial)
                    {
                        replace[phi] = same ?? Constant.Zero(phi.Type);
                        changed = true;
                    }
                }
            }
        }
        if (replace.Count == 0)
        {
            return;
        }
        foreach (Block b in f.Blocks)
        {
            b.Phis.RemoveAll(replace.ContainsKey);
            foreach (Phi phi in b.Phis)
            {
                for (int k = 0; k < phi.Args.Count; k++)
                {
                    phi.Args[k] = Resolve(phi.Args[k]);
                }
            }
            foreach (Instr i in b.Body.Append(b.Terminator!))
            {
                for (int k = 0; k < i.Args.Length; k++)
                {
                    i.Args[k] = Resolve(i.Args[k]);
                }
            }
        }
    }

    /// <summary>Removes instructions and phis whose results nobody uses and that have no effect.</summary>
    public static void RemoveDeadCode(Function f)
    {
        var live = new HashSet<Value>();
        var work = new Stack<Value>();
        foreach (Block b in f.Blocks)
        {
            foreach (Instr i in b.Body.Append(b.Terminator!))
            {
                if (i.Op.HasSideEffects() && live.Add(i))
                {
                    work.Push(i);
                }
            }
        }
        while (work.Count > 0)
        {
            Value v = work.Pop();
            IEnumerable<Value> uses = v switch
            {
                Instr i => i.Args,
                Phi p => p.Args,
                _ => [],
            };
            foreach (Value u in uses)
            {
                if (u is Instr or Phi && live.Add(u))
                {
                    work.Push(u);
                }
            }
        }
        foreach (Block b in f.Blocks)
        {
            b.Phis.RemoveAll(p => !live.Contains(p));
            b.Body.RemoveAll(i => !live.Contains(i));
        }
    }

    /// <summary>
    /// Folds instructions whose operands became constant once trivial phis were removed, and branches
    /// on constants; returns true when anything changed.
    /// </summary>
    public static bool FoldConstants(Function f)
    {
        bool changed = false;
        var replace = new Dictionary<Value, Value>();
        foreach (Block b in Dominators.ReversePostorder(f))
        {
            foreach (Instr i in b.Body)
            {
                for (int k = 0; k < i.Args.Length; k++)
                {
                    if (replace.TryGetValue(i.Args[k], out Value? r))
                    {
                        i.Args[k] = r;
                    }
                }
                if (i.Op == Op.Select && i.Args[0] is Constant choice)
                {
                    replace[i] = choice.Bits != 0 ? i.Args[1] : i.Args[2];
                    changed = true;
                }
                else if (i.Args.Length > 0 && i.Args.All(a => a is Constant) && Fold(i) is { } c)
                {
                    replace[i] = c;
                    changed = true;
                }
            }
            Instr t = b.Terminator!;
            for (int k = 0; k < t.Args.Length; k++)
            {
                if (replace.TryGetValue(t.Args[k], out Value? r))
                {
                    t.Args[k] = r;
                }
            }
            if (t.Op == Op.CondBr && t.Args[0] is Constant cond)
            {
                Block keep = cond.Bits != 0 ? t.Targets[0] : t.Targets[1];
                Block drop = cond.Bits != 0 ? t.Targets[1] : t.Targets[0];
                if (keep != drop)
                {
                    RemoveEdge(b, drop);
                }
                else
                {
                    RemoveEdge(b, drop); // Both edges went to one block: keep exactly one of them.
                }
                t.Op = Op.Br;
                t.Args = [];
                t.Targets = [keep];
                changed = true;
            }
        }
        foreach (Block b in f.Blocks)
        {
            b.Body.RemoveAll(replace.ContainsKey);
            foreach (Phi p in b.Phis)
            {
                for (int k = 0; k < p.Args.Count; k++)
                {
                    if (replace.TryGetValue(p.Args[k], out Value? r))
                    {
                        p.Args[k] = r;
                    }
                }
            }
        }
        return changed;
    }

    private static void RemoveEdge(Block from, Block to)
    {
        int k = to.Preds.IndexOf(from);
        to.Preds.RemoveAt(k);
        foreach (Phi p in to.Phis)
        {
            p.Args.RemoveAt(k);
        }
    }

    private static Constant? Fold(Instr i)
    {
        long A(int k) => ((Constant)i.Args[k]).Bits;
        switch (i.Op)
        {
            case Op.Add or Op.Sub or Op.Mul or Op.Div or Op.DivUn or Op.Rem or Op.RemUn or Op.And or Op.Or or Op.Xor
                or Op.Shl or Op.Shr or Op.ShrUn when i.Type != IrType.Ptr:
                return Semantics.TryBinary(i.Op, i.Type, A(0), A(1), out long r) ? new Constant(i.Type, r) : null;
            case Op.Neg or Op.Not:
                return new Constant(i.Type, Semantics.Unary(i.Op, i.Type, A(0)));
            case Op.Cmp:
                return Constant.Int(Semantics.Compare((CmpKind)i.Imm, i.Args[0].Type, A(0), A(1)) ? 1 : 0);
            case Op.Conv when i.Type != IrType.Ptr && i.Args[0].Type != IrType.Ptr:
                return new Constant(i.Type, Semantics.Convert((ConvKind)i.Imm, i.Args[0].Type, A(0)));
            default:
                return null;
        }
    }

    /// <summary>
    /// Merges a block into its only predecessor when that predecessor branches nowhere else: the chains
    /// of blocks that inlining and folded branches leave behind become one block.
    /// </summary>
    public static void MergeBlocks(Function f)
    {
        var replace = new Dictionary<Value, Value>();
        bool merged = true;
        while (merged)
        {
            merged = false;
            foreach (Block a in f.Blocks)
            {
                if (a.Terminator is not { Op: Op.Br } br)
                {
                    continue;
                }
                Block b = br.Targets[0];
                if (b == a || b == f.Entry || b.Preds.Count != 1)
                {
                    continue;
                }
                foreach (Phi phi in b.Phis)
                {
                    replace[phi] = phi.Args[0];
                }
                foreach (Instr i in b.Body)
                {
                    i.Block = a;
                }
                a.Body.AddRange(b.Body);
                a.Terminator = b.Terminator;
                a.Terminator!.Block = a;
                foreach (Block s in b.Succs)
                {
                    for (int k = 0; k < s.Preds.Count; k++)
                    {
                        if (s.Preds[k] == b)
                        {
                            s.Preds[k] = a;
                        }
                    }
                }
                b.Phis.Clear();
                b.Body.Clear();
                b.Preds.Clear();
                b.Terminator = null;
                f.Blocks.Remove(b);
                merged = true;
                break;
            }
        }
        if (replace.Count == 0)
        {
            return;
        }
        Value Resolve(Value v)
        {
            while (replace.TryGetValue(v, out Value? r))
            {
                v = r;
            }
            return v;
        }
        foreach (Block b in f.Blocks)
        {
            foreach (Phi phi in b.Phis)
            {
                for (int k = 0; k < phi.Args.Count; k++)
                {
                    phi.Args[k] = Resolve(phi.Args[k]);
                }
            }
            foreach (Instr i in b.Body.Append(b.Terminator!))
            {
                for (int k = 0; k < i.Args.Length; k++)
                {
                    i.Args[k] = Resolve(i.Args[k]);
                }
            }
        }
    }

    /// <summary>
    /// Common-subexpression elimination over the dominator tree: a pure instruction equal to one in a
    /// dominating position (same operation, type, immediates and operands) is replaced by it. Loads
    /// are not pure (memory changes under them), nor is a shared allocation (each is its own memory).
    /// </summary>
    public static void EliminateCommonSubexpressions(Function f)
    {
        Dictionary<Block, Block?> idom = Dominators.Compute(f);
        var children = new Dictionary<Block, List<Block>>();
        foreach (var (b, parent) in idom)
        {
            if (parent is not null)
            {
                (children.TryGetValue(parent, out var list) ? list : children[parent] = []).Add(b);
            }
        }
        var available = new Dictionary<string, Value>();
        var replace = new Dictionary<Value, Value>();
        Value Resolve(Value v) => replace.TryGetValue(v, out Value? r) ? r : v;
        string Key(Value v) => v switch
        {
            Constant c => $"c{(int)c.Type}:{c.Bits}",
            _ => "v" + v.Id,
        };
        f.Renumber();
        var stack = new Stack<(Block Block, bool Exit, List<string>? Added)>();
        stack.Push((f.Entry, false, null));
        while (stack.Count > 0)
        {
            var (b, exit, added) = stack.Pop();
            if (exit)
            {
                foreach (string k in added!)
                {
                    available.Remove(k);
                }
                continue;
            }
            var mine = new List<string>();
            stack.Push((b, true, mine));
            foreach (Phi p in b.Phis)
            {
                for (int k = 0; k < p.Args.Count; k++)
                {
                    p.Args[k] = Resolve(p.Args[k]);
                }
            }
            foreach (Instr i in b.Body)
            {
                for (int k = 0; k < i.Args.Length; k++)
                {
                    i.Args[k] = Resolve(i.Args[k]);
                }
                if (i.Op.HasSideEffects() || i.Op is Op.Load or Op.SharedAlloc || i.Type == IrType.Void)
                {
                    continue;
                }
                string key = $"{i.Op}:{i.Type}:{i.Imm}:{i.Imm2}:{string.Join(",", i.Args.Select(Key))}";
                if (available.TryGetValue(key, out Value? existing))
                {
                    replace[i] = existing;
                }
                else
                {
                    available[key] = i;
                    mine.Add(key);
                }
            }
            Instr t = b.Terminator!;
            for (int k = 0; k < t.Args.Length; k++)
            {
                t.Args[k] = Resolve(t.Args[k]);
            }
            foreach (Block c in children.GetValueOrDefault(b) ?? [])
            {
                stack.Push((c, false, null));
            }
        }
        // Phis of blocks visited before the replaced value's user: one more sweep.
        foreach (Block b in f.Blocks)
        {
            foreach (Phi p in b.Phis)
            {
                for (int k = 0; k < p.Args.Count; k++)
                {
                    p.Args[k] = Resolve(p.Args[k]);
                }
            }
            b.Body.RemoveAll(replace.ContainsKey);
        }
    }

    /// <summary>The standard clean-up sequence, verified after every pass when <paramref name="verify"/> is set.</summary>
    public static void Run(Function f, bool verify)
    {
        void Step(Action<Function> pass, string name)
        {
            pass(f);
            if (verify)
            {
                Verifier.Verify(f, name);
            }
        }
        Step(RemoveUnreachable, "unreachable-block removal");
        for (int round = 0; round < 8; round++)
        {
            Step(RemoveTrivialPhis, "trivial-phi removal");
            // Folding a branch can leave blocks unreachable whose values phis of reachable blocks still
            // name through the dead edge; the IR is whole again once those blocks are gone, so the two
            // passes are verified as one step.
            bool changed = FoldConstants(f);
            RemoveUnreachable(f);
            if (verify)
            {
                Verifier.Verify(f, "constant folding and unreachable-block removal");
            }
            if (!changed)
            {
                break;
            }
        }
        Step(RemoveDeadCode, "dead-code elimination");
        Step(MergeBlocks, "block merging");
        Step(EliminateCommonSubexpressions, "common-subexpression elimination");
        for (int round = 0; round < 64 && Unroll.UnrollOne(f); round++)
        {
            if (verify)
            {
                Verifier.Verify(f, "loop unrolling");
            }
            Cleanup(f, verify);
        }
    }

    private static void Cleanup(Function f, bool verify)
    {
        void Step(Action<Function> pass, string name)
        {
            pass(f);
            if (verify)
            {
                Verifier.Verify(f, name);
            }
        }
        for (int round = 0; round < 8; round++)
        {
            Step(RemoveTrivialPhis, "trivial-phi removal");
            // Folding a branch can leave blocks unreachable whose values phis of reachable blocks still
            // name through the dead edge; the IR is whole again once those blocks are gone, so the two
            // passes are verified as one step.
            bool changed = FoldConstants(f);
            RemoveUnreachable(f);
            if (verify)
            {
                Verifier.Verify(f, "constant folding and unreachable-block removal");
            }
            if (!changed)
            {
                break;
            }
        }
        Step(RemoveDeadCode, "dead-code elimination");
        Step(MergeBlocks, "block merging");
        Step(EliminateCommonSubexpressions, "common-subexpression elimination");
    }
}
