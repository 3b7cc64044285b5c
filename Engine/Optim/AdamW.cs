namespace Engine.Optim;

/// <summary>
/// AdamW as torch.optim.AdamW computes it: decoupled weight decay p ← p·(1 − lr·wd), then Adam with
/// bias-corrected moments, p ← p − lr · m̂ / (√v̂ + eps).
/// </summary>
public sealed class AdamW : Optimizer
{
    private readonly Dictionary<Tensor, (Tensor M, Tensor V)> _state = new(ReferenceEqualityComparer.Instance);
    private readonly List<Tensor> _order = [];

    /// <summary>Creates the optimizer (nanochat uses betas (0.8, 0.95), eps 1e-10, no weight decay).</summary>
    public AdamW(IEnumerable<ParamGroup> groups, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0.01)
        : base(groups)
    {
        if (beta1 is < 0 or >= 1 || beta2 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(beta1), $"AdamW betas must be in [0, 1), got ({beta1}, {beta2}).");
        Beta1 = beta1; Beta2 = beta2; Eps = eps; WeightDecay = weightDecay;
    }

    /// <summary>First-moment decay.</summary>
    public double Beta1 { get; }
    /// <summary>Second-moment decay.</summary>
    public double Beta2 { get; }
    /// <summary>Denominator epsilon.</summary>
    public double Eps { get; }
    /// <summary>Decoupled weight decay.</summary>
    public double WeightDecay { get; }

    /// <inheritdoc/>
    public override void Step()
    {
        StepCount++;
        var hp = new AdamWStep(0, Beta1, Beta2, Eps, WeightDecay, 1 - Math.Pow(Beta1, StepCount), 1 - Math.Pow(Beta2, StepCount));
        foreach (var g in Groups)
        {
            foreach (var p in g.Parameters)
            {
                if (p.Grad is null) continue;
                if (!_state.TryGetValue(p, out var s))
                {
                    s = (NewState(p), NewState(p));
                    _state[p] = s;
                    _order.Add(p);
                }
                p.Device.Backend.AdamW(p, p.Grad, s.M, s.V, hp with { LearningRate = g.LearningRate });
            }
        }
    }

    /// <inheritdoc/>
    public override IEnumerable<(string Name, Tensor Tensor)> State()
    {
        for (int i = 0; i < _order.Count; i++)
        {
            var (m, v) = _state[_order[i]];
            yield return (KeyOf(_order[i], i) + ".exp_avg", m);
            yield return (KeyOf(_order[i], i) + ".exp_avg_sq", v);
        }
    }

    /// <summary>Restores step count and moments (tensors are copied in; missing entries start at zero).</summary>
    public void LoadState(int stepCount, IReadOnlyDictionary<string, Tensor> state)
    {
        StepCount = stepCount;
        int i = 0;
        foreach (var g in Groups)
            foreach (var p in g.Parameters)
            {
                string key = KeyOf(p, i++);
                if (!state.TryGetValue(key + ".exp_avg", out var m) || !state.TryGetValue(key + ".exp_avg_sq", out var v)) continue;
                if (!_state.TryGetValue(p, out var s)) { s = (NewState(p), NewState(p)); _state[p] = s; _order.Add(p); }
                s.M.CopyFrom(m); s.V.CopyFrom(v);
            }
    }
}

/// <summary>One AdamW update's scalars.</summary>
internal readonly record struct AdamWStep(double LearningRate, double Beta1, double Beta2, double Eps, double WeightDecay, double BiasCorrection1, double BiasCorrection2);
