using System.Numerics;
using Engine.Optim;

namespace Engine.Cpu;

// Optimizer updates, fused into one pass over each parameter.
internal sealed partial class CpuBackend
{
    /// <summary>The CPU runs Muon through the generic ops (fp32 Newton–Schulz on our SGEMM).</summary>
    public bool TryMuonStep(Tensor p, Tensor g, Tensor momentumBuffer, double learningRate, double momentum, bool nesterov, int steps) => false;

    public void AdamW(Tensor p, Tensor g, Tensor m, Tensor v, AdamWStep s)
    {
        if (p.DType == DType.Float32) AdamWT(p.Span<float>(), g.Span<float>(), m.Span<float>(), v.Span<float>(), s);
        else AdamWT(p.Span<double>(), g.Span<double>(), m.Span<double>(), v.Span<double>(), s);
    }

    private static void AdamWT<T>(Span<T> p, ReadOnlySpan<T> g, Span<T> m, Span<T> v, AdamWStep s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T b1 = T.CreateChecked(s.Beta1), b2 = T.CreateChecked(s.Beta2), eps = T.CreateChecked(s.Eps);
        T decay = T.CreateChecked(1 - s.LearningRate * s.WeightDecay);
        T stepSize = T.CreateChecked(s.LearningRate / s.BiasCorrection1);
        T invSqrtBc2 = T.CreateChecked(1 / Math.Sqrt(s.BiasCorrection2));
        T one = T.One;
        for (int i = 0; i < p.Length; i++)
        {
            T gi = g[i];
            T mi = b1 * m[i] + (one - b1) * gi;
            T vi = b2 * v[i] + (one - b2) * gi * gi;
            m[i] = mi; v[i] = vi;
            // torch: denom = sqrt(v) / sqrt(bc2) + eps; p -= (lr / bc1) * m / denom
            p[i] = p[i] * decay - stepSize * mi / (T.Sqrt(vi) * invSqrtBc2 + eps);
        }
    }
}
