using Engine.Gpu.IR;

namespace Engine.Gpu.Cpu;

/// <summary>Interpreter opcodes: IR operations specialised by type, plus moves and jumps.</summary>
internal enum XOp : byte
{
    AddI32, AddI64, AddF32, AddF64,
    SubI32, SubI64, SubF32, SubF64,
    MulI32, MulI64, MulF32, MulF64,
    DivI32, DivI64, DivF32, DivF64,
    RemI32, RemI64, RemF32, RemF64,
    DivUnI32, DivUnI64, RemUnI32, RemUnI64,
    AndI32, AndI64, OrI32, OrI64, XorI32, XorI64,
    ShlI32, ShlI64, ShrI32, ShrI64, ShrUnI32, ShrUnI64,
    NegI32, NegI64, NegF32, NegF64, NotI32, NotI64,
    CmpI32, CmpI64, CmpF32, CmpF64,
    LtI32, GeI32, EqI32, NeI32,
    Conv, Math, Select,
    LoadI8, LoadU8, LoadI16, LoadU16, Load32, Load64,
    Store8, Store16, Store32, Store64,
    PtrAdd, ViewElement, CheckSlice, Special, SharedAddress, CopyAsync,
    Atomic, Mov, Nop,
    // Control flow and yields.
    Jump, JumpIfZero, JumpIfNonZero, Switch, Ret, Barrier, WarpBarrier, Shuffle, Vote, Mma, LoadMatrix,
}

/// <summary>One pre-decoded instruction: operand slots, an immediate and a location for error messages.</summary>
internal struct XIns
{
    public XOp Op;
    public byte Sub;
    public ushort Loc;
    public int D;
    public int A;
    public int B;
    public int C;
    public long Imm;
}

/// <summary>A kernel lowered for the interpreter: flat code, a register template and the shared-memory plan.</summary>
internal sealed class Program
{
    public required XIns[] Code;
    public required long[] Template;
    public required int[][] SwitchTables;
    public required SourceLoc?[] Locations;
    public required int[] ParameterSlots;
    public required int StaticSharedBytes;
    public required string Name;
    public int SlotCount => Template.Length;
}

/// <summary>
/// IR to interpreter code: every value gets a register slot, constants are preset in a template, phis
/// become moves on the incoming edges, and operations are specialised by type so the hot loop does one
/// switch per instruction and never allocates.
/// </summary>
internal static class Lowering
{
    public static Program Lower(Function f)
    {
        var slots = new Dictionary<Value, int>();
        var template = new List<long>();
        var constants = new Dictionary<(IrType, long), int>();
        var locations = new List<SourceLoc?> { null };
        var locIndex = new Dictionary<SourceLoc, ushort>();
        var code = new List<XIns>();
        var tables = new List<int[]>();
        var blockStart = new Dictionary<Block, int>();
        var fixups = new List<(int Index, Block Target)>();
        var tableFixups = new List<(int Table, int Entry, int Stub)>();
        int sharedBytes = 0;
        var sharedOffsets = new Dictionary<Instr, int>();
        var mmaExtra = new Dictionary<Instr, int>();

        int NewSlot(long initial = 0)
        {
            template.Add(initial);
            return template.Count - 1;
        }

        int Slot(Value v)
        {
            if (v is Constant c)
            {
                if (!constants.TryGetValue((c.Type, c.Bits), out int s))
                {
                    s = NewSlot(c.Bits);
                    constants[(c.Type, c.Bits)] = s;
                }
                return s;
            }
            if (!slots.TryGetValue(v, out int slot))
            {
                slot = NewSlot();
                slots[v] = slot;
            }
            return slot;
        }

        ushort Loc(Instr i)
        {
            if (i.Loc is null)
            {
                return 0;
            }
            if (!locIndex.TryGetValue(i.Loc, out ushort k))
            {
                k = (ushort)Math.Min(locations.Count, ushort.MaxValue);
                if (k < ushort.MaxValue)
                {
                    locations.Add(i.Loc);
                }
                locIndex[i.Loc] = k;
            }
            return k;
        }

        int[] parameterSlots = f.Params.Select(p => Slot(p)).ToArray();
        foreach (Block b in f.Blocks)
        {
            foreach (Phi p in b.Phis)
            {
                Slot(p);
            }
        }
        foreach (Block b in f.Blocks)
        {
            foreach (Instr i in b.Body)
            {
                if (i.Op == Op.SharedAlloc)
                {
                    int align = Math.Max(1, i.Imm2);
                    sharedBytes = (sharedBytes + align - 1) / align * align;
                    sharedOffsets[i] = sharedBytes;
                    sharedBytes += (int)i.Imm;
                }
            }
        }
        int staticShared = (sharedBytes + 15) / 16 * 16;

        void Add(XOp op, Instr? source, int d = 0, int a = 0, int b = 0, int c = 0, long imm = 0, byte sub = 0) =>
            code.Add(new XIns { Op = op, D = d, A = a, B = b, C = c, Imm = imm, Sub = sub, Loc = source is null ? (ushort)0 : Loc(source) });

        void EdgeMoves(Block from, Block to)
        {
            if (to.Phis.Count == 0)
            {
                return;
            }
            int k = to.Preds.IndexOf(from);
            bool conflict = to.Phis.Any(p => p.Args[k] is Phi source && to.Phis.Contains(source));
            if (!conflict)
            {
                foreach (Phi p in to.Phis)
                {
                    Add(XOp.Mov, null, Slot(p), Slot(p.Args[k]));
                }
                return;
            }
            // Phis reading each other on this edge (a swap): go through temporaries.
            int[] temps = to.Phis.Select(_ => NewSlot()).ToArray();
            for (int j = 0; j < temps.Length; j++)
            {
                Add(XOp.Mov, null, temps[j], Slot(to.Phis[j].Args[k]));
            }
            for (int j = 0; j < temps.Length; j++)
            {
                Add(XOp.Mov, null, Slot(to.Phis[j]), temps[j]);
            }
        }

        void JumpTo(Block target)
        {
            fixups.Add((code.Count, target));
            Add(XOp.Jump, null);
        }

        foreach (Block b in f.Blocks)
        {
            blockStart[b] = code.Count;
            foreach (Instr i in b.Body)
            {
                LowerInstr(i);
            }
            Instr t = b.Terminator!;
            switch (t.Op)
            {
                case Op.Ret:
                    Add(XOp.Ret, t);
                    break;
                case Op.Br:
                    EdgeMoves(b, t.Targets[0]);
                    JumpTo(t.Targets[0]);
                    break;
                case Op.CondBr:
                {
                    Block yes = t.Targets[0], no = t.Targets[1];
                    int cond = Slot(t.Args[0]);
                    if (yes.Phis.Count == 0 && no.Phis.Count == 0)
                    {
                        fixups.Add((code.Count, yes));
                        Add(XOp.JumpIfNonZero, t, a: cond);
                        JumpTo(no);
                        break;
                    }
                    int branch = code.Count;
                    Add(XOp.JumpIfZero, t, a: cond);
                    EdgeMoves(b, yes);
                    JumpTo(yes);
                    XIns patched = code[branch];
                    patched.Imm = code.Count;
                    code[branch] = patched;
                    EdgeMoves(b, no);
                    JumpTo(no);
                    break;
                }
                case Op.Switch:
                {
                    int table = tables.Count;
                    tables.Add(new int[t.Targets.Length]);
                    Add(XOp.Switch, t, a: Slot(t.Args[0]), imm: table);
                    for (int k = 0; k < t.Targets.Length; k++)
                    {
                        tables[table][k] = code.Count;
                        EdgeMoves(b, t.Targets[k]);
                        JumpTo(t.Targets[k]);
                    }
                    break;
                }
                default:
                    throw new InvalidOperationException($"unexpected terminator {t.Op}");
            }
        }
        foreach (var (index, target) in fixups)
        {
            XIns ins = code[index];
            ins.Imm = blockStart[target];
            code[index] = ins;
        }
        return new Program
        {
            Code = [.. code],
            Template = [.. template],
            SwitchTables = [.. tables],
            Locations = [.. locations],
            ParameterSlots = parameterSlots,
            StaticSharedBytes = staticShared,
            Name = f.Name,
        };

        void LowerInstr(Instr i)
        {
            int d = i.Type == IrType.Void ? 0 : Slot(i);
            int A(int k) => Slot(i.Args[k]);
            IrType t = i.Args.Length > 0 ? i.Args[0].Type : i.Type;
            int ti = t switch { IrType.I32 => 0, IrType.I64 or IrType.Ptr => 1, IrType.F32 => 2, _ => 3 };
            switch (i.Op)
            {
                case Op.Add or Op.Sub or Op.Mul or Op.Div or Op.Rem:
                {
                    XOp baseOp = i.Op switch { Op.Add => XOp.AddI32, Op.Sub => XOp.SubI32, Op.Mul => XOp.MulI32, Op.Div => XOp.DivI32, _ => XOp.RemI32 };
                    Add((XOp)((int)baseOp + ti), i, d, A(0), A(1));
                    return;
                }
                case Op.DivUn: Add(ti == 0 ? XOp.DivUnI32 : XOp.DivUnI64, i, d, A(0), A(1)); return;
                case Op.RemUn: Add(ti == 0 ? XOp.RemUnI32 : XOp.RemUnI64, i, d, A(0), A(1)); return;
                case Op.And: Add(ti == 0 ? XOp.AndI32 : XOp.AndI64, i, d, A(0), A(1)); return;
                case Op.Or: Add(ti == 0 ? XOp.OrI32 : XOp.OrI64, i, d, A(0), A(1)); return;
                case Op.Xor: Add(ti == 0 ? XOp.XorI32 : XOp.XorI64, i, d, A(0), A(1)); return;
                case Op.Shl: Add(ti == 0 ? XOp.ShlI32 : XOp.ShlI64, i, d, A(0), A(1)); return;
                case Op.Shr: Add(ti == 0 ? XOp.ShrI32 : XOp.ShrI64, i, d, A(0), A(1)); return;
                case Op.ShrUn: Add(ti == 0 ? XOp.ShrUnI32 : XOp.ShrUnI64, i, d, A(0), A(1)); return;
                case Op.Neg: Add((XOp)((int)XOp.NegI32 + ti), i, d, A(0)); return;
                case Op.Not: Add(ti == 0 ? XOp.NotI32 : XOp.NotI64, i, d, A(0)); return;
                case Op.Cmp:
                {
                    var kind = (CmpKind)i.Imm;
                    if (ti == 0 && kind is CmpKind.Lt or CmpKind.Ge or CmpKind.Eq or CmpKind.NeUn)
                    {
                        Add(kind switch { CmpKind.Lt => XOp.LtI32, CmpKind.Ge => XOp.GeI32, CmpKind.Eq => XOp.EqI32, _ => XOp.NeI32 }, i, d, A(0), A(1));
                        return;
                    }
                    Add((XOp)((int)XOp.CmpI32 + ti), i, d, A(0), A(1), sub: (byte)kind);
                    return;
                }
                case Op.Conv: Add(XOp.Conv, i, d, A(0), imm: (long)i.Args[0].Type, sub: (byte)i.Imm); return;
                case Op.Math:
                    Add(XOp.Math, i, d, A(0), i.Args.Length > 1 ? A(1) : A(0), i.Args.Length > 2 ? A(2) : A(0), imm: (long)i.Args[0].Type, sub: (byte)i.Imm);
                    return;
                case Op.Select: Add(XOp.Select, i, d, A(0), A(1), A(2)); return;
                case Op.Load:
                {
                    XOp op = (MemType)i.Imm switch
                    {
                        MemType.I8 => XOp.LoadI8,
                        MemType.U8 => XOp.LoadU8,
                        MemType.I16 => XOp.LoadI16,
                        MemType.U16 => XOp.LoadU16,
                        MemType.I32 or MemType.F32 => XOp.Load32,
                        _ => XOp.Load64,
                    };
                    Add(op, i, d, A(0));
                    return;
                }
                case Op.Store:
                {
                    XOp op = ((MemType)i.Imm).Size() switch { 1 => XOp.Store8, 2 => XOp.Store16, 4 => XOp.Store32, _ => XOp.Store64 };
                    Add(op, i, 0, A(0), A(1));
                    return;
                }
                case Op.PtrAdd: Add(XOp.PtrAdd, i, d, A(0), A(1)); return;
                case Op.ViewElement: Add(XOp.ViewElement, i, d, A(0), A(1), A(2), i.Imm); return;
                case Op.CheckSlice: Add(XOp.CheckSlice, i, 0, A(0), A(1), A(2)); return;
                case Op.Special: Add(XOp.Special, i, d, imm: i.Imm); return;
                case Op.SharedAlloc: Add(XOp.SharedAddress, i, d, imm: sharedOffsets[i]); return;
                case Op.SharedDynamic: Add(XOp.SharedAddress, i, d, imm: staticShared); return;
                case Op.Barrier: Add(i.Imm == 0 ? XOp.Barrier : XOp.WarpBarrier, i); return;
                case Op.Shuffle: Add(XOp.Shuffle, i, d, A(0), A(1), imm: i.Imm); return;
                case Op.Vote: Add(XOp.Vote, i, d, A(0), imm: i.Imm); return;
                case Op.Atomic:
                    Add(XOp.Atomic, i, d, A(0), A(1), i.Args.Length > 2 ? A(2) : 0, imm: i.Imm2, sub: (byte)i.Imm);
                    return;
                case Op.Fence: return; // Groups run one at a time on the CPU: memory is always ordered.
                case Op.Mma:
                {
                    // d1..d3 live in three consecutive hidden slots that the Part moves read.
                    int table = tables.Count;
                    tables.Add(i.Args.Select(Slot).ToArray());
                    int extra = NewSlot();
                    NewSlot();
                    NewSlot();
                    mmaExtra[i] = extra;
                    Add(XOp.Mma, i, d, table, imm: extra, sub: (byte)((IntrinsicKind)i.Imm == IntrinsicKind.MmaBF16 ? 1 : 0));
                    return;
                }
                case Op.LoadMatrix:
                {
                    int extra = NewSlot();
                    NewSlot();
                    NewSlot();
                    mmaExtra[i] = extra;
                    Add(XOp.LoadMatrix, i, d, A(0), imm: extra, sub: (byte)i.Imm);
                    return;
                }
                case Op.Part: Add(XOp.Mov, i, d, mmaExtra[(Instr)i.Args[0]] + (int)i.Imm - 1); return;
                case Op.CopyAsync: Add(XOp.CopyAsync, i, 0, A(0), A(1), imm: i.Imm); return;
                case Op.CopyAsyncCommit or Op.CopyAsyncWait: return; // Copies complete at once on the CPU.
                default:
                    throw new InvalidOperationException($"the interpreter cannot lower {i.Op}");
            }
        }
    }
}
