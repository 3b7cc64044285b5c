using Engine.Gpu.IR;

namespace Engine.Gpu.Ptx;

/// <summary>
/// 128-bit vector accesses: the scalar leaves of a 16-byte element (four 32-bit or two 64-bit fields)
/// loaded or stored together where the address is provably 16-byte aligned become one
/// <c>ld.v4</c>/<c>st.v4</c> (or <c>.v2</c>) instead of four transactions.
/// </summary>
/// <remarks>
/// Alignment is proven only from where a pointer comes from: an element of a view whose element size
/// is a multiple of 16 whose base is a kernel parameter the launch checked (<see cref="Parameter.Alignment"/>)
/// or a shared allocation aligned to 16; constant offsets that are multiples of 16 keep it. Loads are
/// merged only when no store, atomic or barrier sits between them (nothing can change the memory in
/// between); stores only when no load or other memory operation sits between them (nothing can observe
/// the partial write), and the merged store is placed at the last one, where every value exists.
/// </remarks>
internal sealed partial class PtxEmitter
{
    private readonly Dictionary<Instr, Func<string>> _vectorised = [];
    private readonly HashSet<Instr> _mergedAway = [];

    /// <summary>Number of vector accesses emitted (for tests and the docs' numbers).</summary>
    public int VectorAccesses { get; private set; }

    private Dictionary<Value, int>? _uses;

    /// <summary>How many operands in the function name each value (phis and terminators included).</summary>
    private Dictionary<Value, int> CountUses()
    {
        var uses = new Dictionary<Value, int>();
        void Use(Value v) => uses[v] = uses.GetValueOrDefault(v) + 1;
        foreach (Block block in _f.Blocks)
        {
            foreach (Phi phi in block.Phis)
            {
                phi.Args.ForEach(Use);
            }
            foreach (Instr i in block.Body)
            {
                Array.ForEach(i.Args, Use);
            }
            if (block.Terminator is { } t)
            {
                Array.ForEach(t.Args, Use);
            }
        }
        return uses;
    }

    /// <summary>
    /// The address computations (<c>PtrAdd</c> to the 2nd..4th field) that only merged accesses used are
    /// dropped with them, so the PTX does not carry dead adds.
    /// </summary>
    private void DropDeadAddresses(IEnumerable<Instr> merged)
    {
        _uses ??= CountUses();
        foreach (Instr m in merged)
        {
            if (m.Args[0] is Instr { Op: Op.PtrAdd } add && !_mergedAway.Contains(add))
            {
                _uses[add] = _uses.GetValueOrDefault(add) - 1;
                if (_uses[add] == 0)
                {
                    _mergedAway.Add(add);
                }
            }
        }
    }

    private void FindVectorAccesses(Block b)
    {
        List<Instr> body = b.Body;
        var used = new HashSet<Instr>();
        for (int k = 0; k < body.Count; k++)
        {
            Instr first = body[k];
            if (used.Contains(first) || first.Op is not (Op.Load or Op.Store))
            {
                continue;
            }
            MemType mem = (MemType)first.Imm;
            int width = mem switch
            {
                MemType.I32 or MemType.F32 => 4,
                MemType.I64 or MemType.F64 => 2,
                _ => 0,
            };
            if (width == 0)
            {
                continue;
            }
            var (root, offset) = Split(first.Args[0]);
            if (offset % 16 != 0 || !IsAligned16(root))
            {
                continue;
            }
            int step = 16 / width;
            var group = new Instr?[width];
            group[0] = first;
            int found = 1;
            for (int j = k + 1; j < body.Count && found < width; j++)
            {
                Instr next = body[j];
                if (next.Op == first.Op && (MemType)next.Imm == mem && !used.Contains(next))
                {
                    var (r, o) = Split(next.Args[0]);
                    long slot = (o - offset) / step;
                    if (r == root && (o - offset) % step == 0 && slot > 0 && slot < width && group[slot] is null)
                    {
                        group[slot] = next;
                        found++;
                        continue;
                    }
                }
                if (Interferes(first.Op, next))
                {
                    break;
                }
            }
            if (found < width)
            {
                continue;
            }
            Instr[] members = group.Select(g => g!).ToArray();
            DropDeadAddresses(members.Skip(1));
            foreach (Instr m in members)
            {
                used.Add(m);
            }
            Value address = first.Args[0];
            string suffix = MemSuffix(mem);
            if (first.Op == Op.Load)
            {
                // Emitted at the first load: the later loads' registers are defined early, which is fine in SSA.
                _vectorised[first] = () =>
                {
                    VectorAccesses++;
                    return $"ld{SpaceSuffix(Space(address))}.v{width}.{suffix} {{{string.Join(", ", members.Select(m => Reg(m)))}}}, [{Reg(address)}];";
                };
                foreach (Instr m in members.Skip(1))
                {
                    _mergedAway.Add(m);
                }
            }
            else
            {
                Instr last = members.OrderBy(body.IndexOf).Last();
                _vectorised[last] = () =>
                {
                    VectorAccesses++;
                    string[] values = members.Select(m => InReg(m.Args[1])).ToArray();
                    return $"st{SpaceSuffix(Space(address))}.v{width}.{suffix} [{Reg(address)}], {{{string.Join(", ", values)}}};";
                };
                foreach (Instr m in members.Where(m => m != last))
                {
                    _mergedAway.Add(m);
                }
            }
        }
    }

    /// <summary>True when <paramref name="next"/> may not be moved across by a merged access of kind <paramref name="op"/>.</summary>
    private static bool Interferes(Op op, Instr next) => next.Op switch
    {
        Op.Load => op == Op.Store,
        Op.Store or Op.Atomic or Op.Barrier or Op.Fence or Op.CopyAsync or Op.CopyAsyncWait or Op.LoadMatrix or Op.Mma or Op.Shuffle or Op.Vote => true,
        _ => next.Op.HasSideEffects(),
    };

    /// <summary>An address as a root pointer plus a constant byte offset (through chains of PtrAdd).</summary>
    private static (Value Root, long Offset) Split(Value address)
    {
        long offset = 0;
        while (address is Instr { Op: Op.PtrAdd } add && add.Args[1] is Constant c)
        {
            offset += c.Bits;
            address = add.Args[0];
        }
        return (address, offset);
    }

    private static bool IsAligned16(Value pointer)
    {
        var (root, offset) = Split(pointer);
        if (offset % 16 != 0)
        {
            return false;
        }
        return root switch
        {
            Parameter p => p.Alignment >= 16,
            Instr { Op: Op.SharedAlloc } s => Math.Max(4, s.Imm2) >= 16,
            Instr { Op: Op.ViewElement } e => e.Imm % 16 == 0 && e.Args[0] is not Constant && IsAligned16(e.Args[0]),
            // A sub-view of 16-byte elements: an aligned base moved by a whole number of elements.
            Instr { Op: Op.PtrAdd } add => IsMultipleOf16(add.Args[1]) && IsAligned16(add.Args[0]),
            _ => false,
        };
    }

    /// <summary>True when a byte count is provably a multiple of 16: a constant, or a product or left shift that makes it one.</summary>
    private static bool IsMultipleOf16(Value bytes) => bytes switch
    {
        Constant c => c.Bits % 16 == 0,
        Instr { Op: Op.Mul } m => m.Args.Any(a => a is Constant c && c.Bits % 16 == 0) || m.Args.All(IsMultipleOf16),
        Instr { Op: Op.Shl, Args: [_, Constant { Bits: >= 4 and < 32 }] } => true,
        Instr { Op: Op.Add or Op.Sub } a => IsMultipleOf16(a.Args[0]) && IsMultipleOf16(a.Args[1]),
        Instr { Op: Op.Conv } c => c.Args[0].Type is IR.IrType.I64 or IR.IrType.I32 && IsMultipleOf16(c.Args[0]),
        _ => false,
    };
}
