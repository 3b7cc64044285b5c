namespace Engine;

/// <summary>
/// Owns every tensor created while it is the innermost scope on this thread and disposes them all
/// when it ends, so a training step written as <c>using var scope = new TensorScope();</c> frees its
/// activations, temporaries and graph in one place. Parameters, gradients and optimizer state are
/// created outside any scope (or with <see cref="Keep"/>) and live on.
/// </summary>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] private static TensorScope? _current;
    [ThreadStatic] private static int _suspended;

    private readonly TensorScope? _parent;
    private List<Tensor> _owned = new(256);
    private bool _disposed;

    /// <summary>Starts a scope nested in the current one.</summary>
    public TensorScope()
    {
        _parent = _current;
        _current = this;
    }

    /// <summary>The innermost scope on this thread, or null.</summary>
    public static TensorScope? Current => _current;

    /// <summary>Tensors this scope owns now.</summary>
    public int OwnedCount => _owned.Count;

    internal static void Register(Tensor tensor)
    {
        if (_suspended == 0 && _current is { } scope)
        {
            scope._owned.Add(tensor);
            tensor.OwnerScope = scope;
        }
    }

    /// <summary>
    /// Takes <paramref name="tensor"/> out of this scope (and any scope it is in on this thread) so it
    /// survives; the caller disposes it. Returns it, for chaining.
    /// </summary>
    public static Tensor Keep(Tensor tensor)
    {
        for (var s = _current; s is not null; s = s._parent)
            if (s._owned.Remove(tensor)) break;
        tensor.OwnerScope = null;
        return tensor;
    }

    /// <summary>Moves <paramref name="tensor"/> from this scope to the enclosing one (or to nobody at the outermost level).</summary>
    public Tensor MoveToParent(Tensor tensor)
    {
        if (_owned.Remove(tensor))
        {
            _parent?._owned.Add(tensor);
            tensor.OwnerScope = _parent;
        }
        return tensor;
    }

    /// <summary>Within the returned scope, new tensors belong to no scope (used for gradients and optimizer state).</summary>
    public static IDisposable Suspend()
    {
        _suspended++;
        return new Resume();
    }

    private sealed class Resume : IDisposable
    {
        private bool _done;
        public void Dispose()
        {
            if (_done) return;
            _done = true;
            _suspended--;
        }
    }

    /// <summary>Disposes every tensor the scope still owns and makes the parent current again.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_current != this)
            throw new InvalidOperationException("TensorScopes must be disposed in the reverse order of creation, on the thread that created them.");
        _current = _parent;
        var owned = _owned;
        _owned = [];
        // Reverse order: results before their inputs, which is also the order views come after bases.
        for (int i = owned.Count - 1; i >= 0; i--) owned[i].Dispose();
    }
}
