using Engine.Autograd;

namespace Engine;

// Building tensors from others: ranges, concatenation, and index-valued reductions.
public sealed partial class Tensor
{
    /// <summary>A tensor of ones.</summary>
    public static Tensor Ones(ReadOnlySpan<int> shape, DType dtype = DType.Float32, Device? device = null) => Full(shape, 1.0, dtype, device);

    /// <summary>0, 1, …, <paramref name="count"/> − 1 as a 1-D Int64 tensor (token positions, class ids).</summary>
    public static Tensor Arange(int count)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "Arange needs a non-negative count.");
        var data = new long[count];
        for (int i = 0; i < count; i++) data[i] = i;
        return FromArray(data, count);
    }

    /// <summary>
    /// Joins tensors along <paramref name="dim"/>; every other dimension must match. Gradients flow
    /// back to each piece.
    /// </summary>
    public static Tensor Cat(IReadOnlyList<Tensor> tensors, int dim = 0)
    {
        if (tensors.Count == 0) throw new ArgumentException("Cat needs at least one tensor.", nameof(tensors));
        var first = tensors[0];
        int axis = ShapeUtil.Axis(dim, first.Rank);
        int total = 0;
        foreach (var t in tensors)
        {
            t.ThrowIfDisposed();
            bool same = t.Rank == first.Rank && t.DType == first.DType;
            for (int d = 0; same && d < t.Rank; d++) same = d == axis || t.Dims[d] == first.Dims[d];
            if (!same)
                throw new ArgumentException($"Cat along dimension {axis}: {t.DType} Tensor{ShapeUtil.Format(t.Dims)} does not match {first.DType} Tensor{ShapeUtil.Format(first.Dims)} in the other dimensions or dtype.");
            total += t.Dims[axis];
        }
        var shape = (int[])first.Dims.Clone();
        shape[axis] = total;
        var result = Empty(shape, first.DType, first.Device);
        int offset = 0;
        foreach (var t in tensors)
        {
            using (var slot = result.ViewOf(result.Offset + offset * result.StridesArray[axis], WithDim(shape, axis, t.Dims[axis]), result.StridesArray))
                first.Device.Backend.Copy(t, slot);
            offset += t.Dims[axis];
        }
        if (!first.DType.IsFloatingPoint()) return result;
        var sizes = tensors.Select(t => t.Dims[axis]).ToArray();
        return GradMode.Record(result, "cat", [.. tensors], g =>
        {
            var grads = new Tensor?[sizes.Length];
            int at = 0;
            for (int i = 0; i < sizes.Length; i++)
            {
                using var piece = g.Narrow(axis, at, sizes[i]);
                grads[i] = piece.Contiguous();
                at += sizes[i];
            }
            return grads;
        });
    }

    private static int[] WithDim(int[] shape, int axis, int size)
    {
        var s = (int[])shape.Clone();
        s[axis] = size;
        return s;
    }

    /// <summary>The index of the largest value along the last dimension (first one on ties), as Int64 (no gradient).</summary>
    public Tensor ArgMax()
    {
        ThrowIfDisposed();
        if (Rank == 0) throw new InvalidOperationException("ArgMax needs at least one dimension.");
        int n = Dims[^1];
        if (n == 0) throw new InvalidOperationException($"ArgMax over an empty last dimension (Tensor{ShapeUtil.Format(Dims)}).");
        var values = DType == DType.Float64 ? ToArray<double>() : (DType == DType.Float32 ? ToArray<float>().Select(v => (double)v).ToArray()
            : throw new NotSupportedException($"ArgMax works on float32 or float64 tensors, not {DType}."));
        var result = new long[values.Length / n];
        for (int r = 0; r < result.Length; r++)
        {
            int best = 0;
            for (int i = 1; i < n; i++) if (values[r * n + i] > values[r * n + best]) best = i;
            result[r] = best;
        }
        return FromArray(result, Dims[..^1]);
    }
}
