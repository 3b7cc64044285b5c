using System.Text.RegularExpressions;
using Engine.Gpu;
using Engine.Gpu.Ptx;
using Xunit;

namespace Engine.Tests.Gpu;

/// <summary>Compile-only checks of the emitted PTX (no GPU needed): structure and the instructions chosen.</summary>
public partial class PtxTests
{
    private static string Ptx(Delegate kernel, int sm = 80) =>
        PtxEmitter.Emit(KernelCompiler.Compile(kernel.Method).Function, new PtxTarget(sm), "kernel");

    /// <summary>Declared registers cover every use, every branch target exists, braces balance.</summary>
    private static void AssertWellFormed(string ptx)
    {
        Assert.Equal(ptx.Count(c => c == '{'), ptx.Count(c => c == '}'));
        var declared = new Dictionary<string, int>();
        foreach (Match m in RegisterDeclaration().Matches(ptx))
        {
            declared[m.Groups[1].Value] = int.Parse(m.Groups[2].Value);
        }
        foreach (Match m in RegisterUse().Matches(ptx))
        {
            string kind = m.Groups[1].Value;
            Assert.True(declared.ContainsKey(kind), $"register {m.Value} used but %{kind} is not declared");
            Assert.True(int.Parse(m.Groups[2].Value) < declared[kind], $"register {m.Value} beyond the declared {declared[kind]}");
        }
        var labels = LabelDefinition().Matches(ptx).Select(m => m.Groups[1].Value).ToHashSet();
        foreach (Match m in BranchTarget().Matches(ptx))
        {
            Assert.Contains(m.Groups[1].Value, labels);
        }
        Assert.Contains(".address_size 64", ptx);
        Assert.Contains(".visible .entry kernel(", ptx);
    }

    [GeneratedRegex(@"\.reg \.\w+ %(\w+?)<(\d+)>;")]
    private static partial Regex RegisterDeclaration();

    [GeneratedRegex(@"%(rd|r|fd|f|p|h)(\d+)\b")]
    private static partial Regex RegisterUse();

    [GeneratedRegex(@"^(\$\w+):", RegexOptions.Multiline)]
    private static partial Regex LabelDefinition();

    [GeneratedRegex(@"bra (\$\w+);")]
    private static partial Regex BranchTarget();

    [Theory]
    [InlineData(80)]
    [InlineData(90)]
    [InlineData(86)]
    public void ScalarKernelUsesGlobalLoadsAndUncontractedArithmetic(int sm)
    {
        string ptx = Ptx((Action<ArrayView<float>, float>)SmokeKernels.Scale, sm);
        AssertWellFormed(ptx);
        Assert.Contains($".target sm_{sm}", ptx);
        Assert.Contains(sm >= 90 ? ".version 8.0" : ".version 7.0", ptx);
        Assert.Contains("ld.global.f32", ptx);
        Assert.Contains("st.global.f32", ptx);
        Assert.Contains("mul.rn.f32", ptx);
        Assert.Contains("cvta.to.global.u64", ptx);
        Assert.Contains("mov.u32 %r", ptx);
        Assert.Contains("%ctaid.x", ptx);
        Assert.Contains("// SmokeKernels.Scale IL_", ptx);
        Assert.DoesNotContain("ld.f32", ptx); // Never generic when the space is known.
        Assert.Matches(@"setp\.\w+\.s32 (%p\d+), [^\n]*\n[^\n]*\n\s*@\1 bra", ptx); // The branch tests the compare's predicate.
    }

    [Fact]
    public void SharedMemoryAndBarriers()
    {
        string ptx = Ptx((Action<ArrayView<float>, ArrayView<float>>)CollectiveKernels.GroupSum);
        AssertWellFormed(ptx);
        Assert.Matches(@"\.shared \.align 16 \.b8 __shared_0\[256\];", ptx);
        Assert.Contains("ld.shared.f32", ptx);
        Assert.Contains("st.shared.f32", ptx);
        Assert.Contains("bar.sync 0;", ptx);
    }

    [Fact]
    public void DynamicSharedMemoryIsExternAndSized()
    {
        string ptx = Ptx((Action<ArrayView<int>>)CollectiveKernels.ReverseInGroup);
        AssertWellFormed(ptx);
        Assert.Contains(".extern .shared .align 16 .b8 __dynamic_shared[];", ptx);
        Assert.Contains("%dynamic_smem_size", ptx);
    }

    [Fact]
    public void WarpShufflesAndVotes()
    {
        string butterfly = Ptx((Action<ArrayView<float>, ArrayView<float>>)CollectiveKernels.WarpButterfly);
        AssertWellFormed(butterfly);
        Assert.Contains("shfl.sync.bfly.b32", butterfly);
        Assert.Contains("WARP_SZ", butterfly);

        string scan = Ptx((Action<ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>>)CollectiveKernels.WarpDownAndUp);
        AssertWellFormed(scan);
        Assert.Contains("shfl.sync.down.b32", scan);
        Assert.Matches(@"shfl\.sync\.up\.b32 %r\d+, %r\d+, \S+, 0, 0xffffffff;", scan);

        string broadcast = Ptx((Action<ArrayView<double>, ArrayView<long>, ArrayView<Vec2>>)CollectiveKernels.WarpBroadcast);
        AssertWellFormed(broadcast);
        Assert.True(Regex.Matches(broadcast, @"shfl\.sync\.idx\.b32").Count >= 6, "double and long take two shuffles each, Vec2 one per field");
        Assert.Contains("bar.warp.sync 0xffffffff;", broadcast);

        string votes = Ptx((Action<ArrayView<int>, ArrayView<int>>)CollectiveKernels.Votes);
        AssertWellFormed(votes);
        Assert.Contains("vote.sync.all.pred", votes);
        Assert.Contains("vote.sync.any.pred", votes);
        Assert.Contains("vote.sync.ballot.b32", votes);
    }

    [Fact]
    public void AtomicsNameTheirSpaceAndType()
    {
        string global = Ptx((Action<ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<uint>>)CollectiveKernels.Histogram);
        AssertWellFormed(global);
        Assert.Contains("atom.global.add.s32", global);
        Assert.Contains("atom.global.add.f32", global);
        Assert.Contains("atom.global.min.u32", global);
        Assert.Contains("atom.global.max.u32", global);
        Assert.Contains("atom.global.xor.b32", global);

        string claims = Ptx((Action<ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<long>>)CollectiveKernels.AtomicClaims);
        AssertWellFormed(claims);
        Assert.Contains("atom.global.cas.b32", claims);   // CompareExchange, and the float max/min loops.
        Assert.Contains("max.f32", claims);
        Assert.Contains("atom.global.exch.b32", claims);
        Assert.Contains("atom.global.add.u64", claims);

        string shared = Ptx((Action<ArrayView<int>, ArrayView<int>>)CollectiveKernels.SharedHistogram);
        AssertWellFormed(shared);
        Assert.Contains("atom.shared.add.s32", shared);
        Assert.Contains("membar.gl;", shared);
    }

    [Fact]
    public void ConversionsFollowTheClr()
    {
        string ptx = Ptx((Action<ArrayView<float>, ArrayView<double>, ArrayView<long>, ArrayView<long>, ArrayView<double>>)ArithmeticKernels.Conversions);
        AssertWellFormed(ptx);
        Assert.Contains("cvt.rzi.s32.f32", ptx);   // Saturating, NaN to 0, like the CLR.
        Assert.Contains("cvt.rzi.u64.f64", ptx);
        Assert.Contains("cvt.rn.f32.u64", ptx);    // (float)ulong rounds once.
        Assert.Contains("bfe.s32", ptx);           // (sbyte) wraps after saturating to int.
        Assert.Contains("cvt.f32.f16", ptx);
        Assert.Contains("cvt.rn.f16.f32", ptx);
    }

    [Fact]
    public void IntegerShiftsMaskTheirCountAndComparisonsKeepSignedness()
    {
        string ptx = Ptx((Action<ArrayView<int>, ArrayView<int>, ArrayView<int>>)ArithmeticKernels.IntOps);
        AssertWellFormed(ptx);
        Assert.Contains("and.b32", ptx);
        Assert.Contains("shr.s32", ptx);
        Assert.Contains("shr.u32", ptx);
        Assert.Contains("setp.lo.u32", ptx);
        Assert.Contains("setp.lt.s32", ptx);
        Assert.Contains("div.s32", ptx);
        Assert.Contains("rem.s32", ptx);
    }

    [Fact]
    public void EveryCatalogueKernelEmitsWellFormedPtx()
    {
        // Every case, precise transcendentals and float remainder included (both inlined C#: DeviceMath,
        // SoftFloat); ptxas itself judges the same text where the CUDA toolkit exists (PtxasTests).
        var failures = new List<string>();
        foreach (var (name, c) in KernelCatalogueTests.Cases)
        {
            try
            {
                AssertWellFormed(Ptx(c.Kernel));
            }
            catch (NotSupportedException e)
            {
                failures.Add($"{name}: {e.Message}");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void TensorCoresAndAsyncCopies()
    {
        string mma = Ptx((Action<ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, ArrayView<float>, int>)TensorCoreKernels.MmaTile);
        AssertWellFormed(mma);
        Assert.Matches(@"mma\.sync\.aligned\.m16n8k16\.row\.col\.f32\.f16\.f16\.f32 \{%f\d+, %f\d+, %f\d+, %f\d+\}, \{%r\d+, %r\d+, %r\d+, %r\d+\}, \{%r\d+, %r\d+\}, \{%f\d+, %f\d+, %f\d+, %f\d+\};", mma);
        Assert.Contains("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32", mma);

        string ldmatrix = Ptx((Action<ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>>)TensorCoreKernels.MmaFromShared);
        AssertWellFormed(ldmatrix);
        Assert.Matches(@"ldmatrix\.sync\.aligned\.m8n8\.x4\.shared\.b16 \{%r\d+, %r\d+, %r\d+, %r\d+\}, \[%rd\d+\];", ldmatrix);
        Assert.Contains("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16", ldmatrix);
        Assert.Contains("ldmatrix.sync.aligned.m8n8.x1.shared.b16", ldmatrix);
        Assert.Contains("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16", ldmatrix);

        string pack = Ptx((Action<ArrayView<float>, ArrayView<uint>, ArrayView<uint>>)TensorCoreKernels.Pack);
        AssertWellFormed(pack);
        Assert.Contains("cvt.rn.f16x2.f32", pack);
        Assert.Contains("cvt.rn.bf16x2.f32", pack);

        string copy = Ptx((Action<ArrayView<float>, ArrayView<TensorCoreKernels.Quad>, ArrayView<float>>)TensorCoreKernels.AsyncCopyReverse);
        AssertWellFormed(copy);
        Assert.Contains("cp.async.ca.shared.global", copy);
        Assert.Matches(@"cp\.async\.cg\.shared\.global \[%rd\d+\], \[%rd\d+\], 16;", copy);
        Assert.Contains("cp.async.commit_group;", copy);
        Assert.Contains("cp.async.wait_group 0;", copy);
    }

    [Fact]
    public void OldTargetsAreRefused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Ptx((Action<ArrayView<float>, float>)SmokeKernels.Scale, 61));
}

