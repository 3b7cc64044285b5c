using System.Reflection;
using Engine.Gpu;

namespace Engine.Kernels;

/// <summary>
/// Every kernel this library can launch: each [Kernel] method, generic ones closed over every
/// combination of the structs in this assembly that satisfy their constraints (the tiles, head widths,
/// layouts, schedules and epilogues the launchers choose from). The compile-time benchmark and the
/// ptxas tests go through this list, so a new kernel cannot be left out of either.
/// </summary>
internal static class KernelInventory
{
    public static IEnumerable<MethodInfo> All()
    {
        Type[] types = typeof(KernelInventory).Assembly.GetTypes();
        foreach (MethodInfo method in types.SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Where(m => m.GetCustomAttribute<KernelAttribute>() is not null).OrderBy(m => m.DeclaringType!.Name).ThenBy(m => m.Name))
        {
            IEnumerable<Type[]> combinations = [[]];
            foreach (Type parameter in method.GetGenericArguments())
            {
                Type constraint = parameter.GetGenericParameterConstraints().Single(c => c.IsInterface);
                Type[] candidates = types.Where(t => t.IsValueType && constraint.IsAssignableFrom(t)).OrderBy(t => t.Name).ToArray();
                combinations = combinations.SelectMany(prefix => candidates.Select(c => prefix.Append(c).ToArray())).ToList();
            }
            foreach (Type[] arguments in combinations)
            {
                yield return arguments.Length == 0 ? method : method.MakeGenericMethod(arguments);
            }
        }
    }

    /// <summary>A readable name: Type.Method&lt;Arg, ...&gt;.</summary>
    public static string Name(MethodInfo m) =>
        m.DeclaringType!.Name + "." + m.Name + (m.IsGenericMethod ? "<" + string.Join(", ", m.GetGenericArguments().Select(a => a.Name)) + ">" : "");
}
