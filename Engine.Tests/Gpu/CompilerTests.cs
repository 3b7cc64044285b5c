using System.Diagnostics;
using Engine.Gpu;
using Engine.Gpu.IR;
using Xunit;

namespace Engine.Tests.Gpu;

public static class CompilerKernels
{
    [Kernel]
    public static void Polynomial(ArrayView<float> x, ArrayView<float> y, int iterations)
    {
        int i = Grid.GlobalIndexX;
        float v = x[i];
        float acc = 0f;
        for (int k = 0; k < iterations; k++)
        {
            acc = acc * v + 0.5f;
            v = v * 0.999f + 0.001f;
        }
        y[i] = acc;
    }

    [Kernel]
    public static void ConstantBranch(ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        if (Eight.Value > 4)
        {
            r[i] = Eight.Value * 2;
        }
        else
        {
            r[i] = -1;
        }
    }
}

/// <summary>The IR, its verifier and passes, and the interpreter's speed.</summary>
public class CompilerTests
{
    [Fact]
    public void GenericConstantsFoldAndDeadBranchesDisappear()
    {
        Function f = KernelCompiler.CompileUncached(((Action<ArrayView<int>>)CompilerKernels.ConstantBranch).Method).Function;
        string ir = Printer.Print(f);
        Assert.Single(f.Blocks);
        Assert.Contains("Store.I32 Void %", ir);
        Assert.Contains(", 16", ir);
        Assert.DoesNotContain("-1", ir);
    }

    [Fact]
    public void LoopsKeepTheirPhisAndPassTheVerifier()
    {
        Function f = KernelCompiler.CompileUncached(((Action<ArrayView<float>, ArrayView<float>, int>)CompilerKernels.Polynomial).Method).Function;
        Verifier.Verify(f, "test");
        Assert.Contains(f.Blocks, b => b.Phis.Count == 3); // acc, v and k around the loop.
        Assert.All(f.Instructions(), i => Assert.NotNull(i.Loc));
    }

    [Fact]
    public void ConstantTripCountLoopsUnrollAndRegisterArraysFold()
    {
        Function f = KernelCompiler.CompileUncached(((Action<ArrayView<float>, ArrayView<float>>)StructKernels.RegisterArrayLoops).Method).Function;
        string ir = Printer.Print(f);
        Assert.DoesNotContain(f.Blocks, b => b.Phis.Count > 0);    // No loop is left.
        // acc[k & 3] folds to a register; acc[(k + i) % 4] depends on the thread: 3 selects to read and
        // 4 to write back, in each of the 10 unrolled iterations.
        Assert.Equal(70, f.Instructions().Count(i => i.Op == Op.Select));
        Assert.Contains("Rem I32", ir);

        Function blocked = KernelCompiler.CompileUncached(((Action<ArrayView<int>, ArrayView<int>>)StructKernels.Blocked<Eight>).Method).Function;
        Assert.DoesNotContain(blocked.Blocks, b => b.Phis.Count > 0);
        Assert.Equal(8, blocked.Instructions().Count(i => i.Op == Op.Load));
    }

    [Fact]
    public void RepeatedPureValuesAreComputedOnce()
    {
        Function f = KernelCompiler.CompileUncached(((Action<ArrayView<float>, ArrayView<float>>)CollectiveKernels.GroupSum).Method).Function;
        // Group.IdxX is read directly and again inside Grid.GlobalIndexX; Grid.IdxX twice as well.
        Assert.Equal(1, f.Instructions().Count(i => i.Op == Op.Special && (SpecialReg)i.Imm == SpecialReg.GroupIdxX));
        Assert.Equal(1, f.Instructions().Count(i => i.Op == Op.Special && (SpecialReg)i.Imm == SpecialReg.GridIdxX));
        Assert.Equal(1, f.Instructions().Count(i => i.Op == Op.SharedAlloc));
    }

    [Fact]
    public void LoopsWithRuntimeBoundsStayLoops()
    {
        Function f = KernelCompiler.CompileUncached(((Action<ArrayView<float>, ArrayView<float>, int>)CompilerKernels.Polynomial).Method).Function;
        Assert.Contains(f.Blocks, b => b.Phis.Count == 3);
    }

    [Fact]
    public void VerifierRejectsAUseThatItsDefinitionDoesNotDominate()
    {
        var f = new Function("broken");
        var entry = new Block(0);
        var left = new Block(1);
        var right = new Block(2);
        var join = new Block(3);
        f.Blocks.AddRange([entry, left, right, join]);
        var p = new Parameter(IrType.I32, 0, "p");
        f.Params.Add(p);
        entry.Terminator = new Instr(Op.CondBr, IrType.Void, [p]) { Targets = [left, right], Block = entry };
        left.Preds.Add(entry);
        right.Preds.Add(entry);
        var onlyLeft = new Instr(Op.Add, IrType.I32, [p, Constant.Int(1)]) { Block = left };
        left.Body.Add(onlyLeft);
        left.Terminator = new Instr(Op.Br, IrType.Void, []) { Targets = [join], Block = left };
        right.Terminator = new Instr(Op.Br, IrType.Void, []) { Targets = [join], Block = right };
        join.Preds.AddRange([left, right]);
        join.Body.Add(new Instr(Op.Mul, IrType.I32, [onlyLeft, onlyLeft]) { Block = join });
        join.Terminator = new Instr(Op.Ret, IrType.Void, []) { Block = join };
        var e = Assert.Throws<InvalidOperationException>(() => Verifier.Verify(f, "a hand-made test"));
        Assert.Contains("does not dominate", e.Message);
        Assert.Contains("after a hand-made test", e.Message);
    }

    [Fact]
    public void VerifierRejectsMismatchedOperandTypes()
    {
        var f = new Function("typed");
        var entry = new Block(0);
        f.Blocks.Add(entry);
        entry.Body.Add(new Instr(Op.Add, IrType.I32, [Constant.Int(1), Constant.Float(2f)]) { Block = entry });
        entry.Terminator = new Instr(Op.Ret, IrType.Void, []) { Block = entry };
        var e = Assert.Throws<InvalidOperationException>(() => Verifier.Verify(f, "typing"));
        Assert.Contains("operands must match the result type", e.Message);
    }

    [Fact]
    public void ParallelGroupsGiveTheSameResultsAndErrors()
    {
        float[] x = Enumerable.Range(0, 4096).Select(k => k * 0.001f).ToArray();
        float[] Run(int parallel)
        {
            using var cpu = new CpuAccelerator(warpSize: 4, parallelGroups: parallel);
            using var xb = cpu.Allocate<float>(x);
            using var sums = cpu.Allocate<float>(64);
            cpu.LoadKernel<ArrayView<float>, ArrayView<float>>(CollectiveKernels.GroupSum)(KernelConfig.Linear(64, 64), xb.View, sums.View);
            return sums.GetAsArray();
        }
        Assert.Equal(Run(1), Run(2));
        using var cpu = new CpuAccelerator(parallelGroups: 2);
        using var small = cpu.Allocate<float>(100);
        var e = Assert.Throws<KernelExecutionException>(() => cpu.Launch((Action<ArrayView<float>>)FaultyKernels.OffByOne, KernelConfig.Linear(25, 4), small.View));
        Assert.Contains("index 100 is out of range", e.Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void InterpreterSpeedIsMeasured(int parallelGroups)
    {
        using var cpu = new CpuAccelerator(warpSize: 32, parallelGroups: parallelGroups);
        const int threads = 4096, iterations = 200;
        float[] x = Enumerable.Range(0, threads).Select(k => k / (float)threads).ToArray();
        using var xb = cpu.Allocate<float>(x);
        using var yb = cpu.Allocate<float>(threads);
        var kernel = cpu.LoadKernel<ArrayView<float>, ArrayView<float>, int>(CompilerKernels.Polynomial);
        kernel(KernelConfig.Linear(threads / 128, 128), xb.View, yb.View, 2); // Warm-up (JIT).
        long before = cpu.InstructionsExecuted;
        var watch = Stopwatch.StartNew();
        kernel(KernelConfig.Linear(threads / 128, 128), xb.View, yb.View, iterations);
        watch.Stop();
        long executed = cpu.InstructionsExecuted - before;
        float[] y = yb.GetAsArray();
        // The peer: the same loop as compiled C#, all threads, on one core.
        var expected = new float[threads];
        var native = Stopwatch.StartNew();
        for (int i = 0; i < threads; i++)
        {
            float v = x[i], acc = 0f;
            for (int k = 0; k < iterations; k++)
            {
                acc = acc * v + 0.5f;
                v = v * 0.999f + 0.001f;
            }
            expected[i] = acc;
        }
        native.Stop();
        for (int i = 0; i < threads; i++)
        {
            Assert.Equal(BitConverter.SingleToInt32Bits(expected[i]), BitConverter.SingleToInt32Bits(y[i]));
        }
        Assert.True(executed > threads * iterations * 5L, $"only {executed} instructions counted");
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"Interpreter ({parallelGroups} group(s) at a time, {Environment.ProcessorCount} cores): {executed:N0} IR instructions in " +
            $"{watch.Elapsed.TotalMilliseconds:F1} ms = {executed / watch.Elapsed.TotalSeconds / 1e6:F1} M instructions/s; " +
            $"the same loop as compiled C# takes {native.Elapsed.TotalMilliseconds:F2} ms ({watch.Elapsed / native.Elapsed:F0}x faster)");
    }
}
