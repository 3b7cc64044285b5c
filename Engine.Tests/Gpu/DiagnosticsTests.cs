using Engine.Gpu;
using Xunit;

namespace Engine.Tests.Gpu;

#pragma warning disable CS0162, CA1822 // Kernels below are wrong on purpose.

/// <summary>Kernels that use something outside the kernel language, one construct each.</summary>
public static class DiagnosticKernels
{
    private static int s_counter;

    [Kernel]
    public static void AllocatesClass(ArrayView<int> r)
    {
        var list = new List<int> { 1 };
        r[0] = list.Count;
    }

    [Kernel]
    public static void Boxes(ArrayView<int> r)
    {
        object o = r.Length;
        r[0] = o.GetHashCode();
    }

    [Kernel]
    public static void UnboxesAsAnotherType(ArrayView<int> r)
    {
        r[1] = (int)(float)(object)r[0];
    }

    [Kernel]
    public static void TryCatch(ArrayView<int> r)
    {
        try
        {
            r[0] = 1;
        }
        catch (IndexOutOfRangeException)
        {
            r[1] = 2;
        }
    }

    [Kernel]
    public static void StoresStatic(ArrayView<int> r) => s_counter = r[0];

    [Kernel]
    public static void LoadsMutableStatic(ArrayView<int> r) => r[0] = s_counter;

    private static int Factorial(int n) => n <= 1 ? 1 : n * Factorial(n - 1);

    [Kernel]
    public static void Recurses(ArrayView<int> r) => r[0] = Factorial(r[1]);

    [Kernel]
    public static void UsesString(ArrayView<int> r)
    {
        string s = "kernel";
        r[0] = s.Length;
    }

    [Kernel]
    public static void AllocatesArray(ArrayView<int> r)
    {
        int[] scratch = new int[4];
        scratch[r[0] & 3] = 1;
        r[1] = scratch[0];
    }

    [Kernel]
    public static void CheckedArithmetic(ArrayView<int> r) => r[0] = checked(r[1] + r[2]);

    [Kernel]
    public static void Throws(ArrayView<int> r)
    {
        if (r[0] < 0)
        {
            throw new InvalidOperationException();
        }
    }

    [Kernel]
    public static void SharedOfVariableSize(ArrayView<int> r)
    {
        ArrayView<int> tile = SharedMemory.Allocate<int>(r.Length);
        tile[0] = 1;
    }

    [Kernel]
    public static void AtomicOnLocal(ArrayView<int> r)
    {
        int x = r[0];
        Atomic.Add(ref x, 1);
        r[0] = x;
    }

    [Kernel]
    public static void RegisterArrayAsSpan(ArrayView<int> r)
    {
        Float4 v = default;
        Span<float> s = v;
        s.Fill(r[0]);
        r[0] = (int)v[1];
    }

    public static void NotMarked(ArrayView<int> r) => r[0] = 1;

    [Kernel]
    public static int ReturnsValue(ArrayView<int> r) => r[0];
}

public class DiagnosticsTests
{
    public static TheoryData<string, string[]> Rejected() => new()
    {
        { nameof(DiagnosticKernels.AllocatesClass), ["allocation of the class List<Int32>"] },
        { nameof(DiagnosticKernels.Boxes), ["boxing a value of type Int32"] },
        { nameof(DiagnosticKernels.UnboxesAsAnotherType), ["unboxing a Int32 as a Single", "always fails"] },
        { nameof(DiagnosticKernels.TryCatch), ["exception handler"] },
        { nameof(DiagnosticKernels.StoresStatic), ["store to the static field DiagnosticKernels.s_counter"] },
        { nameof(DiagnosticKernels.LoadsMutableStatic), ["mutable static field", "s_counter"] },
        { nameof(DiagnosticKernels.Recurses), ["recursive call", "Factorial"] },
        { nameof(DiagnosticKernels.UsesString), ["string literal"] },
        { nameof(DiagnosticKernels.AllocatesArray), ["array allocation", "SharedMemory.Allocate"] },
        { nameof(DiagnosticKernels.CheckedArithmetic), ["checked arithmetic (add.ovf)"] },
        { nameof(DiagnosticKernels.Throws), ["allocation of the class InvalidOperationException"] },
        { nameof(DiagnosticKernels.SharedOfVariableSize), ["not a non-negative compile-time constant", "GetDynamic"] },
        { nameof(DiagnosticKernels.AtomicOnLocal), ["Atomic.Add on a local variable"] },
        { nameof(DiagnosticKernels.RegisterArrayAsSpan), ["span method Span<Single>.Fill", "Index the [InlineArray] directly"] },
        { nameof(DiagnosticKernels.NotMarked), ["without the [Kernel] attribute"] },
        { nameof(DiagnosticKernels.ReturnsValue), ["kernel returning Int32"] },
    };

    [Theory]
    [MemberData(nameof(Rejected))]
    public void RejectedConstructNamesMethodConstructAndOffset(string kernel, string[] fragments)
    {
        var method = typeof(DiagnosticKernels).GetMethod(kernel)!;
        KernelCompilationException e = Assert.Throws<KernelCompilationException>(() => KernelCompiler.CompileUncached(method));
        Assert.Contains("IL_", e.Message);
        Assert.Contains("is not supported in kernels", e.Message);
        Assert.StartsWith("DiagnosticKernels.", e.Message);
        foreach (string fragment in fragments)
        {
            Assert.Contains(fragment, e.Message);
        }
        Assert.NotEmpty(e.Construct);
        Assert.True(e.IlOffset >= 0);
    }

    [Fact]
    public void InlinedCalleeIsNamedWithItsCallChain()
    {
        KernelCompilationException e = Assert.Throws<KernelCompilationException>(
            () => KernelCompiler.CompileUncached(((Action<ArrayView<int>>)DiagnosticKernels.Recurses).Method));
        Assert.Equal("DiagnosticKernels.Factorial", e.Method);
        Assert.Contains("DiagnosticKernels.Recurses (IL_", e.Message);
    }

    [Fact]
    public void LambdaKernelIsRefusedWithAClearMessage()
    {
        using var cpu = new CpuAccelerator();
        var e = Assert.Throws<ArgumentException>(() => cpu.LoadKernel<ArrayView<int>>(r => r[0] = 1));
        Assert.Contains("static method marked [Kernel]", e.Message);
    }

    [Fact]
    public void LoadKernelReportsTheErrorBeforeAnyLaunch()
    {
        using var cpu = new CpuAccelerator();
        var e = Assert.Throws<KernelCompilationException>(() => cpu.LoadKernel<ArrayView<int>>(DiagnosticKernels.TryCatch));
        Assert.Equal("DiagnosticKernels.TryCatch", e.Method);
    }
}
