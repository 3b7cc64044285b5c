using Engine.Autograd;

namespace Engine;

// Elementwise arithmetic with broadcasting, reductions and matrix products, each with its
// backward rule next to its forward.
public sealed partial class Tensor
{
    // ------------------------------------------------------------------ broadcasting

    /// <summary>A view of this tensor broadcast to <paramref name="shape"/> (size-1 dimensions repeat with stride 0).</summary>
    public Tensor Expand(params int[] shape)
    {
        if (shape.Length < Rank || !ShapeUtil.SameShape(ShapeUtil.Broadcast(Dims, shape, "Expand"), shape))
            throw new ArgumentException($"Expand: Tensor{ShapeUtil.Format(Dims)} cannot be expanded to {ShapeUtil.Format(shape)}.");
        var original = Dims;
        return Grad_(ViewOf(Offset, (int[])shape.Clone(), ShapeUtil.BroadcastStrides(Dims, StridesArray, shape)), "expand", g => g.SumToShape(original));
    }

    /// <summary>Sums over broadcast dimensions so the result has <paramref name="shape"/> (the backward of broadcasting).</summary>
    internal Tensor SumToShape(int[] shape)
    {
        if (ShapeUtil.SameShape(Dims, shape)) return this;
        var (x, owned) = Dense();
        var result = Empty(shape, DType, Device);
        Device.Backend.SumTo(x, result);
        if (owned) x.Dispose();
        return result;
    }

    private static void RequireFloatOperands(Tensor a, Tensor b, string op)
    {
        a.ThrowIfDisposed(); b.ThrowIfDisposed();
        if (a.DType != b.DType)
            throw new ArgumentException($"{op}: dtypes {a.DType} and {b.DType} differ; convert one with To().");
        if (!a.DType.IsFloatingPoint() || a.DType == DType.BFloat16)
            throw new NotSupportedException($"{op} computes on float32 or float64 tensors, not {a.DType}.");
        if (a.Device != b.Device)
            throw new ArgumentException($"{op}: tensors are on different devices ({a.Device} and {b.Device}).");
    }

    private static Tensor BinaryOpRecorded(BinaryOp op, Tensor a, Tensor b)
    {
        RequireFloatOperands(a, b, op.ToString());
        var shape = ShapeUtil.Broadcast(a.Dims, b.Dims, op.ToString());
        var result = Empty(shape, a.DType, a.Device);
        a.Device.Backend.Binary(op, a, b, result);
        int[] sa = a.Dims, sb = b.Dims;
        return GradMode.Record(result, op.ToString().ToLowerInvariant(), [a, b], g => op switch
        {
            BinaryOp.Add => [g.SumToShape(sa), g.SumToShape(sb)],
            BinaryOp.Sub => [g.SumToShape(sa), (g * -1.0).SumToShape(sb)],
            BinaryOp.Mul => [a.RequiresGrad ? (g * b).SumToShape(sa) : null, b.RequiresGrad ? (g * a).SumToShape(sb) : null],
            _ => [a.RequiresGrad ? (g / b).SumToShape(sa) : null, b.RequiresGrad ? (g * result / b * -1.0).SumToShape(sb) : null],
        });
    }

    /// <summary>a + b with broadcasting.</summary>
    public static Tensor Add(Tensor a, Tensor b) => BinaryOpRecorded(BinaryOp.Add, a, b);
    /// <summary>a - b with broadcasting.</summary>
    public static Tensor Sub(Tensor a, Tensor b) => BinaryOpRecorded(BinaryOp.Sub, a, b);
    /// <summary>a * b (elementwise) with broadcasting.</summary>
    public static Tensor Mul(Tensor a, Tensor b) => BinaryOpRecorded(BinaryOp.Mul, a, b);
    /// <summary>a / b (elementwise) with broadcasting.</summary>
    public static Tensor Div(Tensor a, Tensor b) => BinaryOpRecorded(BinaryOp.Div, a, b);

    /// <summary>a + b with broadcasting.</summary>
    public static Tensor operator +(Tensor a, Tensor b) => Add(a, b);
    /// <summary>a - b with broadcasting.</summary>
    public static Tensor operator -(Tensor a, Tensor b) => Sub(a, b);
    /// <summary>a * b (elementwise) with broadcasting.</summary>
    public static Tensor operator *(Tensor a, Tensor b) => Mul(a, b);
    /// <summary>a / b (elementwise) with broadcasting.</summary>
    public static Tensor operator /(Tensor a, Tensor b) => Div(a, b);
    /// <summary>a * s.</summary>
    public static Tensor operator *(Tensor a, double s) => a.Unary(UnaryOp.Scale, s);
    /// <summary>s * a.</summary>
    public static Tensor operator *(double s, Tensor a) => a.Unary(UnaryOp.Scale, s);
    /// <summary>a + s.</summary>
    public static Tensor operator +(Tensor a, double s) => a.Unary(UnaryOp.AddScalar, s);
    /// <summary>-a.</summary>
    public static Tensor operator -(Tensor a) => a.Unary(UnaryOp.Scale, -1.0);

    // ------------------------------------------------------------------ unary

    internal Tensor Unary(UnaryOp op, double arg = 0)
    {
        ThrowIfDisposed();
        if (DType is not (DType.Float32 or DType.Float64))
            throw new NotSupportedException($"{op} computes on float32 or float64 tensors, not {DType}.");
        var (x, owned) = Dense();
        var y = Empty(Dims, DType, Device);
        Device.Backend.Unary(op, x, y, arg);
        if (owned) x.Dispose();
        var input = this;
        return GradMode.Record(y, op.ToString(), [this], g =>
        {
            // Only Log and Square need their input for the derivative; the others take it from the output,
            // so their input may be freed before the backward (Gpt frees the MLP's pre-activation).
            var (xd, ox) = op is UnaryOp.Log or UnaryOp.Square ? input.Dense() : (y, false);
            var (gd, og) = g.Dense();
            var dx = Empty(input.Dims, input.DType, input.Device);
            input.Device.Backend.UnaryBackward(op, xd, y, gd, dx, arg);
            if (ox) xd.Dispose();
            if (og) gd.Dispose();
            return [dx];
        });
    }

    /// <summary>e^x.</summary>
    public Tensor Exp() => Unary(UnaryOp.Exp);
    /// <summary>Natural logarithm.</summary>
    public Tensor Log() => Unary(UnaryOp.Log);
    /// <summary>Hyperbolic tangent.</summary>
    public Tensor Tanh() => Unary(UnaryOp.Tanh);
    /// <summary>Square root.</summary>
    public Tensor Sqrt() => Unary(UnaryOp.Sqrt);
    /// <summary>x².</summary>
    public Tensor Square() => Unary(UnaryOp.Square);
    /// <summary>max(x, 0).</summary>
    public Tensor Relu() => Unary(UnaryOp.Relu);
    /// <summary>max(x, 0)², the nanochat MLP activation.</summary>
    public Tensor ReluSquared() => Unary(UnaryOp.ReluSquared);
    /// <summary>cap · tanh(x / cap): bounds logits smoothly to (-cap, cap).</summary>
    public Tensor Softcap(double cap)
    {
        if (!(cap > 0)) throw new ArgumentOutOfRangeException(nameof(cap), cap, "The softcap must be positive.");
        return Unary(UnaryOp.Softcap, cap);
    }

    // ------------------------------------------------------------------ reductions

    /// <summary>The sum of all elements (a scalar).</summary>
    public Tensor Sum()
    {
        var r = SumToShapeRecorded(Enumerable.Repeat(1, Rank).ToArray());
        return r.Reshape([]);
    }

    /// <summary>The sum over <paramref name="dim"/>.</summary>
    public Tensor Sum(int dim, bool keepDim = false)
    {
        int a = ShapeUtil.Axis(dim, Rank);
        var keep = (int[])Dims.Clone(); keep[a] = 1;
        var r = SumToShapeRecorded(keep);
        return keepDim ? r : r.Squeeze(a);
    }

    /// <summary>The mean of all elements (a scalar).</summary>
    public Tensor Mean() => Sum() * (1.0 / Math.Max(Count, 1));

    /// <summary>The mean over <paramref name="dim"/>.</summary>
    public Tensor Mean(int dim, bool keepDim = false) => Sum(dim, keepDim) * (1.0 / Math.Max(Size(dim), 1));

    private Tensor SumToShapeRecorded(int[] shape)
    {
        if (DType is not (DType.Float32 or DType.Float64))
            throw new NotSupportedException($"Sum computes on float32 or float64 tensors, not {DType}.");
        var original = Dims;
        var (x, owned) = Dense();
        var result = Empty(shape, DType, Device);
        Device.Backend.SumTo(x, result);
        if (owned) x.Dispose();
        return GradMode.Record(result, "sum", [this], g =>
        {
            using var expanded = g.Expand(original);
            return [expanded.Contiguous()];
        });
    }

    // ------------------------------------------------------------------ matrix products

    /// <summary>
    /// Matrix product over the last two dimensions: (…, m, k) @ (k, n) or batched (…, m, k) @ (…, k, n)
    /// with equal leading dimensions. Transposed views are read as they are, without a copy.
    /// </summary>
    public static Tensor MatMul(Tensor a, Tensor b)
    {
        RequireFloatOperands(a, b, "MatMul");
        if (a.Rank < 2 || b.Rank < 2)
            throw new ArgumentException($"MatMul needs tensors of rank 2 or more, got {ShapeUtil.Format(a.Dims)} and {ShapeUtil.Format(b.Dims)}.");
        int m = a.Dims[^2], k = a.Dims[^1], n = b.Dims[^1];
        if (b.Dims[^2] != k)
            throw new ArgumentException($"MatMul: shapes {ShapeUtil.Format(a.Dims)} and {ShapeUtil.Format(b.Dims)} do not chain (a's last dimension {k} must equal b's second-to-last {b.Dims[^2]}).");
        var outShape = a.Dims[..^1].Append(n).ToArray();
        if (b.Rank > 2)
        {
            if (b.Rank != a.Rank || !a.Dims.AsSpan(0, a.Rank - 2).SequenceEqual(b.Dims.AsSpan(0, b.Rank - 2)))
                throw new ArgumentException($"Batched MatMul needs equal leading dimensions, got {ShapeUtil.Format(a.Dims)} and {ShapeUtil.Format(b.Dims)}.");
        }
        int batch = ShapeUtil.Count(a.Dims.AsSpan(0, a.Rank - 2));
        var c = Empty(outShape, a.DType, a.Device);
        using (var a3 = b.Rank == 2 ? a.FlattenRowsNoGrad(batch * m, k) : a.AsBatch(batch))
        using (var b3 = b.Rank == 2 ? b.NoGradView() : b.AsBatch(batch))
        using (var c3 = b.Rank == 2 ? c.ReshapeNoGrad(batch * m, n) : c.ReshapeNoGrad(batch, m, n))
            Gemm(a3, b3, c3, 1.0, 0.0);
        return GradMode.Record(c, "matmul", [a, b], g =>
        [
            a.RequiresGrad ? MatMul(g, b.Transpose(-1, -2)) : null,
            b.RequiresGrad ? (b.Rank == 2 ? MatMul(a.Reshape(-1, k).Transpose(0, 1), g.Reshape(-1, n)) : MatMul(a.Transpose(-1, -2), g)) : null,
        ]);
    }

    /// <summary>c = alpha · a @ b + beta · c for rank-2 or rank-3 operands, absorbing transposed layouts into the GEMM's flags.</summary>
    internal static void Gemm(Tensor a, Tensor b, Tensor c, double alpha, double beta)
    {
        var (ad, ta, oa) = a.MatrixOperand();
        var (bd, tb, ob) = b.MatrixOperand();
        try { a.Device.Backend.MatMul(ad, ta, bd, tb, c, alpha, beta); }
        finally
        {
            if (oa) ad.Dispose();
            if (ob) bd.Dispose();
        }
    }

    /// <summary>This matrix (or batch of matrices) as a dense operand, possibly stored transposed.</summary>
    private (Tensor Dense, bool Transposed, bool Owned) MatrixOperand()
    {
        int r = Rank, rows = Dims[r - 2], cols = Dims[r - 1];
        bool batchDense = r == 2 || StridesArray[0] == rows * cols || Dims[0] == 1;
        if (Offset == 0 && batchDense)
        {
            if ((StridesArray[r - 1] == 1 || cols == 1) && (StridesArray[r - 2] == cols || rows == 1)) return (this, false, false);
            if ((StridesArray[r - 2] == 1 || rows == 1) && (StridesArray[r - 1] == rows || cols == 1))
            {
                // Stored as the transpose: hand the GEMM the natural layout and the flag.
                var shape = (int[])Dims.Clone(); (shape[r - 2], shape[r - 1]) = (cols, rows);
                return (ViewOf(0, shape, ShapeUtil.ContiguousStrides(shape)), true, true);
            }
        }
        var (d, owned) = Dense();
        return (d, false, owned);
    }

    private Tensor NoGradView() => ViewOf(Offset, Dims, StridesArray);

    private Tensor AsBatch(int batch)
    {
        int rows = Dims[^2], cols = Dims[^1];
        if (Rank == 3) return NoGradView();
        // Leading dims merge into one batch dim only when they are contiguous among themselves.
        var (d, owned) = Dense();
        var v = d.ViewOf(d.Offset, [batch, rows, cols], ShapeUtil.ContiguousStrides([batch, rows, cols]));
        if (owned) d.Dispose();
        return v;
    }

    private Tensor FlattenRowsNoGrad(int rows, int cols)
    {
        if (Rank == 2) return NoGradView();
        var (d, owned) = Dense();
        var v = d.ViewOf(d.Offset, [rows, cols], [cols, 1]);
        if (owned) d.Dispose();
        return v;
    }

    internal Tensor ReshapeNoGrad(params int[] shape) => ViewOf(Offset, shape, ShapeUtil.ContiguousStrides(shape));
}
