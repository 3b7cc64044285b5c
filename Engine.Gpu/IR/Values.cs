namespace Engine.Gpu.IR;

/// <summary>Where an IR instruction came from: the C# method and the IL offset in it.</summary>
internal sealed record SourceLoc(string Method, int IlOffset)
{
    public override string ToString() => $"{Method} IL_{IlOffset:X4}";
}

/// <summary>An SSA value: a constant, a kernel parameter leaf, a phi or an instruction result.</summary>
internal abstract class Value
{
    protected Value(IrType type) => Type = type;

    public IrType Type { get; set; }

    /// <summary>A number unique in the function, assigned by <see cref="Function.Renumber"/>.</summary>
    public int Id { get; set; } = -1;
}

/// <summary>A constant; floats hold their IEEE bits, I32 its sign-extended value, Ptr zero.</summary>
internal sealed class Constant : Value
{
    public Constant(IrType type, long bits) : base(type) => Bits = bits;

    public long Bits { get; }

    public int I32 => (int)Bits;

    public float F32 => BitConverter.Int32BitsToSingle((int)Bits);

    public double F64 => BitConverter.Int64BitsToDouble(Bits);

    public static Constant Int(int v) => new(IrType.I32, v);

    public static Constant Long(long v) => new(IrType.I64, v);

    public static Constant Float(float v) => new(IrType.F32, BitConverter.SingleToInt32Bits(v));

    public static Constant Double(double v) => new(IrType.F64, BitConverter.DoubleToInt64Bits(v));

    public static Constant Zero(IrType type) => new(type, 0);

    public override string ToString() => Type switch
    {
        IrType.F32 => $"{F32:R}f",
        IrType.F64 => $"{F64:R}d",
        IrType.I64 => $"{Bits}L",
        IrType.Ptr => "null",
        _ => Bits.ToString(),
    };
}

/// <summary>One scalar leaf of the flattened kernel parameter list.</summary>
internal sealed class Parameter : Value
{
    public Parameter(IrType type, int index, string name) : base(type)
    {
        Index = index;
        Name = name;
    }

    public int Index { get; }

    public string Name { get; }

    /// <summary>
    /// A proven alignment of the pointer this parameter holds, in bytes (0: unknown). Set for views of
    /// 16-byte elements, whose alignment the launch checks, so the PTX emitter may use vector accesses.
    /// </summary>
    public int Alignment { get; init; }
}

/// <summary>A phi: operand i flows in from the block's predecessor i.</summary>
internal sealed class Phi : Value
{
    public Phi(IrType type, Block block) : base(type) => Block = block;

    public Block Block { get; set; }

    public List<Value> Args { get; } = [];
}

/// <summary>An instruction; terminators name their successor blocks in <see cref="Targets"/>.</summary>
internal sealed class Instr : Value
{
    public Instr(Op op, IrType type, Value[] args, long imm = 0, int imm2 = 0) : base(type)
    {
        Op = op;
        Args = args;
        Imm = imm;
        Imm2 = imm2;
    }

    public Op Op { get; set; }

    public Value[] Args { get; set; }

    public long Imm { get; set; }

    public int Imm2 { get; set; }

    public Block[] Targets { get; set; } = [];

    public Block? Block { get; set; }

    public SourceLoc? Loc { get; set; }
}

/// <summary>A basic block: phis, then instructions, then one terminator.</summary>
internal sealed class Block
{
    public Block(int id) => Id = id;

    public int Id { get; set; }

    public List<Phi> Phis { get; } = [];

    public List<Instr> Body { get; } = [];

    public Instr? Terminator { get; set; }

    /// <summary>One entry per incoming edge (a switch may contribute several).</summary>
    public List<Block> Preds { get; } = [];

    public IEnumerable<Block> Succs => Terminator?.Targets ?? [];

    public override string ToString() => $"b{Id}";
}

/// <summary>A kernel after inlining: one function in SSA form.</summary>
internal sealed class Function
{
    public Function(string name) => Name = name;

    public string Name { get; }

    public List<Parameter> Params { get; } = [];

    public List<Block> Blocks { get; } = [];

    public Block Entry => Blocks[0];

    /// <summary>Gives every value and block a dense number; returns the number of values.</summary>
    public int Renumber()
    {
        int next = 0;
        foreach (Parameter p in Params)
        {
            p.Id = next++;
        }
        for (int b = 0; b < Blocks.Count; b++)
        {
            Blocks[b].Id = b;
            foreach (Phi phi in Blocks[b].Phis)
            {
                phi.Id = next++;
            }
            foreach (Instr i in Blocks[b].Body)
            {
                i.Id = next++;
            }
            Blocks[b].Terminator!.Id = next++;
        }
        return next;
    }

    public IEnumerable<Instr> Instructions() => Blocks.SelectMany(b => b.Body);
}
