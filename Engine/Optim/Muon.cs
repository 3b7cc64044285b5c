using Engine.Autograd;

namespace Engine.Optim;

/// <summary>
/// Muon: momentum SGD whose update is orthogonalised by a quintic Newton–Schulz iteration, for the
/// 2-D weight matrices of the transformer blocks. With Nesterov momentum the step direction is
/// (1 − μ)·g + μ·buf after buf ← μ·buf + (1 − μ)·g; the orthogonalised update is scaled by
/// √max(1, rows/cols) so tall and wide matrices move alike. Newton–Schulz runs in the parameter's
/// dtype (fp32 here; nanochat runs it in bf16 on the GPU).
/// </summary>
public sealed class Muon : Optimizer
{
    // The quintic's coefficients, chosen (by Muon's authors) to push singular values towards 1 fast.
    internal const double NsA = 3.4445, NsB = -4.7750, NsC = 2.0315;

    private readonly Dictionary<Tensor, Tensor> _momentum = new(ReferenceEqualityComparer.Instance);
    private readonly List<Tensor> _order = [];

    /// <summary>Creates the optimizer (nanochat: lr 0.02, momentum 0.95, Nesterov, 5 Newton–Schulz steps).</summary>
    public Muon(IEnumerable<ParamGroup> groups, double momentum = 0.95, bool nesterov = true, int nsSteps = 5) : base(groups)
    {
        foreach (var g in Groups)
            foreach (var p in g.Parameters)
                if (p.Rank != 2) throw new ArgumentException($"Muon updates 2-D weight matrices; {p} has rank {p.Rank}. Give it to AdamW instead.");
        Momentum = momentum; Nesterov = nesterov; NsSteps = nsSteps;
    }

    /// <summary>The momentum μ (schedules may change it, as nanochat warms it from 0.85 to 0.95).</summary>
    public double Momentum { get; set; }
    /// <summary>Whether the update uses Nesterov momentum.</summary>
    public bool Nesterov { get; }
    /// <summary>Newton–Schulz iterations.</summary>
    public int NsSteps { get; }

    /// <inheritdoc/>
    public override void Step()
    {
        StepCount++;
        using var noGrad = GradMode.NoGrad();
        foreach (var g in Groups)
        {
            foreach (var p in g.Parameters)
            {
                if (p.Grad is null) continue;
                if (!_momentum.TryGetValue(p, out var buf)) { buf = NewState(p); _momentum[p] = buf; _order.Add(p); }
                var backend = p.Device.Backend;
                if (backend.TryMuonStep(p, p.Grad, buf, g.LearningRate, Momentum, Nesterov, NsSteps)) continue;
                using var scope = new TensorScope();
                // buf = μ·buf + (1 − μ)·g
                backend.Unary(UnaryOp.Scale, buf, buf, Momentum);
                backend.AddInPlace(buf, p.Grad, 1 - Momentum);
                Tensor direction;
                if (Nesterov)
                {
                    direction = Tensor.Empty(p.Shape, p.DType, p.Device);
                    backend.Unary(UnaryOp.Scale, p.Grad, direction, 1 - Momentum);
                    backend.AddInPlace(direction, buf, Momentum);
                }
                else direction = buf;
                var update = NewtonSchulz(direction, NsSteps);
                double scale = Math.Sqrt(Math.Max(1.0, (double)p.Size(0) / p.Size(1)));
                backend.AddInPlace(p, update, -g.LearningRate * scale);
            }
        }
    }

    /// <summary>
    /// Approximately orthogonalises <paramref name="g"/> (its nearest semi-orthogonal matrix, U·Vᵀ of
    /// its SVD, with singular values landing near 1, not exactly 1). Works on the wide orientation.
    /// </summary>
    public static Tensor NewtonSchulz(Tensor g, int steps)
    {
        using var noGrad = GradMode.NoGrad();
        using var scope = new TensorScope();          // the iterates die here; only the result leaves
        bool tall = g.Size(0) > g.Size(1);
        var x = tall ? g.Transpose(0, 1).Contiguous() : g.Contiguous();
        // The Frobenius norm stays on the device (a broadcast division, no host read): on a GPU a read
        // per matrix would stall the queue dozens of times a step.
        x = x / (x.Square().Sum().Sqrt() + 1e-7);
        int rows = x.Size(0);
        var a = Tensor.Empty([rows, rows], x.DType, x.Device);
        var b = Tensor.Empty([rows, rows], x.DType, x.Device);
        var xt = x.Transpose(0, 1);
        for (int i = 0; i < steps; i++)
        {
            // A = X Xᵀ;  B = c·A·A + b·A;  X ← B·X + a·X  (the scalings ride on the GEMMs' alpha and beta)
            Tensor.Gemm(x, xt, a, 1.0, 0.0);
            b.CopyFrom(a);
            Tensor.Gemm(a, a, b, NsC, NsB);
            var next = Tensor.Empty(x.Shape, x.DType, x.Device);
            next.CopyFrom(x);
            Tensor.Gemm(b, x, next, 1.0, NsA);
            x = next;
            xt = x.Transpose(0, 1);
        }
        return scope.MoveToParent(tall ? x.Transpose(0, 1).Contiguous() : x);
    }

    /// <inheritdoc/>
    public override IEnumerable<(string Name, Tensor Tensor)> State()
    {
        for (int i = 0; i < _order.Count; i++) yield return (KeyOf(_order[i], i) + ".momentum_buffer", _momentum[_order[i]]);
    }

    /// <summary>Restores step count and momentum buffers (copied in; missing entries start at zero).</summary>
    public void LoadState(int stepCount, IReadOnlyDictionary<string, Tensor> state)
    {
        StepCount = stepCount;
        int i = 0;
        foreach (var g in Groups)
            foreach (var p in g.Parameters)
            {
                string key = KeyOf(p, i++) + ".momentum_buffer";
                if (!state.TryGetValue(key, out var m)) continue;
                if (!_momentum.TryGetValue(p, out var buf)) { buf = NewState(p); _momentum[p] = buf; _order.Add(p); }
                buf.CopyFrom(m);
            }
    }
}
