namespace Engine.Gpu.IR;

/// <summary>
/// Full unrolling of loops whose trip count is a compile-time constant: a loop whose header tests an
/// induction variable (constant start, constant step) against a constant and which is left only from
/// its header. Each iteration becomes a copy of the loop body with the induction variable constant,
/// so register-array indices fold and the arrays stay in registers.
/// </summary>
internal static class Unroll
{
    public const int MaxTrips = 64;
    public const int MaxInstructions = 4096;
    public const int MaxFunctionSize = 32768;

    /// <summary>Unrolls one qualifying innermost loop; false when none qualifies.</summary>
    public static bool UnrollOne(Function f)
    {
        Dictionary<Block, Block?> idom = Dominators.Compute(f);
        foreach (Block header in f.Blocks)
        {
            // A back edge is an edge to a block that dominates its source.
            List<Block> latches = header.Preds.Where(p => Dominators.Dominates(idom, header, p)).ToList();
            if (latches.Count != 1 || header.Preds.Count != 2)
            {
                continue;
            }
            Block latch = latches[0];
            Block preheader = header.Preds.First(p => p != latch);
            HashSet<Block> body = LoopBlocks(header, latch);
            if (body.Any(b => b != header && b.Phis.Count > 0 && b.Preds.Any(p => !body.Contains(p))))
            {
                continue;
            }
            // Only the header leaves the loop and only the latch returns to it.
            if (body.Where(b => b != header).Any(b => b.Succs.Any(s => !body.Contains(s) || s == header && b != latch)))
            {
                continue;
            }
            if (header.Terminator is not { Op: Op.CondBr } branch || branch.Args[0] is not Instr { Op: Op.Cmp } cmp)
            {
                continue;
            }
            Block? exit = body.Contains(branch.Targets[0]) ? (body.Contains(branch.Targets[1]) ? null : branch.Targets[1]) : null;
            if (exit is null || !body.Contains(branch.Targets[0]) || branch.Targets[0] == header)
            {
                continue;
            }
            int trips = TripCount(header, latch, preheader, cmp);
            long size = body.Sum(b => b.Body.Count + b.Phis.Count + 1);
            long total = f.Blocks.Sum(b => b.Body.Count + b.Phis.Count + 1);
            if (trips < 0 || trips > MaxTrips || trips * size > MaxInstructions || total + trips * size > MaxFunctionSize)
            {
                continue;
            }
            Expand(f, header, latch, preheader, exit, body, trips);
            return true;
        }
        return false;
    }

    private static HashSet<Block> LoopBlocks(Block header, Block latch)
    {
        var blocks = new HashSet<Block> { header };
        var work = new Stack<Block>();
        if (blocks.Add(latch))
        {
            work.Push(latch);
        }
        while (work.Count > 0)
        {
            foreach (Block p in work.Pop().Preds)
            {
                if (blocks.Add(p))
                {
                    work.Push(p);
                }
            }
        }
        return blocks;
    }

    /// <summary>The number of times the body runs, or -1 when it is not a simple counted loop.</summary>
    private static int TripCount(Block header, Block latch, Block preheader, Instr cmp)
    {
        int iv = Array.FindIndex(cmp.Args, a => a is Phi p && p.Block == header);
        if (iv < 0 || cmp.Args[1 - iv] is not Constant bound)
        {
            return -1;
        }
        var phi = (Phi)cmp.Args[iv];
        if (phi.Type is not (IrType.I32 or IrType.I64))
        {
            return -1;
        }
        Value start = phi.Args[header.Preds.IndexOf(preheader)];
        Value next = phi.Args[header.Preds.IndexOf(latch)];
        if (start is not Constant init || next is not Instr { Op: Op.Add or Op.Sub or Op.Mul or Op.Shl or Op.Shr or Op.Div } step
            || step.Args[0] != phi || step.Args[1] is not Constant amount)
        {
            return -1;
        }
        var kind = (CmpKind)cmp.Imm;
        long value = init.Bits;
        for (int trips = 0; trips <= MaxTrips; trips++)
        {
            long a = iv == 0 ? value : bound.Bits, b = iv == 0 ? bound.Bits : value;
            if (!Semantics.Compare(kind, phi.Type, a, b))
            {
                return trips;
            }
            if (!Semantics.TryBinary(step.Op, phi.Type, value, amount.Bits, out value))
            {
                return -1;
            }
        }
        return -1;
    }

    private static void Expand(Function f, Block header, Block latch, Block preheader, Block exit, HashSet<Block> loop, int trips)
    {
        List<Block> order = f.Blocks.Where(loop.Contains).ToList();
        int latchIndex = header.Preds.IndexOf(latch);
        int entryIndex = header.Preds.IndexOf(preheader);
        // Values flowing into the header on each iteration: the preheader's first, then the previous copy's.
        var incoming = header.Phis.ToDictionary(p => p, p => p.Args[entryIndex]);
        Block from = preheader;
        var newBlocks = new List<Block>();
        Dictionary<Value, Value> map = [];
        for (int iteration = 0; iteration <= trips; iteration++)
        {
            bool last = iteration == trips;
            map = new Dictionary<Value, Value>();
            foreach (Phi p in header.Phis)
            {
                map[p] = incoming[p];
            }
            var blockMap = new Dictionary<Block, Block>();
            foreach (Block b in last ? [header] : order)
            {
                blockMap[b] = new Block(-1);
            }
            Value Map(Value v) => map.TryGetValue(v, out Value? m) ? m : v;
            foreach (Block b in last ? [header] : order)
            {
                Block copy = blockMap[b];
                newBlocks.Add(copy);
                if (b != header)
                {
                    foreach (Phi p in b.Phis)
                    {
                        var q = new Phi(p.Type, copy);
                        copy.Phis.Add(q);
                        map[p] = q;
                    }
                }
                foreach (Instr i in b.Body)
                {
                    var c = new Instr(i.Op, i.Type, i.Args.ToArray(), i.Imm, i.Imm2) { Block = copy, Loc = i.Loc };
                    copy.Body.Add(c);
                    map[i] = c;
                }
            }
            // Operands now that every copy exists (a phi may use a value defined later in the loop).
            foreach (Block b in last ? [header] : order)
            {
                Block copy = blockMap[b];
                foreach (Instr c in copy.Body)
                {
                    for (int k = 0; k < c.Args.Length; k++)
                    {
                        c.Args[k] = Map(c.Args[k]);
                    }
                }
                Instr t = b.Terminator!;
                Block[] targets;
                if (b == header)
                {
                    // The header's test is known on every copy: into the body, or out after the last trip.
                    targets = [last ? exit : blockMap[t.Targets[0]]];
                }
                else
                {
                    targets = t.Targets.Select(s => s == header ? null! : blockMap[s]).ToArray();
                }
                var nt = new Instr(targets.Length == 1 && b == header ? Op.Br : t.Op, IrType.Void,
                    b == header ? [] : t.Args.Select(Map).ToArray()) { Block = copy, Loc = t.Loc, Targets = targets };
                copy.Terminator = nt;
            }
            // Predecessors inside this copy.
            foreach (Block b in last ? [header] : order)
            {
                Block copy = blockMap[b];
                if (b == header)
                {
                    copy.Preds.Add(from);
                    continue;
                }
                foreach (Block p in b.Preds)
                {
                    copy.Preds.Add(blockMap[p]);
                }
                for (int k = 0; k < b.Phis.Count; k++)
                {
                    var q = (Phi)map[b.Phis[k]];
                    q.Args.AddRange(b.Phis[k].Args.Select(Map));
                }
            }
            // Point the previous copy's branch at this copy's header.
            Block headerCopy = blockMap[header];
            if (from == preheader)
            {
                Instr pt = preheader.Terminator!;
                pt.Targets = pt.Targets.Select(s => s == header ? headerCopy : s).ToArray();
            }
            else
            {
                from.Terminator!.Targets = from.Terminator.Targets.Select(s => s ?? headerCopy).ToArray();
            }
            if (!last)
            {
                Block latchCopy = blockMap[latch];
                foreach (Phi p in header.Phis)
                {
                    incoming[p] = Map(p.Args[latchIndex]);
                }
                from = latchCopy;
                // Its branch back to the header is patched when the next copy exists (null target above).
            }
            else
            {
                int k = exit.Preds.IndexOf(header);
                exit.Preds[k] = headerCopy;
            }
        }
        // Uses after the loop can only see header values (the header dominates the exit): the last copy's.
        foreach (Block b in f.Blocks.Where(b => !loop.Contains(b)))
        {
            foreach (Phi p in b.Phis)
            {
                for (int k = 0; k < p.Args.Count; k++)
                {
                    p.Args[k] = map.GetValueOrDefault(p.Args[k], p.Args[k]);
                }
            }
            foreach (Instr i in b.Body.Append(b.Terminator!))
            {
                for (int k = 0; k < i.Args.Length; k++)
                {
                    i.Args[k] = map.GetValueOrDefault(i.Args[k], i.Args[k]);
                }
            }
        }
        int at = f.Blocks.IndexOf(header);
        f.Blocks.RemoveAll(loop.Contains);
        f.Blocks.InsertRange(Math.Min(at, f.Blocks.Count), newBlocks);
    }
}
