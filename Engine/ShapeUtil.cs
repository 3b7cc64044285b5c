namespace Engine;

/// <summary>Shape arithmetic shared by tensors and ops: validation, strides, broadcasting, messages.</summary>
internal static class ShapeUtil
{
    public static int[] Validate(ReadOnlySpan<int> shape)
    {
        long count = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"Shape {Format(shape)} has a negative dimension; every size must be zero or more.");
            count *= d;
            if (count > int.MaxValue) throw new ArgumentException($"Shape {Format(shape)} has more than {int.MaxValue} elements, the limit of one tensor (elements are indexed with int, as on the GPU); split the work into smaller pieces (for training, fewer rows per micro-batch).");
        }
        return shape.ToArray();
    }

    public static int Count(ReadOnlySpan<int> shape)
    {
        int n = 1;
        foreach (int d in shape) n *= d;
        return n;
    }

    public static int[] ContiguousStrides(ReadOnlySpan<int> shape)
    {
        var strides = new int[shape.Length];
        int s = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = s;
            s *= Math.Max(shape[i], 1);
        }
        return strides;
    }

    public static bool IsContiguous(ReadOnlySpan<int> shape, ReadOnlySpan<int> strides)
    {
        int expected = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            if (shape[i] == 1) continue;
            if (strides[i] != expected) return false;
            expected *= shape[i];
        }
        return true;
    }

    public static int Axis(int dim, int rank)
    {
        int a = dim < 0 ? dim + rank : dim;
        if (a < 0 || a >= rank)
            throw new ArgumentOutOfRangeException(nameof(dim), dim, $"Dimension {dim} is out of range for a tensor of rank {rank} (valid: {-rank} to {rank - 1}).");
        return a;
    }

    public static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    public static bool SameShape(ReadOnlySpan<int> a, ReadOnlySpan<int> b) => a.SequenceEqual(b);

    public static void RequireSameShape(Tensor a, Tensor b, string op)
    {
        if (!SameShape(a.Dims, b.Dims))
            throw new ArgumentException($"{op}: shapes {Format(a.Dims)} and {Format(b.Dims)} must be equal.");
    }

    /// <summary>The broadcast shape of two shapes (NumPy rules), or an exception naming both.</summary>
    public static int[] Broadcast(ReadOnlySpan<int> a, ReadOnlySpan<int> b, string op)
    {
        int rank = Math.Max(a.Length, b.Length);
        var result = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            int db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (da != db && da != 1 && db != 1)
                throw new ArgumentException($"{op}: shapes {Format(a)} and {Format(b)} cannot be broadcast together (dimension {i} is {da} vs {db}).");
            result[i] = da == 1 ? db : da;
        }
        return result;
    }

    /// <summary>Strides that read a tensor of <paramref name="shape"/>/<paramref name="strides"/> as if it had shape <paramref name="target"/> (0 where broadcast).</summary>
    public static int[] BroadcastStrides(ReadOnlySpan<int> shape, ReadOnlySpan<int> strides, ReadOnlySpan<int> target)
    {
        var result = new int[target.Length];
        int offset = target.Length - shape.Length;
        for (int i = 0; i < shape.Length; i++)
            result[i + offset] = shape[i] == 1 && target[i + offset] != 1 ? 0 : strides[i];
        return result;
    }
}
