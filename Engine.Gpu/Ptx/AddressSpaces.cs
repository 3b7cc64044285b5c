using Engine.Gpu.IR;

namespace Engine.Gpu.Ptx;

/// <summary>The memory a pointer points into, as far as the compiler can tell.</summary>
internal enum AddressSpace : byte
{
    /// <summary>Not yet known (the lattice's top).</summary>
    Unknown,
    Global,
    Shared,
    /// <summary>Either; accessed through generic addressing.</summary>
    Generic,
}

/// <summary>
/// Address-space inference: kernel pointer parameters point to global memory, shared allocations to
/// shared memory, and pointer arithmetic keeps the space of its base. Phis join (different spaces give
/// generic). Hot loads and stores so become ld.global / ld.shared instead of generic ld.
/// </summary>
internal static class AddressSpaces
{
    public static Dictionary<Value, AddressSpace> Infer(Function f)
    {
        var space = new Dictionary<Value, AddressSpace>();
        foreach (Parameter p in f.Params)
        {
            if (p.Type == IrType.Ptr)
            {
                space[p] = AddressSpace.Global;
            }
        }
        bool changed = true;
        while (changed)
        {
            changed = false;
            foreach (Block b in f.Blocks)
            {
                foreach (Phi phi in b.Phis)
                {
                    if (phi.Type != IrType.Ptr)
                    {
                        continue;
                    }
                    AddressSpace s = AddressSpace.Unknown;
                    foreach (Value a in phi.Args)
                    {
                        s = Join(s, Of(a));
                    }
                    changed |= Set(phi, s);
                }
                foreach (Instr i in b.Body)
                {
                    if (i.Type != IrType.Ptr)
                    {
                        continue;
                    }
                    AddressSpace s = i.Op switch
                    {
                        Op.SharedAlloc or Op.SharedDynamic => AddressSpace.Shared,
                        Op.PtrAdd or Op.ViewElement => Of(i.Args[0]),
                        Op.Select => Join(Of(i.Args[1]), Of(i.Args[2])),
                        // Pointers loaded from memory or made from integers: CUDA's global window is
                        // the identity on generic addresses, but nothing proves the space here.
                        _ => AddressSpace.Generic,
                    };
                    changed |= Set(i, s);
                }
            }
        }
        return space;

        AddressSpace Of(Value v) => v is Constant ? AddressSpace.Generic : space.GetValueOrDefault(v);

        bool Set(Value v, AddressSpace s)
        {
            if (space.GetValueOrDefault(v) == s)
            {
                return false;
            }
            space[v] = s;
            return true;
        }
    }

    private static AddressSpace Join(AddressSpace a, AddressSpace b) =>
        a == AddressSpace.Unknown ? b : b == AddressSpace.Unknown ? a : a == b ? a : AddressSpace.Generic;
}
