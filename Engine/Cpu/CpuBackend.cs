using System.Numerics;
using System.Numerics.Tensors;
using Engine.Numerics;

namespace Engine.Cpu;

/// <summary>
/// The CPU kernels: TensorPrimitives for elementwise work, our SGEMM for matrix products, and
/// row-parallel loops for the fused transformer ops. Float32 is the fast path; float64 exists for
/// gradient checks and runs the same generic code.
/// </summary>
internal sealed partial class CpuBackend : IBackend
{
    /// <summary>Work below this many elements runs on one thread: a Parallel.For costs microseconds.</summary>
    internal const int ParallelThreshold = 1 << 15;

    private static void RequireFloat(Tensor t, string op)
    {
        if (t.DType is not (DType.Float32 or DType.Float64))
            throw new NotSupportedException($"{op} on the CPU needs float32 or float64 tensors, not {t.DType}; convert with To(DType.Float32).");
    }

    public void Copy(Tensor src, Tensor dst)
    {
        switch (src.DType)
        {
            case DType.Float32: CopyT<float>(src, dst); break;
            case DType.Float64: CopyT<double>(src, dst); break;
            case DType.Int32: CopyT<int>(src, dst); break;
            case DType.Int64: CopyT<long>(src, dst); break;
            case DType.BFloat16: CopyT<ushort>(src, dst); break;
        }
    }

    private static void CopyT<T>(Tensor src, Tensor dst) where T : unmanaged
    {
        if (dst.IsContiguous)
        {
            StridedCopy.ToContiguous(src.Raw<T>(), src.Offset, src.Dims, src.StridesArray, dst.Span<T>());
        }
        else
        {
            var tmp = new T[src.Count];
            StridedCopy.ToContiguous(src.Raw<T>(), src.Offset, src.Dims, src.StridesArray, tmp);
            StridedCopy.FromContiguous<T>(tmp, dst.Raw<T>(), dst.Offset, dst.Dims, dst.StridesArray);
        }
    }

    public void Cast(Tensor src, Tensor dst)
    {
        // Route through double for exactness between the wide types; bf16 uses its own rounding.
        if (src.DType == DType.Float32 && dst.DType == DType.BFloat16)
        {
            BFloat16.ConvertFromSingle(src.Span<float>(), System.Runtime.InteropServices.MemoryMarshal.Cast<ushort, BFloat16>(dst.Span<ushort>()));
            return;
        }
        if (src.DType == DType.BFloat16 && dst.DType == DType.Float32)
        {
            BFloat16.ConvertToSingle(System.Runtime.InteropServices.MemoryMarshal.Cast<ushort, BFloat16>(src.Span<ushort>()), dst.Span<float>());
            return;
        }
        int n = src.Count;
        var tmp = new double[n];
        switch (src.DType)
        {
            case DType.Float32: { var s = src.Span<float>(); for (int i = 0; i < n; i++) tmp[i] = s[i]; break; }
            case DType.Float64: src.Span<double>().CopyTo(tmp); break;
            case DType.Int32: { var s = src.Span<int>(); for (int i = 0; i < n; i++) tmp[i] = s[i]; break; }
            case DType.Int64: { var s = src.Span<long>(); for (int i = 0; i < n; i++) tmp[i] = s[i]; break; }
            case DType.BFloat16: { var s = src.Span<ushort>(); for (int i = 0; i < n; i++) tmp[i] = (float)BFloat16.FromBits(s[i]); break; }
        }
        switch (dst.DType)
        {
            case DType.Float32: { var d = dst.Span<float>(); for (int i = 0; i < n; i++) d[i] = (float)tmp[i]; break; }
            case DType.Float64: tmp.CopyTo(dst.Span<double>()); break;
            case DType.Int32: { var d = dst.Span<int>(); for (int i = 0; i < n; i++) d[i] = checked((int)tmp[i]); break; }
            case DType.Int64: { var d = dst.Span<long>(); for (int i = 0; i < n; i++) d[i] = checked((long)tmp[i]); break; }
            case DType.BFloat16: { var d = dst.Span<ushort>(); for (int i = 0; i < n; i++) d[i] = ((BFloat16)tmp[i]).RawValue; break; }
        }
    }

    // ------------------------------------------------------------------ elementwise

    public void Binary(BinaryOp op, Tensor a, Tensor b, Tensor dst)
    {
        RequireFloat(dst, op.ToString());
        if (dst.DType == DType.Float32) BinaryT<float>(op, a, b, dst);
        else BinaryT<double>(op, a, b, dst);
    }

    private static void BinaryT<T>(BinaryOp op, Tensor a, Tensor b, Tensor dst) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var d = dst.Span<T>();
        if (a.IsContiguous && b.IsContiguous)
        {
            if (a.Count == d.Length && b.Count == d.Length)
            {
                var sa = a.Span<T>(); var sb = b.Span<T>();
                switch (op)
                {
                    case BinaryOp.Add: TensorPrimitives.Add(sa, sb, d); break;
                    case BinaryOp.Sub: TensorPrimitives.Subtract(sa, sb, d); break;
                    case BinaryOp.Mul: TensorPrimitives.Multiply(sa, sb, d); break;
                    case BinaryOp.Div: TensorPrimitives.Divide(sa, sb, d); break;
                }
                return;
            }
            if (b.Count == 1 && a.Count == d.Length)
            {
                T s = b.Span<T>()[0];
                var sa = a.Span<T>();
                switch (op)
                {
                    case BinaryOp.Add: TensorPrimitives.Add(sa, s, d); break;
                    case BinaryOp.Sub: TensorPrimitives.Subtract(sa, s, d); break;
                    case BinaryOp.Mul: TensorPrimitives.Multiply(sa, s, d); break;
                    case BinaryOp.Div: TensorPrimitives.Divide(sa, s, d); break;
                }
                return;
            }
        }
        // General path: walk the output in row-major order with broadcast strides for both inputs.
        var shape = dst.Dims;
        int rank = shape.Length;
        var stA = ShapeUtil.BroadcastStrides(a.Dims, a.StridesArray, shape);
        var stB = ShapeUtil.BroadcastStrides(b.Dims, b.StridesArray, shape);
        var ra = a.Raw<T>(); var rb = b.Raw<T>();
        if (d.Length == 0) return;
        if (rank == 0) { d[0] = Apply(op, ra[a.Offset], rb[b.Offset]); return; }
        Span<int> index = stackalloc int[rank];
        int inner = shape[rank - 1], sa1 = stA[rank - 1], sb1 = stB[rank - 1];
        int o = 0;
        for (int row = 0, rows = d.Length / inner; row < rows; row++)
        {
            int ia = a.Offset, ib = b.Offset;
            for (int k = 0; k < rank - 1; k++) { ia += index[k] * stA[k]; ib += index[k] * stB[k]; }
            for (int i = 0; i < inner; i++, ia += sa1, ib += sb1) d[o++] = Apply(op, ra[ia], rb[ib]);
            for (int k = rank - 2; k >= 0; k--)
            {
                if (++index[k] < shape[k]) break;
                index[k] = 0;
            }
        }
    }

    private static T Apply<T>(BinaryOp op, T x, T y) where T : IFloatingPointIeee754<T> => op switch
    {
        BinaryOp.Add => x + y,
        BinaryOp.Sub => x - y,
        BinaryOp.Mul => x * y,
        _ => x / y,
    };

    public void Unary(UnaryOp op, Tensor x, Tensor dst, double arg)
    {
        RequireFloat(x, op.ToString());
        if (x.DType == DType.Float32) UnaryT(op, x.Span<float>(), dst.Span<float>(), (float)arg);
        else UnaryT(op, x.Span<double>(), dst.Span<double>(), arg);
    }

    private static void UnaryT<T>(UnaryOp op, ReadOnlySpan<T> x, Span<T> y, T arg) where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (op)
        {
            case UnaryOp.Scale: TensorPrimitives.Multiply(x, arg, y); break;
            case UnaryOp.AddScalar: TensorPrimitives.Add(x, arg, y); break;
            case UnaryOp.Exp: TensorPrimitives.Exp(x, y); break;
            case UnaryOp.Log: TensorPrimitives.Log(x, y); break;
            case UnaryOp.Tanh: TensorPrimitives.Tanh(x, y); break;
            case UnaryOp.Sqrt: TensorPrimitives.Sqrt(x, y); break;
            case UnaryOp.Square: TensorPrimitives.Multiply(x, x, y); break;
            case UnaryOp.Relu: TensorPrimitives.Max(x, T.Zero, y); break;
            case UnaryOp.ReluSquared:
                TensorPrimitives.Max(x, T.Zero, y);
                TensorPrimitives.Multiply(y, y, y);
                break;
            case UnaryOp.Softcap:
                // cap * tanh(x / cap)
                TensorPrimitives.Multiply(x, T.One / arg, y);
                TensorPrimitives.Tanh(y, y);
                TensorPrimitives.Multiply(y, arg, y);
                break;
        }
    }

    public void UnaryBackward(UnaryOp op, Tensor x, Tensor y, Tensor dy, Tensor dx, double arg)
    {
        if (x.DType == DType.Float32) UnaryBackwardT(op, x.Span<float>(), y.Span<float>(), dy.Span<float>(), dx.Span<float>(), (float)arg);
        else UnaryBackwardT(op, x.Span<double>(), y.Span<double>(), dy.Span<double>(), dx.Span<double>(), arg);
    }

    private static void UnaryBackwardT<T>(UnaryOp op, ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx, T arg)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T two = T.One + T.One;
        switch (op)
        {
            case UnaryOp.Scale: TensorPrimitives.Multiply(dy, arg, dx); break;
            case UnaryOp.AddScalar: dy.CopyTo(dx); break;
            case UnaryOp.Exp: TensorPrimitives.Multiply(dy, y, dx); break;
            case UnaryOp.Log: TensorPrimitives.Divide(dy, x, dx); break;
            case UnaryOp.Sqrt: // dy / (2 y)
                TensorPrimitives.Divide(dy, y, dx);
                TensorPrimitives.Multiply(dx, T.One / two, dx);
                break;
            case UnaryOp.Square: // dy · 2x
                TensorPrimitives.Multiply(dy, x, dx);
                TensorPrimitives.Multiply(dx, two, dx);
                break;
            case UnaryOp.Tanh: // dy · (1 − y²)
                TensorPrimitives.Multiply(y, y, dx);
                TensorPrimitives.Subtract(T.One, dx, dx);
                TensorPrimitives.Multiply(dx, dy, dx);
                break;
            case UnaryOp.Softcap: // y = cap·tanh(x/cap): dy · (1 − (y/cap)²)
                TensorPrimitives.Multiply(y, y, dx);
                TensorPrimitives.Multiply(dx, -T.One / (arg * arg), dx);
                TensorPrimitives.Add(dx, T.One, dx);
                TensorPrimitives.Multiply(dx, dy, dx);
                break;
            case UnaryOp.Relu: // dy where x > 0
                for (int i = 0; i < dx.Length; i++) dx[i] = y[i] > T.Zero ? dy[i] : T.Zero;
                break;
            case UnaryOp.ReluSquared: // dy · 2·relu(x) = dy · 2·√y, from the output alone
                TensorPrimitives.Sqrt(y, dx);
                TensorPrimitives.Multiply(dx, dy, dx);
                TensorPrimitives.Multiply(dx, two, dx);
                break;
        }
    }

    public void AddInPlace(Tensor dst, Tensor src, double alpha)
    {
        if (!src.IsContiguous) { using var c = src.Contiguous(); AddInPlace(dst, c, alpha); return; }
        if (dst.DType == DType.Float32)
        {
            var d = dst.Span<float>();
            if (alpha == 1.0) TensorPrimitives.Add(d, src.Span<float>(), d);
            else TensorPrimitives.MultiplyAdd(src.Span<float>(), (float)alpha, d, d);
        }
        else
        {
            var d = dst.Span<double>();
            TensorPrimitives.MultiplyAdd(src.Span<double>(), alpha, d, d);
        }
    }

    public void SumTo(Tensor x, Tensor dst)
    {
        RequireFloat(x, "Sum");
        if (x.DType == DType.Float32) SumToT<float>(x, dst);
        else SumToT<double>(x, dst);
    }

    private static void SumToT<T>(Tensor x, Tensor dst) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var d = dst.Span<T>();
        var s = x.Span<T>();
        if (d.Length == s.Length) { s.CopyTo(d); return; }
        if (d.Length == 1) { d[0] = TensorPrimitives.Sum(s); return; }
        var shape = x.Dims;
        int rank = shape.Length;
        var outStrides = ShapeUtil.BroadcastStrides(dst.Dims, dst.StridesArray, shape);
        int inner = shape[rank - 1];
        // Common cases first: reduce the last dim (row sums), or reduce leading dims (column sums).
        if (outStrides[rank - 1] == 0 && d.Length == s.Length / inner)
        {
            for (int r = 0; r < d.Length; r++) d[r] = TensorPrimitives.Sum(s.Slice(r * inner, inner));
            return;
        }
        d.Clear();
        if (d.Length == inner && outStrides[rank - 1] == 1)
        {
            for (int r = 0, rows = s.Length / inner; r < rows; r++) TensorPrimitives.Add(d, s.Slice(r * inner, inner), d);
            return;
        }
        Span<int> index = stackalloc int[rank];
        int so = outStrides[rank - 1];
        int o = 0;
        for (int row = 0, rows = s.Length / inner; row < rows; row++)
        {
            int io = 0;
            for (int k = 0; k < rank - 1; k++) io += index[k] * outStrides[k];
            for (int i = 0; i < inner; i++, io += so) d[io] += s[o++];
            for (int k = rank - 2; k >= 0; k--)
            {
                if (++index[k] < shape[k]) break;
                index[k] = 0;
            }
        }
    }
}
