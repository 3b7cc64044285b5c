namespace Engine.Autograd;

/// <summary>Reverse-mode differentiation over the recorded tape.</summary>
internal static class Backprop
{
    public static void Run(Tensor root, Tensor? seed)
    {
        root.ThrowIfDisposed();
        if (!root.RequiresGrad)
            throw new InvalidOperationException("Backward() was called on a tensor that does not require a gradient: no parameter with RequiresGrad = true took part in computing it (or it was computed under GradMode.NoGrad()).");
        if (seed is null && root.Count != 1)
            throw new InvalidOperationException($"Backward() without a gradient needs a scalar, but the tensor has shape {ShapeUtil.Format(root.Dims)}; pass the gradient of the output.");

        var order = TopologicalOrder(root);
        // Intermediate gradients live in this scope; each is also disposed as soon as nothing needs it any
        // more, so the peak is the forward's activations plus a few gradients, not plus all of them (on a GPU
        // that is the difference between a micro-batch fitting or not). Leaf gradients are made outside any scope.
        using var scope = new TensorScope();
        // Backward rules are computed, not recorded: no higher-order gradients.
        using var noGrad = GradMode.NoGrad();
        var grads = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance);
        // How many entries of grads hold each gradient object (a rule may hand one object to two inputs).
        var holders = new Dictionary<Tensor, int>(ReferenceEqualityComparer.Instance);
        void Hold(Tensor g) => holders[g] = holders.GetValueOrDefault(g) + 1;
        void Drop(Tensor g)
        {
            int left = holders.GetValueOrDefault(g) - 1;
            if (left > 0) { holders[g] = left; return; }
            holders.Remove(g);
            // Only tensors this backward created: never the caller's seed, an activation a rule passed
            // through, or anything another scope owns.
            if (ReferenceEquals(g.OwnerScope, scope)) g.Dispose();
        }
        var first = seed ?? Tensor.Full(root.Dims, 1.0, root.DType, root.Device);
        grads[root] = first;
        Hold(first);

        for (int i = order.Count - 1; i >= 0; i--)
        {
            var t = order[i];
            if (!grads.Remove(t, out var g)) continue;
            if (t.Node is null)
            {
                AccumulateLeaf(t, g);
                Drop(g);
                continue;
            }
            var inputGrads = t.Node.Backward(g);
            var inputs = t.Node.Inputs;
            for (int j = 0; j < inputs.Length; j++)
            {
                var gi = inputGrads[j];
                var input = inputs[j];
                if (gi is null || !input.RequiresGrad) continue;
                if (!ShapeUtil.SameShape(gi.Dims, input.Dims))
                    throw new InvalidOperationException($"Internal error: the backward of {t.Node.Op} produced a gradient of shape {ShapeUtil.Format(gi.Dims)} for an input of shape {ShapeUtil.Format(input.Dims)}.");
                if (grads.TryGetValue(input, out var existing))
                {
                    var sum = Tensor.Add(existing, gi);
                    grads[input] = sum;
                    Hold(sum);
                    Drop(existing);
                }
                else
                {
                    grads[input] = gi;
                    Hold(gi);
                }
            }
            Drop(g);
            // Gradients a rule returned that no entry kept (summed into another, or for inputs needing none).
            foreach (var gi in inputGrads)
                if (gi is not null && !holders.ContainsKey(gi) && ReferenceEquals(gi, g) is false && ReferenceEquals(gi.OwnerScope, scope))
                    gi.Dispose();
            // Every rule that reads this activation has run: a model's internal one goes now, not with its scope.
            if (t.FreeAfterBackward) t.FreeActivation();
        }
    }

    private static void AccumulateLeaf(Tensor leaf, Tensor g)
    {
        if (leaf.Grad is null || leaf.Grad.IsDisposed)
        {
            using (TensorScope.Suspend())
            {
                var fresh = Tensor.Zeros(leaf.Dims, leaf.DType, leaf.Device);
                fresh.CopyFrom(g);
                leaf.Grad = fresh;
            }
        }
        else
        {
            leaf.Device.Backend.AddInPlace(leaf.Grad, g, 1.0);
        }
    }

    /// <summary>Nodes in an order where every tensor comes after the tensors it was computed from.</summary>
    private static List<Tensor> TopologicalOrder(Tensor root)
    {
        var order = new List<Tensor>();
        var visited = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        // Iterative post-order DFS: a deep model must not overflow the stack.
        var stack = new Stack<(Tensor Tensor, int Next)>();
        stack.Push((root, 0));
        visited.Add(root);
        while (stack.Count > 0)
        {
            var (t, next) = stack.Pop();
            var inputs = t.Node?.Inputs;
            if (inputs is not null && next < inputs.Length)
            {
                stack.Push((t, next + 1));
                var child = inputs[next];
                if (child.RequiresGrad && visited.Add(child)) stack.Push((child, 0));
            }
            else
            {
                order.Add(t);
            }
        }
        return order;
    }
}
