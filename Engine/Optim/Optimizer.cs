namespace Engine.Optim;

/// <summary>A set of parameters sharing hyperparameters; <see cref="LearningRate"/> is what schedules change.</summary>
public sealed class ParamGroup
{
    /// <summary>Creates a group.</summary>
    public ParamGroup(IEnumerable<Tensor> parameters, double learningRate)
    {
        Parameters = parameters.ToList();
        foreach (var p in Parameters)
            if (!p.RequiresGrad)
                throw new ArgumentException($"Parameter {p} does not require a gradient; set RequiresGrad = true before handing it to an optimizer.");
        LearningRate = InitialLearningRate = learningRate;
    }

    /// <summary>The parameters.</summary>
    public IReadOnlyList<Tensor> Parameters { get; }

    /// <summary>The learning rate the group was created with: schedules multiply it.</summary>
    public double InitialLearningRate { get; }

    /// <summary>The learning rate of the next step.</summary>
    public double LearningRate { get; set; }
}

/// <summary>An optimizer over parameter groups, stepping each parameter from its accumulated gradient.</summary>
public abstract class Optimizer : IDisposable
{
    /// <summary>Creates an optimizer over <paramref name="groups"/>.</summary>
    protected Optimizer(IEnumerable<ParamGroup> groups) => Groups = groups.ToList();

    /// <summary>The parameter groups.</summary>
    public IReadOnlyList<ParamGroup> Groups { get; }

    /// <summary>Steps taken so far.</summary>
    public int StepCount { get; protected set; }

    /// <summary>Updates every parameter that has a gradient.</summary>
    public abstract void Step();

    /// <summary>Zeroes the gradients (keeps their buffers, so accumulation allocates nothing).</summary>
    public void ZeroGrad()
    {
        foreach (var g in Groups)
            foreach (var p in g.Parameters)
                p.Grad?.Fill(0);
    }

    /// <summary>Sets every group's learning rate to its initial one times <paramref name="multiplier"/>.</summary>
    public void SetLearningRateMultiplier(double multiplier)
    {
        foreach (var g in Groups) g.LearningRate = g.InitialLearningRate * multiplier;
    }

    /// <summary>Named state tensors for checkpoints: <c>{parameter name}.{slot}</c>.</summary>
    public abstract IEnumerable<(string Name, Tensor Tensor)> State();

    /// <summary>Frees the optimizer state.</summary>
    public virtual void Dispose()
    {
        foreach (var (_, t) in State()) t.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>A state tensor of zeros shaped like <paramref name="p"/>, outside any scope.</summary>
    protected static Tensor NewState(Tensor p)
    {
        using (TensorScope.Suspend()) return Tensor.Zeros(p.Shape, p.DType, p.Device);
    }

    /// <summary>The name a parameter's state goes under.</summary>
    protected static string KeyOf(Tensor p, int index) => p.Name ?? $"param{index}";
}
