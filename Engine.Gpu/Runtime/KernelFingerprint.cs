using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Engine.Gpu.Frontend;

namespace Engine.Gpu;

/// <summary>
/// A hash of everything a kernel's compiled code depends on, computed from metadata without compiling:
/// the IL (and local types) of the kernel and of every method it can reach through calls, the generic
/// specialisation, the layouts of the types it touches, the values of the static readonly fields it
/// reads, the target and the compiler's version. Two kernels with the same fingerprint compile to the same PTX.
/// </summary>
/// <remarks>
/// The walk follows every call token, resolved in the caller's generic context and through constrained
/// calls the way the translator does (<see cref="Translator.TryResolveConstrained"/>), so it reaches a
/// superset of what the translator inlines. It stops at the two assemblies whose code is part of the
/// compiler's version: Engine.Gpu (intrinsics and their lowering) and the core library (math and
/// generic-math operators), identified by their module version ids and the runtime version.
/// </remarks>
internal static class KernelFingerprint
{
    /// <summary>
    /// Changes whenever the compiler or the runtime changes: Engine.Gpu's module version id is new on
    /// every build that changes its code, and the runtime version pins the core library's IL.
    /// </summary>
    public static string CompilerVersion { get; } =
        $"Engine.Gpu {typeof(KernelFingerprint).Assembly.ManifestModule.ModuleVersionId} / .NET {Environment.Version} / " +
        $"{typeof(object).Assembly.ManifestModule.ModuleVersionId}";

    /// <summary>The fingerprint as 64 lower-case hex digits (SHA-256).</summary>
    /// <param name="kernel">The kernel (a closed generic instantiation if generic).</param>
    /// <param name="target">The code target, e.g. "sm_80 ptx 7.0".</param>
    public static string Compute(MethodInfo kernel, string target)
    {
        var walk = new Walk();
        walk.Text("engine-kernel-fingerprint/1");
        walk.Text(CompilerVersion);
        walk.Text(target);
        walk.Method(kernel);
        return Convert.ToHexStringLower(walk.Hash.GetHashAndReset());
    }

    private sealed class Walk
    {
        public readonly IncrementalHash Hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private readonly HashSet<MethodBase> _methods = [];
        private readonly HashSet<Type> _types = [];
        private readonly Assembly _compiler = typeof(KernelFingerprint).Assembly;
        private readonly Assembly _coreLibrary = typeof(object).Assembly;

        public void Text(string s)
        {
            // Length-prefixed so that concatenations cannot collide ("ab"+"c" vs "a"+"bc").
            Span<byte> length = stackalloc byte[4];
            int bytes = Encoding.UTF8.GetByteCount(s);
            BitConverter.TryWriteBytes(length, bytes);
            Hash.AppendData(length);
            Hash.AppendData(Encoding.UTF8.GetBytes(s));
        }

        private bool IsVersioned(Assembly assembly) => assembly == _compiler || assembly == _coreLibrary;

        public void Method(MethodBase method)
        {
            if (!_methods.Add(method))
            {
                return;
            }
            Text("method");
            Text(Describe(method));
            // Both attributes change what the compiler does with the method (Intrinsic is public, so user code may carry it).
            Text($"intrinsic {method.GetCustomAttribute<IntrinsicAttribute>()?.Kind.ToString() ?? "-"} kernel {method.IsDefined(typeof(KernelAttribute), false)}");
            if (IsVersioned(method.Module.Assembly))
            {
                return;
            }
            foreach (ParameterInfo p in method.GetParameters())
            {
                Type(p.ParameterType);
            }
            MethodBody? body = method.GetMethodBody();
            if (body is null)
            {
                Text("no body");
                return;
            }
            byte[] il = body.GetILAsByteArray() ?? [];
            foreach (LocalVariableInfo local in body.LocalVariables)
            {
                Type(local.LocalType);
            }
            Type[] typeArgs = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : [];
            Type[] methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : [];
            List<IlInstr> instrs;
            try
            {
                instrs = IlReader.Decode(il, method.Name);
            }
            catch (KernelCompilationException)
            {
                Hash.AppendData(il); // The compiler rejects this IL; only its bytes can tell it apart.
                return;
            }
            // Metadata tokens move when unrelated members are added to the assembly, so the IL is hashed
            // with its tokens blanked and each token's resolved meaning hashed in their place.
            byte[] normalised = (byte[])il.Clone();
            foreach (IlInstr ins in instrs)
            {
                if (HasToken(ins.Code.OperandType))
                {
                    normalised.AsSpan(ins.NextOffset - 4, 4).Clear();
                }
                if (ins.ConstrainedToken != 0 && ins.Offset + 6 <= il.Length && il[ins.Offset] == 0xFE && il[ins.Offset + 1] == 0x16)
                {
                    normalised.AsSpan(ins.Offset + 2, 4).Clear();
                }
            }
            Hash.AppendData(BitConverter.GetBytes(il.Length));
            Hash.AppendData(normalised);
            foreach (IlInstr ins in instrs)
            {
                Token(method.Module, ins, typeArgs, methodArgs);
            }
        }

        private void Token(Module module, IlInstr ins, Type[] typeArgs, Type[] methodArgs)
        {
            try
            {
                switch (ins.Code.OperandType)
                {
                    case OperandType.InlineMethod:
                        MethodBase callee = module.ResolveMethod((int)ins.Int, typeArgs, methodArgs)!;
                        if (ins.ConstrainedToken != 0)
                        {
                            Type constrained = module.ResolveType(ins.ConstrainedToken, typeArgs, methodArgs);
                            Text($"constrained {constrained.AssemblyQualifiedName}");
                            Type(constrained);
                            callee = Translator.TryResolveConstrained(constrained, callee) ?? callee;
                        }
                        Text($"call {Describe(callee)}");
                        if (callee.DeclaringType is { } owner)
                        {
                            Type(owner);
                        }
                        Method(callee);
                        break;
                    case OperandType.InlineField:
                        FieldInfo field = module.ResolveField((int)ins.Int, typeArgs, methodArgs)!;
                        Text($"field {field.DeclaringType?.AssemblyQualifiedName}::{field.Name}");
                        Type(field.DeclaringType!);
                        Type(field.FieldType);
                        if (field.IsStatic && (field.IsInitOnly || field.IsLiteral) && field.FieldType.IsPrimitive)
                        {
                            // The compiler folds these to constants, so their values are part of the code.
                            Text($"static {field.Name}={Convert.ToString(field.GetValue(null), System.Globalization.CultureInfo.InvariantCulture)}");
                        }
                        break;
                    case OperandType.InlineType:
                        Type resolved = module.ResolveType((int)ins.Int, typeArgs, methodArgs);
                        Text($"type {resolved.AssemblyQualifiedName ?? resolved.ToString()}");
                        Type(resolved);
                        break;
                    case OperandType.InlineString:
                        Text(module.ResolveString((int)ins.Int));
                        break;
                    case OperandType.InlineTok:
                        MemberInfo member = module.ResolveMember((int)ins.Int, typeArgs, methodArgs)!;
                        Text(member.ToString() ?? "");
                        break;
                }
            }
            catch (Exception e) when (e is ArgumentException or BadImageFormatException or TargetInvocationException or TypeInitializationException)
            {
                Text($"unresolved token {ins.Int:X8}"); // The translator reports it; the cache never holds a failure.
            }
        }

        /// <summary>A type's identity and layout: its fields in order with their offsets, the layout attributes, the inline-array length.</summary>
        public void Type(Type type)
        {
            if (!_types.Add(type))
            {
                return;
            }
            Text("type");
            Text(type.AssemblyQualifiedName ?? type.ToString());
            if (type.HasElementType)
            {
                Type(type.GetElementType()!);
                return;
            }
            if (type.IsGenericParameter || IsVersioned(type.Assembly) && !type.IsGenericType)
            {
                return;
            }
            if (type.IsGenericType)
            {
                foreach (Type a in type.GetGenericArguments())
                {
                    Type(a);
                }
                if (IsVersioned(type.Assembly))
                {
                    return;
                }
            }
            if (type.IsValueType && !type.ContainsGenericParameters)
            {
                Text($"size {SizeOf(type)} layout {type.StructLayoutAttribute?.Value} pack {type.StructLayoutAttribute?.Pack}");
                if (type.GetCustomAttribute<InlineArrayAttribute>() is { } inline)
                {
                    Text($"inline array {inline.Length}");
                }
            }
            foreach (FieldInfo f in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
            {
                string offset = type.IsValueType && !type.ContainsGenericParameters && !type.IsGenericTypeDefinition ? OffsetOf(type, f) : "";
                Text($"field {f.Name}: {f.FieldType.AssemblyQualifiedName ?? f.FieldType.ToString()} @{offset}");
                Type(f.FieldType);
            }
        }

        private static string OffsetOf(Type type, FieldInfo f)
        {
            try
            {
                return Marshal.OffsetOf(type, f.Name).ToString();
            }
            catch (ArgumentException)
            {
                return "?"; // Auto layout has no marshalled offset; the field order and the size stand in.
            }
        }

        private static int SizeOf(Type type)
        {
            if (type.IsByRefLike)
            {
                return -1; // Not a valid generic argument; the translator reports such a type itself.
            }
            try
            {
                return (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type).Invoke(null, null)!;
            }
            catch (Exception e) when (e is ArgumentException or TargetInvocationException or NotSupportedException)
            {
                return -1;
            }
        }
    }

    private static bool HasToken(OperandType t) => t is OperandType.InlineMethod or OperandType.InlineField or OperandType.InlineType
        or OperandType.InlineTok or OperandType.InlineString or OperandType.InlineSig;

    private static string Describe(MethodBase m)
    {
        string generic = m.IsGenericMethod ? "<" + string.Join(",", m.GetGenericArguments().Select(a => a.AssemblyQualifiedName ?? a.ToString())) + ">" : "";
        return $"{m.DeclaringType?.AssemblyQualifiedName}::{m}{generic}";
    }
}
