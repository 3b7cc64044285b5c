using Engine.Autograd;

namespace Engine;

// Views: reshape, transpose, permute, narrow, squeeze. They share storage where the layout allows
// and record their (trivial) backward so gradients flow through them.
public sealed partial class Tensor
{
    private Tensor ViewOf(int offset, int[] shape, int[] strides)
    {
        ThrowIfDisposed();
        Storage.AddRef();
        return new Tensor(Storage, offset, shape, strides);
    }

    /// <summary>Rows [start, start + count) of a contiguous tensor along its first dimension, as a view without a node.</summary>
    internal Tensor RowsNoGrad(int start, int count)
    {
        if (!IsContiguous || Rank < 1 || start < 0 || count < 0 || start + count > Dims[0])
            throw new ArgumentException($"Rows {start} to {start + count} of Tensor{ShapeUtil.Format(Dims)}: need a contiguous tensor and rows inside it.");
        int[] shape = [count, .. Dims[1..]];
        return ViewOf(Offset + start * (Dims[0] == 0 ? 0 : Count / Dims[0]), shape, ShapeUtil.ContiguousStrides(shape));
    }

    /// <summary>Dense input for a kernel: this tensor when it is contiguous from offset 0, else a packed copy (owned = true: dispose it).</summary>
    internal (Tensor Tensor, bool Owned) Dense()
    {
        ThrowIfDisposed();
        if (Offset == 0 && IsContiguous) return (this, false);
        var copy = Empty(Dims, DType, Device);
        Device.Backend.Copy(this, copy);
        return (copy, true);
    }

    /// <summary>A contiguous tensor with the same values: a view when already contiguous, else a copy.</summary>
    public Tensor Contiguous()
    {
        ThrowIfDisposed();
        if (IsContiguous) return Grad_(ViewOf(Offset, Dims, StridesArray), "contiguous", g => g);
        var copy = Empty(Dims, DType, Device);
        Device.Backend.Copy(this, copy);
        return Grad_(copy, "contiguous", g => g);
    }

    private Tensor Grad_(Tensor result, string op, Func<Tensor, Tensor> backward) =>
        GradMode.Record(result, op, [this], g => [backward(g)]);

    /// <summary>The same elements with a new shape (one dimension may be -1). A view when the layout allows, else a copy.</summary>
    public Tensor Reshape(params int[] shape)
    {
        ThrowIfDisposed();
        var dims = ResolveShape(shape);
        var original = Dims;
        if (IsContiguous)
            return Grad_(ViewOf(Offset, dims, ShapeUtil.ContiguousStrides(dims)), "reshape", g => g.Reshape(original));
        // A strided view cannot be reshaped in place: copy it (the copy carries the gradient), then view the copy.
        return Contiguous().Reshape(dims);
    }

    private int[] ResolveShape(int[] shape)
    {
        int infer = -1, known = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] == -1)
            {
                if (infer >= 0) throw new ArgumentException($"Reshape to {ShapeUtil.Format(shape)}: only one dimension may be -1.");
                infer = i;
            }
            else known *= shape[i];
        }
        var dims = (int[])shape.Clone();
        if (infer >= 0)
        {
            if (known == 0 || Count % known != 0)
                throw new ArgumentException($"Cannot reshape Tensor{ShapeUtil.Format(Dims)} ({Count} elements) to {ShapeUtil.Format(shape)}.");
            dims[infer] = Count / known;
        }
        if (ShapeUtil.Count(dims) != Count)
            throw new ArgumentException($"Cannot reshape Tensor{ShapeUtil.Format(Dims)} ({Count} elements) to {ShapeUtil.Format(shape)} ({ShapeUtil.Count(dims)} elements).");
        return ShapeUtil.Validate(dims);
    }

    /// <summary>Swaps two dimensions (a view).</summary>
    public Tensor Transpose(int dim0, int dim1)
    {
        int a = ShapeUtil.Axis(dim0, Rank), b = ShapeUtil.Axis(dim1, Rank);
        var shape = (int[])Dims.Clone(); var strides = (int[])StridesArray.Clone();
        (shape[a], shape[b]) = (shape[b], shape[a]);
        (strides[a], strides[b]) = (strides[b], strides[a]);
        return Grad_(ViewOf(Offset, shape, strides), "transpose", g => g.Transpose(a, b));
    }

    /// <summary>Reorders dimensions (a view): result dimension i is this tensor's dimension <c>order[i]</c>.</summary>
    public Tensor Permute(params int[] order)
    {
        if (order.Length != Rank)
            throw new ArgumentException($"Permute of Tensor{ShapeUtil.Format(Dims)} needs {Rank} dimensions, got {ShapeUtil.Format(order)}.");
        var axes = order.Select(o => ShapeUtil.Axis(o, Rank)).ToArray();
        if (axes.Distinct().Count() != Rank)
            throw new ArgumentException($"Permute order {ShapeUtil.Format(order)} must name each dimension once.");
        var shape = axes.Select(a => Dims[a]).ToArray();
        var strides = axes.Select(a => StridesArray[a]).ToArray();
        var inverse = new int[Rank];
        for (int i = 0; i < Rank; i++) inverse[axes[i]] = i;
        return Grad_(ViewOf(Offset, shape, strides), "permute", g => g.Permute(inverse));
    }

    /// <summary>Elements <paramref name="start"/> to <paramref name="start"/>+<paramref name="length"/> of one dimension (a view).</summary>
    public Tensor Narrow(int dim, int start, int length)
    {
        int a = ShapeUtil.Axis(dim, Rank);
        if (start < 0 || length < 0 || start + length > Dims[a])
            throw new ArgumentOutOfRangeException(nameof(start), $"Narrow({dim}, {start}, {length}) is out of range for dimension {a} of size {Dims[a]} in Tensor{ShapeUtil.Format(Dims)}.");
        var shape = (int[])Dims.Clone();
        shape[a] = length;
        var original = Dims;
        return Grad_(ViewOf(Offset + start * StridesArray[a], shape, StridesArray), "narrow", g =>
        {
            var full = Zeros(original, g.DType, g.Device);
            using (GradMode.NoGrad())
            using (var window = full.Narrow(a, start, length))
                window.CopyFrom(g);
            return full;
        });
    }

    /// <summary>Inserts a dimension of size 1 (a view).</summary>
    public Tensor Unsqueeze(int dim)
    {
        int a = dim < 0 ? dim + Rank + 1 : dim;
        var shape = Dims.ToList(); shape.Insert(a, 1);
        return Reshape([.. shape]);
    }

    /// <summary>Removes a dimension of size 1 (a view).</summary>
    public Tensor Squeeze(int dim)
    {
        int a = ShapeUtil.Axis(dim, Rank);
        if (Dims[a] != 1) throw new ArgumentException($"Squeeze({dim}): dimension {a} of Tensor{ShapeUtil.Format(Dims)} has size {Dims[a]}, not 1.");
        var shape = Dims.ToList(); shape.RemoveAt(a);
        return Reshape([.. shape]);
    }

    /// <summary>The same values cut from the graph: no gradient flows through the result (shares storage).</summary>
    public Tensor Detach() => ViewOf(Offset, Dims, StridesArray);

    /// <summary>A copy converted to <paramref name="dtype"/> (gradients flow between floating-point dtypes).</summary>
    public Tensor To(DType dtype)
    {
        var (src, owned) = Dense();
        var result = Empty(Dims, dtype, Device);
        try { Device.Backend.Cast(src, result); }
        finally { if (owned) src.Dispose(); }
        if (!dtype.IsFloatingPoint() || !DType.IsFloatingPoint()) return result;
        var from = DType;
        return Grad_(result, "to", g => g.To(from));
    }

    /// <summary>Runs the backward pass from this scalar (or with an explicit output gradient), accumulating into leaves' <see cref="Grad"/>.</summary>
    public void Backward(Tensor? gradient = null) => Backprop.Run(this, gradient);
}
