using Engine.Gpu;
using Engine.Numerics;

namespace Engine.Tests.Kernels;

/// <summary>What the Engine.Kernels tests share: the accelerators they run on and the float64 comparison.</summary>
internal static class KernelTestSupport
{
    /// <summary>
    /// "cpu4" and "cpu32" (the CPU accelerator at those warp sizes) or "cuda" (the first GPU; the test is
    /// skipped, visibly and with the reason, where there is none).
    /// </summary>
    public static Accelerator Make(string kind)
    {
        if (kind == "cuda")
        {
            if (CudaAccelerator.Unavailable is { } reason)
            {
                Assert.Skip($"No CUDA GPU: {reason}");
            }
            return new CudaAccelerator();
        }
        return new CpuAccelerator(kind == "cpu4" ? 4 : 32);
    }

    public static double[] Wide(BFloat16[] x) => x.Select(v => (double)(float)v).ToArray();

    public static float[] Narrow(BFloat16[] x) => x.Select(v => (float)v).ToArray();

    /// <summary>
    /// The relative error norm of <paramref name="actual"/> against <paramref name="expected"/>, and that of
    /// <paramref name="expected"/> merely rounded to bf16 (the best a bf16 result can do); a NaN left in
    /// <paramref name="actual"/> (a poisoned element never written) fails at once.
    /// </summary>
    public static (double Error, double Floor) Compare(double[] expected, float[] actual, string what)
    {
        double diff = 0, norm = 0, floor = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.False(float.IsNaN(actual[i]), $"{what}[{i}] is NaN: never written, or computed from a NaN");
            diff += (expected[i] - actual[i]) * (expected[i] - actual[i]);
            norm += expected[i] * expected[i];
            double rounded = (float)(BFloat16)expected[i];
            floor += (expected[i] - rounded) * (expected[i] - rounded);
        }
        return (Math.Sqrt(diff / norm), Math.Sqrt(floor / norm));
    }
}
