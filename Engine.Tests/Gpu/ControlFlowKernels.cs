using Engine.Gpu;

namespace Engine.Tests.Gpu;

/// <summary>Loops, branches, switches, short-circuit logic and calls with several returns.</summary>
public static class ControlFlowKernels
{
    [Kernel]
    public static void CollatzSteps(ArrayView<int> start, ArrayView<int> steps)
    {
        int i = Grid.GlobalIndexX;
        if (i >= start.Length)
        {
            return;
        }
        long n = start[i];
        int count = 0;
        while (n > 1 && count < 1000)
        {
            n = (n & 1) == 0 ? n / 2 : 3 * n + 1;
            count++;
        }
        steps[i] = count;
    }

    [Kernel]
    public static void NestedLoops(ArrayView<int> a, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= a.Length)
        {
            return;
        }
        int limit = a[i] & 15;
        int acc = 0;
        for (int p = 0; p < limit; p++)
        {
            if (p == 3)
            {
                continue;
            }
            for (int q = p; q < limit; q++)
            {
                if (q * p > 40)
                {
                    break;
                }
                acc += p * 31 + q;
            }
            if (acc > 5000)
            {
                break;
            }
        }
        int k = 0;
        do
        {
            acc ^= k << 3;
            k++;
        }
        while (k < (limit >> 1));
        r[i] = acc;
    }

    [Kernel]
    public static void Switches(ArrayView<int> a, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= a.Length)
        {
            return;
        }
        int x = a[i];
        int y;
        switch (x & 7)
        {
            case 0:
                y = 10;
                break;
            case 1:
            case 2:
                y = x * 2;
                break;
            case 3:
                y = -x;
                break;
            case 5:
                y = x >> 1;
                break;
            default:
                y = 99;
                break;
        }
        r[i] = y + Classify(x) * 1000;
    }

    private static int Classify(int x)
    {
        if (x < 0)
        {
            return -1;
        }
        if (x == 0)
        {
            return 0;
        }
        return x > 100 ? 2 : 1;
    }

    [Kernel]
    public static void ShortCircuit(ArrayView<int> a, ArrayView<int> b, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= a.Length)
        {
            return;
        }
        int x = a[i], y = b[i];
        // Ternaries and && / || leave values on the IL stack across blocks.
        r[3 * i] = (x > 0 && y > 0) || x == -y ? x : y;
        r[3 * i + 1] = Pick(x > y, x, y) + (x < 0 ? -1 : 1) * (y < 0 ? 2 : 3);
        r[3 * i + 2] = Sum(x & 31);
    }

    private static int Pick(bool c, int p, int q) => c ? p : q;

    private static int Sum(int n)
    {
        int s = 0;
        for (int k = 1; k <= n; k++)
        {
            s += k % 3 == 0 ? 0 : k;
        }
        return s;
    }

    [Kernel]
    public static void Goto(ArrayView<int> a, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= a.Length)
        {
            return;
        }
        int x = a[i] & 1023, n = 0;
    again:
        if (x % 7 != 0)
        {
            x += 3;
            n++;
            goto again;
        }
        r[i] = x * 100 + n;
    }

    [Kernel]
    public static void Grid2D(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, int width)
    {
        Index3D g = Grid.GlobalIndex;
        int height = Grid.DimY * Group.DimY;
        if (g.X >= width || g.Y >= height)
        {
            return;
        }
        int k = g.Y * width + g.X;
        c[k] = a[k] * 2f - b[k] + g.Y;
    }

    public static readonly int Multiplier = 37;

    public enum Mode
    {
        Add = 1,
        Multiply = 2,
    }

    [Kernel]
    public static void ConstantsAndEnums(ArrayView<int> a, ArrayView<int> r, Mode mode)
    {
        int i = Grid.GlobalIndexX;
        if (i >= a.Length)
        {
            return;
        }
        r[i] = mode == Mode.Add ? a[i] + Multiplier : a[i] * Multiplier;
    }

    [Kernel]
    public static void ViewsAndSlices(ArrayView<float> a, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        ArrayView<float> tail = a.SubView(4, a.Length - 4);
        ArrayView<int> bits = a.Cast<int>();
        if (i < tail.Length)
        {
            r[i] = bits[i + 4] ^ (int)tail[i] ^ tail.Length;
        }
    }
}
