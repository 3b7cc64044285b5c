using System.Reflection;
using System.Reflection.Emit;

namespace Engine.Gpu.Frontend;

/// <summary>One decoded IL instruction.</summary>
internal sealed class IlInstr
{
    public int Offset;
    public int NextOffset;
    public OpCode Code;
    /// <summary>Integer immediates, tokens and variable indices.</summary>
    public long Int;
    /// <summary>Float immediates.</summary>
    public double Real;
    /// <summary>Branch target offset (absolute).</summary>
    public int Target = -1;
    /// <summary>Switch target offsets (absolute).</summary>
    public int[] SwitchTargets = [];
    /// <summary>The token of a preceding <c>constrained.</c> prefix, or 0.</summary>
    public int ConstrainedToken;

    public override string ToString() => $"IL_{Offset:X4} {Code.Name}";
}

/// <summary>Decodes a method body into <see cref="IlInstr"/>s with a table built from <see cref="OpCodes"/>.</summary>
internal static class IlReader
{
    private static readonly OpCode[] OneByte = new OpCode[256];
    private static readonly OpCode[] TwoByte = new OpCode[256];

    static IlReader()
    {
        foreach (FieldInfo field in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            var code = (OpCode)field.GetValue(null)!;
            ushort value = (ushort)code.Value;
            if (code.Size == 1)
            {
                OneByte[value] = code;
            }
            else
            {
                TwoByte[value & 0xFF] = code;
            }
        }
    }

    public static List<IlInstr> Decode(byte[] il, string method)
    {
        var result = new List<IlInstr>();
        int pos = 0;
        int constrained = 0;
        int prefixStart = -1;
        while (pos < il.Length)
        {
            int start = pos;
            OpCode code = il[pos] == 0xFE ? TwoByte[il[pos + 1]] : OneByte[il[pos]];
            pos += il[pos] == 0xFE ? 2 : 1;
            if (code.Size == 0)
            {
                throw new KernelCompilationException(method, start, $"an unknown IL opcode 0x{il[start]:X2}");
            }
            var instr = new IlInstr { Offset = start, Code = code };
            switch (code.OperandType)
            {
                case OperandType.InlineNone:
                    break;
                case OperandType.ShortInlineBrTarget:
                    instr.Target = pos + 1 + (sbyte)il[pos];
                    pos += 1;
                    break;
                case OperandType.InlineBrTarget:
                    instr.Target = pos + 4 + BitConverter.ToInt32(il, pos);
                    pos += 4;
                    break;
                case OperandType.ShortInlineI:
                    instr.Int = code == OpCodes.Ldc_I4_S ? (sbyte)il[pos] : il[pos];
                    pos += 1;
                    break;
                case OperandType.ShortInlineVar:
                    instr.Int = il[pos];
                    pos += 1;
                    break;
                case OperandType.InlineVar:
                    instr.Int = BitConverter.ToUInt16(il, pos);
                    pos += 2;
                    break;
                case OperandType.InlineI:
                case OperandType.InlineMethod:
                case OperandType.InlineField:
                case OperandType.InlineType:
                case OperandType.InlineTok:
                case OperandType.InlineString:
                case OperandType.InlineSig:
                    instr.Int = BitConverter.ToInt32(il, pos);
                    pos += 4;
                    break;
                case OperandType.InlineI8:
                    instr.Int = BitConverter.ToInt64(il, pos);
                    pos += 8;
                    break;
                case OperandType.ShortInlineR:
                    instr.Real = BitConverter.ToSingle(il, pos);
                    pos += 4;
                    break;
                case OperandType.InlineR:
                    instr.Real = BitConverter.ToDouble(il, pos);
                    pos += 8;
                    break;
                case OperandType.InlineSwitch:
                    int n = BitConverter.ToInt32(il, pos);
                    pos += 4;
                    int end = pos + 4 * n;
                    instr.SwitchTargets = new int[n];
                    for (int k = 0; k < n; k++)
                    {
                        instr.SwitchTargets[k] = end + BitConverter.ToInt32(il, pos + 4 * k);
                    }
                    pos = end;
                    break;
                default:
                    throw new KernelCompilationException(method, start, $"the IL operand kind {code.OperandType}");
            }
            instr.NextOffset = pos;
            // Prefixes modify the next instruction; only constrained. changes meaning for us.
            // A branch may target a prefix, so the prefixed instruction starts where its first prefix does.
            if (code == OpCodes.Constrained)
            {
                constrained = (int)instr.Int;
                prefixStart = prefixStart < 0 ? start : prefixStart;
                continue;
            }
            if (code == OpCodes.Readonly || code == OpCodes.Volatile || code == OpCodes.Unaligned || code == OpCodes.Tailcall)
            {
                prefixStart = prefixStart < 0 ? start : prefixStart;
                continue;
            }
            instr.ConstrainedToken = constrained;
            if (prefixStart >= 0)
            {
                instr.Offset = prefixStart;
            }
            constrained = 0;
            prefixStart = -1;
            result.Add(instr);
        }
        return result;
    }

    public static bool EndsBlock(OpCode c) =>
        c.FlowControl is FlowControl.Branch or FlowControl.Cond_Branch or FlowControl.Return or FlowControl.Throw;
}

/// <summary>A basic block of IL: a range of instructions and its successor blocks.</summary>
internal sealed class IlBlock
{
    public int Index;
    public int First;
    public int Last;
    public List<IlBlock> Succs = [];
    /// <summary>Incoming edges from reachable blocks (a switch may contribute several).</summary>
    public int ReachablePredEdges;
    public bool Reachable;
    public int StartOffset;
}

/// <summary>The control-flow graph of one method's IL.</summary>
internal sealed class IlCfg
{
    public required List<IlInstr> Instrs;
    public required List<IlBlock> Blocks;
    /// <summary>Reachable blocks in reverse postorder, entry first.</summary>
    public required List<IlBlock> Order;
    public int ReachableReturns;

    public static IlCfg Build(List<IlInstr> instrs)
    {
        var leaders = new SortedSet<int> { 0 };
        var indexOf = new Dictionary<int, int>();
        for (int k = 0; k < instrs.Count; k++)
        {
            indexOf[instrs[k].Offset] = k;
        }
        for (int k = 0; k < instrs.Count; k++)
        {
            IlInstr i = instrs[k];
            if (i.Target >= 0)
            {
                leaders.Add(indexOf[i.Target]);
            }
            foreach (int t in i.SwitchTargets)
            {
                leaders.Add(indexOf[t]);
            }
            if ((IlReader.EndsBlock(i.Code) || i.Code == OpCodes.Switch) && k + 1 < instrs.Count)
            {
                leaders.Add(k + 1);
            }
        }
        var blocks = new List<IlBlock>();
        var blockAt = new Dictionary<int, IlBlock>();
        int[] starts = [.. leaders];
        for (int b = 0; b < starts.Length; b++)
        {
            var block = new IlBlock
            {
                Index = b,
                First = starts[b],
                Last = (b + 1 < starts.Length ? starts[b + 1] : instrs.Count) - 1,
                StartOffset = instrs[starts[b]].Offset,
            };
            blocks.Add(block);
            blockAt[block.First] = block;
        }
        foreach (IlBlock block in blocks)
        {
            IlInstr last = instrs[block.Last];
            if (last.Code == OpCodes.Switch)
            {
                foreach (int t in last.SwitchTargets)
                {
                    block.Succs.Add(blockAt[indexOf[t]]);
                }
            }
            else if (last.Target >= 0)
            {
                block.Succs.Add(blockAt[indexOf[last.Target]]);
            }
            bool fallsThrough = last.Code.FlowControl is not (FlowControl.Branch or FlowControl.Return or FlowControl.Throw);
            if (fallsThrough && block.Last + 1 < instrs.Count)
            {
                // A conditional branch's fall-through is its false edge; keep it after the taken edge.
                block.Succs.Add(blockAt[block.Last + 1]);
            }
        }
        // Reverse postorder over reachable blocks.
        var post = new List<IlBlock>();
        var seen = new HashSet<IlBlock>();
        var stack = new Stack<(IlBlock, int)>();
        stack.Push((blocks[0], 0));
        seen.Add(blocks[0]);
        while (stack.Count > 0)
        {
            var (b, next) = stack.Pop();
            if (next < b.Succs.Count)
            {
                stack.Push((b, next + 1));
                if (seen.Add(b.Succs[next]))
                {
                    stack.Push((b.Succs[next], 0));
                }
            }
            else
            {
                post.Add(b);
            }
        }
        post.Reverse();
        int returns = 0;
        foreach (IlBlock b in post)
        {
            b.Reachable = true;
            foreach (IlBlock s in b.Succs)
            {
                s.ReachablePredEdges++;
            }
            if (instrs[b.Last].Code == OpCodes.Ret)
            {
                returns++;
            }
        }
        return new IlCfg { Instrs = instrs, Blocks = blocks, Order = post, ReachableReturns = returns };
    }
}
