using Engine.NN;

namespace Engine.Optim;

/// <summary>
/// nanochat's optimizer setup for the GPT: AdamW (betas 0.8/0.95, eps 1e-10, no weight decay) for
/// the embedding and the head, with their learning rates scaled by 1/√(n_embd/768); Muon for every
/// matrix inside the blocks.
/// </summary>
public sealed class GptOptimizers : IDisposable
{
    /// <summary>Creates both optimizers with nanochat's default learning rates.</summary>
    public GptOptimizers(Gpt model, double embeddingLr = 0.2, double unembeddingLr = 0.004, double matrixLr = 0.02, double weightDecay = 0.0)
    {
        double scale = 1.0 / Math.Sqrt(model.Config.NEmbd / 768.0);
        AdamW = new AdamW(
            [new ParamGroup([model.LmHead], unembeddingLr * scale), new ParamGroup([model.Wte], embeddingLr * scale)],
            beta1: 0.8, beta2: 0.95, eps: 1e-10, weightDecay: weightDecay);
        var matrices = model.NamedParameters.Where(p => p.Name.StartsWith("transformer.h.", StringComparison.Ordinal)).Select(p => p.Tensor);
        Muon = new Muon([new ParamGroup(matrices, matrixLr)], momentum: 0.95, nesterov: true);
    }

    /// <summary>The embedding and head optimizer.</summary>
    public AdamW AdamW { get; }

    /// <summary>The block-matrix optimizer.</summary>
    public Muon Muon { get; }

    /// <summary>Applies the schedule for <paramref name="step"/> (learning-rate multiplier and Muon momentum warmup), then steps both.</summary>
    public void Step(LrSchedule schedule, int step)
    {
        double m = schedule.Multiplier(step);
        AdamW.SetLearningRateMultiplier(m);
        Muon.SetLearningRateMultiplier(m);
        Muon.Momentum = LrSchedule.MuonMomentum(step);
        AdamW.Step();
        Muon.Step();
    }

    /// <summary>Zeroes every gradient.</summary>
    public void ZeroGrad()
    {
        AdamW.ZeroGrad();
        Muon.ZeroGrad();
    }

    /// <summary>Frees both optimizers' state.</summary>
    public void Dispose()
    {
        AdamW.Dispose();
        Muon.Dispose();
    }
}
