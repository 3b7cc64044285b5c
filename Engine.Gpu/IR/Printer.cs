using System.Text;

namespace Engine.Gpu.IR;

/// <summary>A readable text form of a function, for diagnostics and tests.</summary>
internal static class Printer
{
    public static string Print(Function f)
    {
        f.Renumber();
        var sb = new StringBuilder();
        sb.Append("kernel ").Append(f.Name).Append('(')
            .AppendJoin(", ", f.Params.Select(p => $"{p.Type} %{p.Id} {p.Name}")).AppendLine(")");
        foreach (Block b in f.Blocks)
        {
            sb.Append(b).Append(": ; preds ").AppendJoin(", ", b.Preds).AppendLine();
            foreach (Phi phi in b.Phis)
            {
                sb.Append("  %").Append(phi.Id).Append(" = phi ").Append(phi.Type).Append(' ')
                    .AppendJoin(", ", phi.Args.Select(Name)).AppendLine();
            }
            foreach (Instr i in b.Body)
            {
                sb.Append("  ").AppendLine(Format(i));
            }
            if (b.Terminator is { } t)
            {
                sb.Append("  ").AppendLine(Format(t));
            }
        }
        return sb.ToString();
    }

    public static string Name(Value v) => v switch
    {
        Constant c => c.ToString(),
        _ => "%" + v.Id,
    };

    public static string Format(Instr i)
    {
        string imm = i.Op switch
        {
            Op.Cmp => "." + (CmpKind)i.Imm,
            Op.Conv => "." + (ConvKind)i.Imm,
            Op.Math => "." + (MathFn)i.Imm,
            Op.Load or Op.Store => "." + (MemType)i.Imm,
            Op.Special => "." + (SpecialReg)i.Imm,
            Op.Shuffle or Op.Vote or Op.Atomic or Op.Fence or Op.Mma => "." + (IntrinsicKind)i.Imm,
            Op.Part or Op.CopyAsync or Op.CopyAsyncWait or Op.LoadMatrix => " #" + i.Imm,
            Op.ViewElement or Op.SharedAlloc => " #" + i.Imm,
            _ => "",
        };
        string lhs = i.Type == IrType.Void ? "" : $"%{i.Id} = ";
        string targets = i.Targets.Length > 0 ? " -> " + string.Join(", ", i.Targets.Select(t => t.ToString())) : "";
        string loc = i.Loc is null ? "" : "   ; " + i.Loc;
        return $"{lhs}{i.Op}{imm} {i.Type} {string.Join(", ", i.Args.Select(Name))}{targets}{loc}";
    }
}
