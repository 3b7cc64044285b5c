namespace Engine.Optim;

/// <summary>
/// nanochat's learning-rate shape: linear warmup over the first steps, constant, then a linear
/// warmdown to <see cref="FinalFraction"/> of the peak over the last fraction of the run.
/// </summary>
public sealed record LrSchedule(int TotalSteps, int WarmupSteps = 0, double WarmdownRatio = 0.2, double FinalFraction = 0.0)
{
    /// <summary>The multiplier of the peak learning rate at step <paramref name="step"/> (0-based).</summary>
    public double Multiplier(int step)
    {
        int warmdown = (int)Math.Round(WarmdownRatio * TotalSteps);
        if (step < WarmupSteps) return (step + 1) / (double)WarmupSteps;
        if (step <= TotalSteps - warmdown) return 1.0;
        double progress = (TotalSteps - step) / (double)warmdown;
        return progress + (1 - progress) * FinalFraction;
    }

    /// <summary>nanochat's Muon momentum warmup: 0.85 → 0.95 over the first 300 steps.</summary>
    public static double MuonMomentum(int step)
    {
        double frac = Math.Min(step / 300.0, 1.0);
        return (1 - frac) * 0.85 + frac * 0.95;
    }
}
