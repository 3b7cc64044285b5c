namespace Engine.Gpu.IR;

/// <summary>
/// Checks the invariants every pass relies on: block structure, predecessor lists, phi arity, operand
/// types and that every use is dominated by its definition. A failure is a compiler bug, reported with
/// the printed function.
/// </summary>
internal static class Verifier
{
    public static void Verify(Function f, string afterPass)
    {
        List<string> errors = [];
        f.Renumber();
        var blockSet = new HashSet<Block>(f.Blocks);
        var defBlock = new Dictionary<Value, Block>();
        var defIndex = new Dictionary<Value, int>();
        if (f.Entry.Preds.Count != 0)
        {
            errors.Add("the entry block has predecessors");
        }
        foreach (Block b in f.Blocks)
        {
            if (b.Terminator is null)
            {
                errors.Add($"{b} has no terminator");
                continue;
            }
            foreach (Phi p in b.Phis)
            {
                defBlock[p] = b;
                defIndex[p] = -1;
                if (p.Block != b)
                {
                    errors.Add($"phi %{p.Id} is listed in {b} but belongs to {p.Block}");
                }
                if (p.Args.Count != b.Preds.Count)
                {
                    errors.Add($"phi %{p.Id} in {b} has {p.Args.Count} operands for {b.Preds.Count} predecessors");
                }
            }
            for (int k = 0; k < b.Body.Count; k++)
            {
                defBlock[b.Body[k]] = b;
                defIndex[b.Body[k]] = k;
                if (b.Body[k].Op.IsTerminator())
                {
                    errors.Add($"terminator {b.Body[k].Op} inside the body of {b}");
                }
            }
            defBlock[b.Terminator] = b;
            defIndex[b.Terminator] = b.Body.Count;
            foreach (Block s in b.Terminator.Targets)
            {
                if (!blockSet.Contains(s))
                {
                    errors.Add($"{b} branches to {s}, which is not in the function");
                }
                else if (s.Preds.Count(p => p == b) != b.Terminator.Targets.Count(t => t == s))
                {
                    errors.Add($"{s}'s predecessor list disagrees with the edges from {b}");
                }
            }
            foreach (Block p in b.Preds)
            {
                if (!blockSet.Contains(p) || !p.Succs.Contains(b))
                {
                    errors.Add($"{b} lists predecessor {p}, which does not branch to it");
                }
            }
        }
        if (errors.Count == 0)
        {
            Dictionary<Block, Block?> idom = Dominators.Compute(f);
            foreach (Block b in f.Blocks)
            {
                if (!idom.ContainsKey(b))
                {
                    continue; // Unreachable blocks are removed by a pass; they cannot break dominance.
                }
                foreach (Phi p in b.Phis)
                {
                    for (int k = 0; k < p.Args.Count; k++)
                    {
                        CheckUse(p.Args[k], b.Preds[k], int.MaxValue, $"phi %{p.Id}");
                        if (p.Args[k].Type != p.Type)
                        {
                            errors.Add($"phi %{p.Id} ({p.Type}) has operand {Printer.Name(p.Args[k])} of type {p.Args[k].Type}");
                        }
                    }
                }
                for (int k = 0; k <= b.Body.Count; k++)
                {
                    Instr i = k < b.Body.Count ? b.Body[k] : b.Terminator!;
                    foreach (Value a in i.Args)
                    {
                        CheckUse(a, b, k, Printer.Format(i));
                    }
                    CheckTypes(i);
                }
            }

            void CheckUse(Value v, Block useBlock, int useIndex, string user)
            {
                switch (v)
                {
                    case Constant:
                        return;
                    case Parameter p when f.Params.Contains(p):
                        return;
                    case Parameter:
                        errors.Add($"{user} uses a parameter of another function");
                        return;
                }
                if (!defBlock.TryGetValue(v, out Block? db))
                {
                    errors.Add($"{user} uses %{v.Id}, which is not defined in the function");
                    return;
                }
                bool ok = db == useBlock ? defIndex[v] < useIndex : Dominators.Dominates(idom, db, useBlock);
                if (!ok)
                {
                    errors.Add($"{user} in {useBlock} uses %{v.Id}, whose definition in {db} does not dominate it");
                }
            }
        }
        if (errors.Count > 0)
        {
            throw new InvalidOperationException(
                $"IR verification failed after {afterPass} in {f.Name}:\n  " + string.Join("\n  ", errors.Take(20)) +
                "\n" + Printer.Print(f));
        }

        void CheckTypes(Instr i)
        {
            Value[] a = i.Args;
            string? problem = i.Op switch
            {
                Op.Add or Op.Sub or Op.Mul or Op.Div or Op.Rem or Op.DivUn or Op.RemUn or Op.And or Op.Or or Op.Xor =>
                    a.Length == 2 && a[0].Type == i.Type && a[1].Type == i.Type ? null : "operands must match the result type",
                Op.Shl or Op.Shr or Op.ShrUn =>
                    a.Length == 2 && a[0].Type == i.Type && a[1].Type.IsInt() ? null : "shift operands",
                Op.Neg or Op.Not => a.Length == 1 && a[0].Type == i.Type ? null : "unary operand type",
                Op.Cmp => a.Length == 2 && a[0].Type == a[1].Type && i.Type == IrType.I32 ? null : "compare operand types",
                Op.Load => a.Length == 1 && a[0].Type == IrType.Ptr && i.Type == ((MemType)i.Imm).StackType() ? null : "load types",
                Op.Store => a.Length == 2 && a[0].Type == IrType.Ptr && a[1].Type == ((MemType)i.Imm).StackType() ? null : "store types",
                Op.PtrAdd => a.Length == 2 && a[0].Type == IrType.Ptr && a[1].Type == IrType.I64 && i.Type == IrType.Ptr ? null : "ptradd types",
                Op.ViewElement => a.Length == 3 && a[0].Type == IrType.Ptr && a[1].Type == IrType.I32 && a[2].Type == IrType.I32 ? null : "view element operands",
                Op.CondBr => a.Length == 1 && i.Targets.Length == 2 ? null : "condbr shape",
                Op.Br => a.Length == 0 && i.Targets.Length == 1 ? null : "br shape",
                Op.Switch => a.Length == 1 && a[0].Type == IrType.I32 && i.Targets.Length >= 1 ? null : "switch shape",
                Op.Mma => a.Length == 10 && a.Take(6).All(x => x.Type == IrType.I32) && a.Skip(6).All(x => x.Type == IrType.F32) && i.Type == IrType.F32 ? null : "mma operands",
                Op.Part => a.Length == 1 && a[0] is Instr { Op: Op.Mma or Op.LoadMatrix } source && i.Imm >= 1
                    && i.Imm < (source.Op == Op.Mma ? 4 : source.Imm & 7) && i.Type == source.Type ? null : "a part must read an existing result of an mma or ldmatrix",
                Op.LoadMatrix => a.Length == 1 && a[0].Type == IrType.Ptr && (i.Imm & 7) is 1 or 2 or 4 && i.Type == IrType.I32 ? null : "ldmatrix operands",
                Op.CopyAsync => a.Length == 2 && a[0].Type == IrType.Ptr && a[1].Type == IrType.Ptr && i.Imm is 4 or 8 or 16 ? null : "cp.async operands",
                Op.Select => a.Length == 3 && a[1].Type == i.Type && a[2].Type == i.Type ? null : "select operand types",
                _ => null,
            };
            if (problem is not null)
            {
                errors.Add($"{Printer.Format(i)}: {problem}");
            }
        }
    }
}

/// <summary>Immediate dominators (Cooper, Harvey and Kennedy's iterative algorithm).</summary>
internal static class Dominators
{
    public static Dictionary<Block, Block?> Compute(Function f)
    {
        List<Block> rpo = ReversePostorder(f);
        var order = new Dictionary<Block, int>();
        for (int k = 0; k < rpo.Count; k++)
        {
            order[rpo[k]] = k;
        }
        var idom = new Dictionary<Block, Block?> { [f.Entry] = f.Entry };
        bool changed = true;
        while (changed)
        {
            changed = false;
            foreach (Block b in rpo.Skip(1))
            {
                Block? best = null;
                foreach (Block p in b.Preds)
                {
                    if (!idom.ContainsKey(p))
                    {
                        continue;
                    }
                    best = best is null ? p : Intersect(p, best);
                }
                if (best is not null && (!idom.TryGetValue(b, out Block? old) || old != best))
                {
                    idom[b] = best;
                    changed = true;
                }
            }
        }
        idom[f.Entry] = null;
        return idom;

        Block Intersect(Block x, Block y)
        {
            while (x != y)
            {
                while (order[x] > order[y])
                {
                    x = idom[x]!;
                }
                while (order[y] > order[x])
                {
                    y = idom[y]!;
                }
            }
            return x;
        }
    }

    public static bool Dominates(Dictionary<Block, Block?> idom, Block a, Block b)
    {
        for (Block? x = b; x is not null; x = idom.GetValueOrDefault(x))
        {
            if (x == a)
            {
                return true;
            }
        }
        return false;
    }

    public static List<Block> ReversePostorder(Function f)
    {
        var seen = new HashSet<Block>();
        var post = new List<Block>();
        var stack = new Stack<(Block Block, int Next)>();
        stack.Push((f.Entry, 0));
        seen.Add(f.Entry);
        while (stack.Count > 0)
        {
            var (b, next) = stack.Pop();
            Block[] succs = b.Terminator?.Targets ?? [];
            if (next < succs.Length)
            {
                stack.Push((b, next + 1));
                if (seen.Add(succs[next]))
                {
                    stack.Push((succs[next], 0));
                }
            }
            else
            {
                post.Add(b);
            }
        }
        post.Reverse();
        return post;
    }
}
