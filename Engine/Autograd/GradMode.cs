namespace Engine.Autograd;

/// <summary>Switches for the define-by-run tape.</summary>
public static class GradMode
{
    [ThreadStatic] private static int _disabled;

    /// <summary>Whether ops record their backward on this thread.</summary>
    public static bool IsEnabled => _disabled == 0;

    /// <summary>Until disposed, ops on this thread record nothing (inference, optimizer updates).</summary>
    public static IDisposable NoGrad()
    {
        _disabled++;
        return new Restore();
    }

    private sealed class Restore : IDisposable
    {
        private bool _done;
        public void Dispose()
        {
            if (_done) return;
            _done = true;
            _disabled--;
        }
    }

    /// <summary>True when an op over <paramref name="inputs"/> should record a node.</summary>
    internal static bool ShouldRecord(params ReadOnlySpan<Tensor> inputs)
    {
        if (!IsEnabled) return false;
        foreach (var t in inputs) if (t.RequiresGrad) return true;
        return false;
    }

    /// <summary>Attaches a node to <paramref name="result"/> when any input requires a gradient; returns the result.</summary>
    internal static Tensor Record(Tensor result, string op, Tensor[] inputs, Func<Tensor, Tensor?[]> backward)
    {
        if (ShouldRecord(inputs))
        {
            result.RequiresGrad = true;
            result.Node = new GradNode(op, inputs, backward);
        }
        return result;
    }
}
