using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Engine.Gpu.IR;

namespace Engine.Gpu.Cpu;

/// <summary>
/// Runs one launch of a lowered kernel, group after group. A group's threads run cooperatively: each
/// runs until it finishes or reaches a barrier or warp collective, then the next one runs. A warp
/// collective completes when every lane of the warp has reached it; a barrier when every thread of the
/// group has. Threads that disagree (some at a barrier, some finished or elsewhere) are reported as
/// divergence. No OS threads, no locks: the result is deterministic.
/// </summary>
internal sealed unsafe class Interpreter
{
    private enum Status : byte
    {
        Running,
        AtBarrier,
        AtCollective,
        Done,
    }

    private readonly Program _program;
    private readonly KernelConfig _config;
    private readonly int _warpSize;
    private readonly int _groupSize;
    private readonly int _slots;
    private readonly long[] _registers;
    private readonly int[] _pc;
    private readonly Status[] _status;
    private readonly int[] _specials;
    private readonly byte* _shared;
    private readonly int _sharedBytes;
    private Index3D _groupIdx;

    public long InstructionsExecuted { get; private set; }

    private const int SpecialCount = 16;

    public Interpreter(Program program, KernelConfig config, int warpSize, long[] arguments, byte* shared)
    {
        _program = program;
        _config = config;
        _warpSize = warpSize;
        _groupSize = config.GroupSize;
        _slots = program.SlotCount;
        _registers = GC.AllocateUninitializedArray<long>(_groupSize * _slots, pinned: true);
        _pc = new int[_groupSize];
        _status = new Status[_groupSize];
        _specials = new int[_groupSize * SpecialCount];
        _shared = shared;
        _sharedBytes = program.StaticSharedBytes + config.DynamicSharedBytes;
        long[] template = (long[])program.Template.Clone();
        for (int k = 0; k < program.ParameterSlots.Length; k++)
        {
            template[program.ParameterSlots[k]] = arguments[k];
        }
        _template = template;
        for (int t = 0; t < _groupSize; t++)
        {
            int x = t % config.GroupDim.X;
            int y = t / config.GroupDim.X % config.GroupDim.Y;
            int z = t / (config.GroupDim.X * config.GroupDim.Y);
            Span<int> sp = _specials.AsSpan(t * SpecialCount, SpecialCount);
            sp[(int)SpecialReg.GroupIdxX] = x;
            sp[(int)SpecialReg.GroupIdxY] = y;
            sp[(int)SpecialReg.GroupIdxZ] = z;
            sp[(int)SpecialReg.GroupDimX] = config.GroupDim.X;
            sp[(int)SpecialReg.GroupDimY] = config.GroupDim.Y;
            sp[(int)SpecialReg.GroupDimZ] = config.GroupDim.Z;
            sp[(int)SpecialReg.GridDimX] = config.GridDim.X;
            sp[(int)SpecialReg.GridDimY] = config.GridDim.Y;
            sp[(int)SpecialReg.GridDimZ] = config.GridDim.Z;
            sp[(int)SpecialReg.WarpSize] = warpSize;
            sp[(int)SpecialReg.LaneIdx] = t % warpSize;
            sp[(int)SpecialReg.DynamicSharedBytes] = config.DynamicSharedBytes;
        }
    }

    private readonly long[] _template;

    /// <summary>Runs one group of the grid to completion.</summary>
    public void RunGroup(Index3D group)
    {
        _groupIdx = group;
        // Shared memory starts as a poison pattern: a kernel that reads it before writing it is wrong on a GPU too.
        new Span<byte>(_shared, _sharedBytes).Fill(0xCD);
        for (int t = 0; t < _groupSize; t++)
        {
            _template.CopyTo(_registers, t * _slots);
            _pc[t] = 0;
            _status[t] = Status.Running;
            Span<int> sp = _specials.AsSpan(t * SpecialCount, SpecialCount);
            sp[(int)SpecialReg.GridIdxX] = group.X;
            sp[(int)SpecialReg.GridIdxY] = group.Y;
            sp[(int)SpecialReg.GridIdxZ] = group.Z;
        }
        int warps = (_groupSize + _warpSize - 1) / _warpSize;
        while (true)
        {
            for (int w = 0; w < warps; w++)
            {
                int first = w * _warpSize, end = Math.Min(first + _warpSize, _groupSize);
                while (true)
                {
                    for (int t = first; t < end; t++)
                    {
                        if (_status[t] == Status.Running)
                        {
                            Run(t);
                        }
                    }
                    if (!ResolveWarpCollective(first, end))
                    {
                        break;
                    }
                }
            }
            int done = 0, waiting = 0, barrierPc = -1;
            bool sameBarrier = true;
            for (int t = 0; t < _groupSize; t++)
            {
                if (_status[t] == Status.Done)
                {
                    done++;
                }
                else
                {
                    waiting++;
                    barrierPc = barrierPc < 0 ? _pc[t] : barrierPc;
                    sameBarrier &= _pc[t] == barrierPc;
                }
            }
            if (waiting == 0)
            {
                return;
            }
            if (done > 0 || !sameBarrier)
            {
                throw Divergence("Group.Barrier", 0, _groupSize);
            }
            for (int t = 0; t < _groupSize; t++)
            {
                _pc[t]++;
                _status[t] = Status.Running;
            }
        }
    }

    /// <summary>Completes a warp collective every lane waits at; false when the warp has none pending.</summary>
    private bool ResolveWarpCollective(int first, int end)
    {
        bool any = false, all = true;
        int pc = -1;
        for (int t = first; t < end; t++)
        {
            if (_status[t] == Status.AtCollective)
            {
                any = true;
                pc = pc < 0 ? _pc[t] : pc;
                all &= _pc[t] == pc;
            }
            else
            {
                all = false;
            }
        }
        if (!any)
        {
            return false;
        }
        ref XIns ins = ref _program.Code[pc];
        if (!all)
        {
            throw Divergence("warp collective", first, end);
        }
        long* regs = (long*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_registers));
        int lanes = end - first;
        switch (ins.Op)
        {
            case XOp.Mma:
            {
                if (lanes != 32)
                {
                    _pc[first] = pc;
                    TensorCoreSemantics.RequireFullWarp(lanes);
                }
                int[] operands = _program.SwitchTables[ins.A];
                Span<uint> a = stackalloc uint[32 * 4];
                Span<uint> b = stackalloc uint[32 * 2];
                Span<float> c = stackalloc float[32 * 4];
                Span<float> d = stackalloc float[32 * 4];
                for (int lane = 0; lane < 32; lane++)
                {
                    long* r = regs + (long)(first + lane) * _slots;
                    for (int k = 0; k < 4; k++)
                    {
                        a[4 * lane + k] = (uint)r[operands[k]];
                        c[4 * lane + k] = *(float*)(r + operands[6 + k]);
                    }
                    b[2 * lane] = (uint)r[operands[4]];
                    b[2 * lane + 1] = (uint)r[operands[5]];
                }
                TensorCoreSemantics.Mma(ins.Sub == 1, a, b, c, d);
                for (int lane = 0; lane < 32; lane++)
                {
                    long* r = regs + (long)(first + lane) * _slots;
                    *(float*)(r + ins.D) = d[4 * lane];
                    for (int k = 1; k < 4; k++)
                    {
                        *(float*)(r + ins.Imm + k - 1) = d[4 * lane + k];
                    }
                }
                break;
            }
            case XOp.LoadMatrix:
            {
                if (lanes != 32)
                {
                    TensorCoreSemantics.RequireFullWarp(lanes);
                }
                Span<nint> rows = stackalloc nint[32];
                for (int lane = 0; lane < 32; lane++)
                {
                    rows[lane] = (nint)regs[(long)(first + lane) * _slots + ins.A];
                }
                int count = ins.Sub & 7;
                bool transpose = (ins.Sub & 8) != 0;
                for (int lane = 0; lane < 32; lane++)
                {
                    long* r = regs + (long)(first + lane) * _slots;
                    for (int j = 0; j < count; j++)
                    {
                        r[j == 0 ? ins.D : (int)ins.Imm + j - 1] = (int)TensorCoreSemantics.LoadMatrixRegister(rows, j, lane, transpose);
                    }
                }
                break;
            }
            case XOp.Shuffle:
            {
                var kind = (IntrinsicKind)ins.Imm;
                for (int lane = 0; lane < lanes; lane++)
                {
                    long* r = regs + (long)(first + lane) * _slots;
                    int source = WarpSemantics.SourceLane(kind, lane, (int)r[ins.B], _warpSize);
                    if (source >= lanes)
                    {
                        source = lane;
                    }
                    r[ins.D] = regs[(long)(first + source) * _slots + ins.A];
                }
                break;
            }
            case XOp.Vote:
            {
                uint mask = 0;
                for (int lane = 0; lane < lanes; lane++)
                {
                    if ((int)regs[(long)(first + lane) * _slots + ins.A] != 0)
                    {
                        mask |= 1u << lane;
                    }
                }
                uint full = lanes >= 32 ? uint.MaxValue : (1u << lanes) - 1;
                long result = (IntrinsicKind)ins.Imm switch
                {
                    IntrinsicKind.VoteAll => mask == full ? 1 : 0,
                    IntrinsicKind.VoteAny => mask != 0 ? 1 : 0,
                    _ => (int)mask,
                };
                for (int lane = 0; lane < lanes; lane++)
                {
                    regs[(long)(first + lane) * _slots + ins.D] = result;
                }
                break;
            }
        }
        for (int t = first; t < end; t++)
        {
            _pc[t]++;
            _status[t] = Status.Running;
        }
        return true;
    }

    private KernelExecutionException Divergence(string what, int first, int end)
    {
        IEnumerable<string> groups = Enumerable.Range(first, end - first)
            .GroupBy(t => _status[t] == Status.Done ? "had finished" : "waited at " + Where(_pc[t]))
            .Select(g => $"threads {Ranges([.. g])} {g.Key}");
        return new KernelExecutionException(
            $"Kernel {_program.Name}, group {_groupIdx}: divergent {what}: {string.Join("; ", groups)}. " +
            "Every thread of the group (for a barrier) or of the warp (for a warp collective) must reach the same one.");
    }

    private static string Ranges(List<int> xs) => xs.Count == 0 ? "none" : xs.Count == 1 ? xs[0].ToString() : $"{xs[0]}..{xs[^1]} ({xs.Count})";

    private string Where(int pc) => _program.Locations[_program.Code[pc].Loc]?.ToString() ?? $"instruction {pc}";

    private string Thread(int t)
    {
        Span<int> sp = _specials.AsSpan(t * SpecialCount, SpecialCount);
        return $"thread ({sp[(int)SpecialReg.GroupIdxX]}, {sp[(int)SpecialReg.GroupIdxY]}, {sp[(int)SpecialReg.GroupIdxZ]}) of group {_groupIdx}";
    }

    private KernelExecutionException Trap(int t, int pc, string what) =>
        new($"Kernel {_program.Name}, {Thread(t)}: {what} at {Where(pc)}.");

    private void Run(int t)
    {
        long* r = (long*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_registers)) + (long)t * _slots;
        int pc = _pc[t];
        long count = 0;
        // The register file is allocated pinned; the code is pinned here, so raw pointers stay valid.
        fixed (XIns* code = _program.Code)
        {
            while (true)
            {
                XIns* i = code + pc;
                count++;
                switch (i->Op)
                {
                    case XOp.AddI32: r[i->D] = (int)r[i->A] + (int)r[i->B]; break;
                    case XOp.AddI64: r[i->D] = r[i->A] + r[i->B]; break;
                    case XOp.AddF32: F(r, i->D) = F(r, i->A) + F(r, i->B); break;
                    case XOp.AddF64: D(r, i->D) = D(r, i->A) + D(r, i->B); break;
                    case XOp.SubI32: r[i->D] = (int)r[i->A] - (int)r[i->B]; break;
                    case XOp.SubI64: r[i->D] = r[i->A] - r[i->B]; break;
                    case XOp.SubF32: F(r, i->D) = F(r, i->A) - F(r, i->B); break;
                    case XOp.SubF64: D(r, i->D) = D(r, i->A) - D(r, i->B); break;
                    case XOp.MulI32: r[i->D] = (int)r[i->A] * (int)r[i->B]; break;
                    case XOp.MulI64: r[i->D] = r[i->A] * r[i->B]; break;
                    case XOp.MulF32: F(r, i->D) = F(r, i->A) * F(r, i->B); break;
                    case XOp.MulF64: D(r, i->D) = D(r, i->A) * D(r, i->B); break;
                    case XOp.DivF32: F(r, i->D) = F(r, i->A) / F(r, i->B); break;
                    case XOp.DivF64: D(r, i->D) = D(r, i->A) / D(r, i->B); break;
                    case XOp.RemF32: F(r, i->D) = F(r, i->A) % F(r, i->B); break;
                    case XOp.RemF64: D(r, i->D) = D(r, i->A) % D(r, i->B); break;
                    case XOp.DivI32:
                    case XOp.DivI64:
                    case XOp.RemI32:
                    case XOp.RemI64:
                    case XOp.DivUnI32:
                    case XOp.DivUnI64:
                    case XOp.RemUnI32:
                    case XOp.RemUnI64:
                    {
                        IrType type = i->Op is XOp.DivI32 or XOp.RemI32 or XOp.DivUnI32 or XOp.RemUnI32 ? IrType.I32 : IrType.I64;
                        Op op = i->Op switch
                        {
                            XOp.DivI32 or XOp.DivI64 => Op.Div,
                            XOp.RemI32 or XOp.RemI64 => Op.Rem,
                            XOp.DivUnI32 or XOp.DivUnI64 => Op.DivUn,
                            _ => Op.RemUn,
                        };
                        if (!Semantics.TryBinary(op, type, r[i->A], r[i->B], out long q))
                        {
                            _pc[t] = pc;
                            throw Trap(t, pc, r[i->B] == 0 || (type == IrType.I32 && (int)r[i->B] == 0)
                                ? "integer division by zero (the CLR throws DivideByZeroException)"
                                : "integer division overflow (MinValue / -1; the CLR throws OverflowException)");
                        }
                        r[i->D] = q;
                        break;
                    }
                    case XOp.AndI32:
                    case XOp.AndI64: r[i->D] = r[i->A] & r[i->B]; break;
                    case XOp.OrI32:
                    case XOp.OrI64: r[i->D] = r[i->A] | r[i->B]; break;
                    case XOp.XorI32:
                    case XOp.XorI64: r[i->D] = r[i->A] ^ r[i->B]; break;
                    case XOp.ShlI32: r[i->D] = (int)r[i->A] << (int)r[i->B]; break;
                    case XOp.ShlI64: r[i->D] = r[i->A] << (int)r[i->B]; break;
                    case XOp.ShrI32: r[i->D] = (int)r[i->A] >> (int)r[i->B]; break;
                    case XOp.ShrI64: r[i->D] = r[i->A] >> (int)r[i->B]; break;
                    case XOp.ShrUnI32: r[i->D] = (int)((uint)r[i->A] >> (int)r[i->B]); break;
                    case XOp.ShrUnI64: r[i->D] = (long)((ulong)r[i->A] >> (int)r[i->B]); break;
                    case XOp.NegI32: r[i->D] = -(int)r[i->A]; break;
                    case XOp.NegI64: r[i->D] = -r[i->A]; break;
                    case XOp.NegF32: F(r, i->D) = -F(r, i->A); break;
                    case XOp.NegF64: D(r, i->D) = -D(r, i->A); break;
                    case XOp.NotI32: r[i->D] = ~(int)r[i->A]; break;
                    case XOp.NotI64: r[i->D] = ~r[i->A]; break;
                    case XOp.LtI32: r[i->D] = (int)r[i->A] < (int)r[i->B] ? 1 : 0; break;
                    case XOp.GeI32: r[i->D] = (int)r[i->A] >= (int)r[i->B] ? 1 : 0; break;
                    case XOp.EqI32: r[i->D] = (int)r[i->A] == (int)r[i->B] ? 1 : 0; break;
                    case XOp.NeI32: r[i->D] = (int)r[i->A] != (int)r[i->B] ? 1 : 0; break;
                    case XOp.CmpI32: r[i->D] = Semantics.Compare((CmpKind)i->Sub, IrType.I32, r[i->A], r[i->B]) ? 1 : 0; break;
                    case XOp.CmpI64: r[i->D] = Semantics.Compare((CmpKind)i->Sub, IrType.I64, r[i->A], r[i->B]) ? 1 : 0; break;
                    case XOp.CmpF32: r[i->D] = Semantics.Compare((CmpKind)i->Sub, IrType.F32, r[i->A], r[i->B]) ? 1 : 0; break;
                    case XOp.CmpF64: r[i->D] = Semantics.Compare((CmpKind)i->Sub, IrType.F64, r[i->A], r[i->B]) ? 1 : 0; break;
                    case XOp.Conv: r[i->D] = Semantics.Convert((ConvKind)i->Sub, (IrType)i->Imm, r[i->A]); break;
                    case XOp.Math:
                        if (!Semantics.TryMath((MathFn)i->Sub, (IrType)i->Imm, r[i->A], r[i->B], r[i->C], out long m))
                        {
                            _pc[t] = pc;
                            throw Trap(t, pc, "Math.Abs of the smallest integer (the CLR throws OverflowException)");
                        }
                        r[i->D] = m;
                        break;
                    case XOp.Select: r[i->D] = (int)r[i->A] != 0 ? r[i->B] : r[i->C]; break;
                    case XOp.LoadI8: r[i->D] = *(sbyte*)r[i->A]; break;
                    case XOp.LoadU8: r[i->D] = *(byte*)r[i->A]; break;
                    case XOp.LoadI16: r[i->D] = *(short*)r[i->A]; break;
                    case XOp.LoadU16: r[i->D] = *(ushort*)r[i->A]; break;
                    case XOp.Load32: r[i->D] = *(int*)r[i->A]; break;
                    case XOp.Load64: r[i->D] = *(long*)r[i->A]; break;
                    case XOp.Store8: *(byte*)r[i->A] = (byte)r[i->B]; break;
                    case XOp.Store16: *(short*)r[i->A] = (short)r[i->B]; break;
                    case XOp.Store32: *(int*)r[i->A] = (int)r[i->B]; break;
                    case XOp.Store64: *(long*)r[i->A] = r[i->B]; break;
                    case XOp.PtrAdd: r[i->D] = r[i->A] + r[i->B]; break;
                    case XOp.ViewElement:
                    {
                        int index = (int)r[i->C];
                        int length = (int)r[i->B];
                        if ((uint)index >= (uint)length)
                        {
                            _pc[t] = pc;
                            throw Trap(t, pc, $"index {index} is out of range for a view of length {length}");
                        }
                        r[i->D] = r[i->A] + index * i->Imm;
                        break;
                    }
                    case XOp.CheckSlice:
                    {
                        int length = (int)r[i->A], start = (int)r[i->B], n = (int)r[i->C];
                        if (start < 0 || n < 0 || (long)start + n > length)
                        {
                            _pc[t] = pc;
                            throw Trap(t, pc, $"SubView({start}, {n}) does not fit in a view of length {length}");
                        }
                        break;
                    }
                    case XOp.Special: r[i->D] = _specials[t * SpecialCount + (int)i->Imm]; break;
                    case XOp.SharedAddress: r[i->D] = (long)_shared + i->Imm; break;
                    case XOp.Atomic: r[i->D] = AtomicOp((IntrinsicKind)i->Sub, (TypeCode)i->Imm, r[i->A], r[i->B], r[i->C]); break;
                    case XOp.Mov: r[i->D] = r[i->A]; break;
                    case XOp.CopyAsync: Buffer.MemoryCopy((void*)r[i->B], (void*)r[i->A], i->Imm, i->Imm); break;
                    case XOp.Nop: break;
                    case XOp.Jump: pc = (int)i->Imm; continue;
                    case XOp.JumpIfZero:
                        if ((int)r[i->A] == 0)
                        {
                            pc = (int)i->Imm;
                            continue;
                        }
                        break;
                    case XOp.JumpIfNonZero:
                        if ((int)r[i->A] != 0)
                        {
                            pc = (int)i->Imm;
                            continue;
                        }
                        break;
                    case XOp.Switch:
                    {
                        int[] table = _program.SwitchTables[i->Imm];
                        uint v = (uint)(int)r[i->A];
                        pc = v < (uint)(table.Length - 1) ? table[v] : table[^1];
                        continue;
                    }
                    case XOp.Ret:
                        _status[t] = Status.Done;
                        _pc[t] = pc;
                        InstructionsExecuted += count;
                        return;
                    case XOp.Barrier:
                        _status[t] = Status.AtBarrier;
                        _pc[t] = pc;
                        InstructionsExecuted += count;
                        return;
                    case XOp.WarpBarrier:
                    case XOp.Shuffle:
                    case XOp.Vote:
                    case XOp.Mma:
                    case XOp.LoadMatrix:
                        _status[t] = Status.AtCollective;
                        _pc[t] = pc;
                        InstructionsExecuted += count;
                        return;
                    default:
                        throw new InvalidOperationException($"interpreter opcode {i->Op}");
                }
                pc++;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref float F(long* r, int slot) => ref *(float*)(r + slot);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref double D(long* r, int slot) => ref *(double*)(r + slot);

    /// <summary>Atomics through the same methods that define their CPU meaning.</summary>
    private static long AtomicOp(IntrinsicKind kind, TypeCode type, long address, long b, long c)
    {
        switch (type)
        {
            case TypeCode.Int32:
            {
                ref int target = ref *(int*)address;
                int v = (int)b;
                return kind switch
                {
                    IntrinsicKind.AtomicAdd => Atomic.Add(ref target, v),
                    IntrinsicKind.AtomicMin => Atomic.Min(ref target, v),
                    IntrinsicKind.AtomicMax => Atomic.Max(ref target, v),
                    IntrinsicKind.AtomicExchange => Atomic.Exchange(ref target, v),
                    IntrinsicKind.AtomicCompareExchange => Atomic.CompareExchange(ref target, v, (int)c),
                    IntrinsicKind.AtomicAnd => Atomic.And(ref target, v),
                    IntrinsicKind.AtomicOr => Atomic.Or(ref target, v),
                    _ => Atomic.Xor(ref target, v),
                };
            }
            case TypeCode.UInt32:
            {
                ref uint target = ref *(uint*)address;
                uint v = (uint)b;
                return (int)(kind switch
                {
                    IntrinsicKind.AtomicAdd => Atomic.Add(ref target, v),
                    IntrinsicKind.AtomicMin => Atomic.Min(ref target, v),
                    IntrinsicKind.AtomicMax => Atomic.Max(ref target, v),
                    IntrinsicKind.AtomicExchange => Atomic.Exchange(ref target, v),
                    IntrinsicKind.AtomicCompareExchange => Atomic.CompareExchange(ref target, v, (uint)c),
                    IntrinsicKind.AtomicAnd => Atomic.And(ref target, v),
                    IntrinsicKind.AtomicOr => Atomic.Or(ref target, v),
                    _ => Atomic.Xor(ref target, v),
                });
            }
            case TypeCode.Int64:
            {
                ref long target = ref *(long*)address;
                return kind switch
                {
                    IntrinsicKind.AtomicAdd => Atomic.Add(ref target, b),
                    IntrinsicKind.AtomicMin => Atomic.Min(ref target, b),
                    IntrinsicKind.AtomicMax => Atomic.Max(ref target, b),
                    IntrinsicKind.AtomicExchange => Atomic.Exchange(ref target, b),
                    IntrinsicKind.AtomicCompareExchange => Atomic.CompareExchange(ref target, b, c),
                    IntrinsicKind.AtomicAnd => Atomic.And(ref target, b),
                    IntrinsicKind.AtomicOr => Atomic.Or(ref target, b),
                    _ => Atomic.Xor(ref target, b),
                };
            }
            case TypeCode.UInt64:
            {
                ref ulong target = ref *(ulong*)address;
                return (long)(kind switch
                {
                    IntrinsicKind.AtomicAdd => Atomic.Add(ref target, (ulong)b),
                    IntrinsicKind.AtomicMin => Atomic.Min(ref target, (ulong)b),
                    IntrinsicKind.AtomicMax => Atomic.Max(ref target, (ulong)b),
                    IntrinsicKind.AtomicExchange => Atomic.Exchange(ref target, (ulong)b),
                    IntrinsicKind.AtomicCompareExchange => Atomic.CompareExchange(ref target, (ulong)b, (ulong)c),
                    IntrinsicKind.AtomicAnd => Atomic.And(ref target, (ulong)b),
                    IntrinsicKind.AtomicOr => Atomic.Or(ref target, (ulong)b),
                    _ => Atomic.Xor(ref target, (ulong)b),
                });
            }
            case TypeCode.Single:
            {
                ref float target = ref *(float*)address;
                float v = BitConverter.Int32BitsToSingle((int)b);
                float old = kind switch
                {
                    IntrinsicKind.AtomicAdd => Atomic.Add(ref target, v),
                    IntrinsicKind.AtomicMin => Atomic.Min(ref target, v),
                    IntrinsicKind.AtomicMax => Atomic.Max(ref target, v),
                    IntrinsicKind.AtomicExchange => Atomic.Exchange(ref target, v),
                    _ => Atomic.CompareExchange(ref target, v, BitConverter.Int32BitsToSingle((int)c)),
                };
                return BitConverter.SingleToInt32Bits(old);
            }
            default:
            {
                ref double target = ref *(double*)address;
                double v = BitConverter.Int64BitsToDouble(b);
                double old = kind switch
                {
                    IntrinsicKind.AtomicAdd => Atomic.Add(ref target, v),
                    IntrinsicKind.AtomicExchange => Atomic.Exchange(ref target, v),
                    _ => Atomic.CompareExchange(ref target, v, BitConverter.Int64BitsToDouble(c)),
                };
                return BitConverter.DoubleToInt64Bits(old);
            }
        }
    }
}
