using System.Runtime.InteropServices;
using System.Text;
using Engine.Autograd;
using Engine.Cpu;

namespace Engine;

/// <summary>
/// An n-dimensional array on a <see cref="Device"/>: a dtype, a shape, strides into shared storage,
/// and (when it takes part in autograd) the node that computed it.
/// </summary>
/// <remarks>
/// Memory is freed deterministically: <see cref="Dispose"/> it, or create it inside a
/// <see cref="TensorScope"/>, which disposes everything created within it. Views (reshape,
/// transpose, narrow) share storage with their base and keep it alive until both are disposed.
/// </remarks>
public sealed partial class Tensor : IDisposable
{
    internal readonly Storage Storage;
    internal readonly int Offset;
    internal readonly int[] Dims;
    internal readonly int[] StridesArray;
    private bool _disposed;

    internal Tensor(Storage storage, int offset, int[] shape, int[] strides)
    {
        Storage = storage;
        Offset = offset;
        Dims = shape;
        StridesArray = strides;
        Count = ShapeUtil.Count(shape);
        TensorScope.Register(this);
    }

    /// <summary>The element type.</summary>
    public DType DType => Storage.DType;

    /// <summary>The device the storage lives on.</summary>
    public Device Device => Storage.Device;

    /// <summary>The size of each dimension.</summary>
    public ReadOnlySpan<int> Shape => Dims;

    /// <summary>The step, in elements, between neighbours along each dimension.</summary>
    public ReadOnlySpan<int> Strides => StridesArray;

    /// <summary>The number of dimensions.</summary>
    public int Rank => Dims.Length;

    /// <summary>The number of elements.</summary>
    public int Count { get; }

    /// <summary>The size of dimension <paramref name="dim"/>; negative counts from the end.</summary>
    public int Size(int dim) => Dims[ShapeUtil.Axis(dim, Rank)];

    /// <summary>True when the elements are laid out row-major with no gaps, so the storage can be read as a span.</summary>
    public bool IsContiguous => ShapeUtil.IsContiguous(Dims, StridesArray);

    /// <summary>True once disposed.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>An optional name (parameters carry their state_dict name).</summary>
    public string? Name { get; set; }

    /// <summary>Whether gradients flow to this tensor. Set it on leaves (parameters); ops set it on their results.</summary>
    public bool RequiresGrad { get; set; }

    /// <summary>The accumulated gradient of a leaf after <see cref="Backward"/>; lives outside any scope.</summary>
    public Tensor? Grad { get; set; }

    /// <summary>The scope that will dispose this tensor, or null (kept by the caller).</summary>
    internal TensorScope? OwnerScope { get; set; }

    /// <summary>The autograd node that computed this tensor, or null for leaves and results of no-grad code.</summary>
    internal GradNode? Node { get; set; }

    /// <summary>True for tensors not computed by a recorded op.</summary>
    public bool IsLeaf => Node is null;

    /// <summary>Frees the storage (once every view of it is disposed too). Safe to call twice.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Node = null;
        if (!_storageHandedOver) Storage.Release();
    }

    private bool _storageHandedOver;

    /// <summary>
    /// Set by a model on an internal activation that nothing outside it reads: the backward frees it
    /// (<see cref="FreeActivation"/>) right after the tensor's own node has run, which is the last backward
    /// rule to read it (the rules that take it as an input come before in reverse topological order).
    /// </summary>
    internal bool FreeAfterBackward { get; set; }

    /// <summary>
    /// Frees an intermediate activation that nothing will read any more (no backward reads it, or the last
    /// one that does has run): PyTorch frees a tensor when its last reference goes, while here the step's
    /// scope would hold it to the end. A recorded
    /// tensor keeps its place in the graph (shape and node) and gives up its storage, so reading it afterwards
    /// throws and says why; anything else is simply disposed.
    /// </summary>
    internal void FreeActivation()
    {
        if (Node is null)
        {
            Dispose();
            return;
        }
        if (_disposed || _storageHandedOver) return;
        _storageHandedOver = true;
        Storage.Release();
    }

    internal void ThrowIfDisposed()
    {
        if (_disposed)
            throw new ObjectDisposedException(nameof(Tensor), $"Tensor{ShapeUtil.Format(Dims)}{(Name is null ? "" : $" '{Name}'")} was disposed (by its TensorScope or by Dispose) and cannot be used. Keep it alive with TensorScope.Keep or create it outside the scope.");
        if (_storageHandedOver)
            throw new InvalidOperationException($"Tensor{ShapeUtil.Format(Dims)}{(Name is null ? "" : $" '{Name}'")} is a model's intermediate activation, freed once nothing needed it (in the forward if no gradient reads it, else by the backward that used it), and cannot be read: a Gpt's graph is differentiated once, so compute the loss again for another backward, or compute the value outside the model.");
    }

    /// <summary>The elements of a contiguous tensor on the CPU, as a span of <typeparamref name="T"/> (which must match the dtype).</summary>
    internal Span<T> Span<T>() where T : unmanaged
    {
        ThrowIfDisposed();
        if (!IsContiguous)
            throw new InvalidOperationException($"Tensor{ShapeUtil.Format(Dims)} is a strided view; call Contiguous() before reading it as a span.");
        if (HostArray() is not T[] array)
            throw new InvalidOperationException($"Tensor has dtype {DType}, not {typeof(T).Name}.");
        return array.AsSpan(Offset, Count);
    }

    /// <summary>The whole storage array of a CPU tensor (for strided kernels).</summary>
    internal T[] Raw<T>() where T : unmanaged
    {
        ThrowIfDisposed();
        return HostArray() as T[] ?? throw new InvalidOperationException($"Tensor has dtype {DType}, not {typeof(T).Name}.");
    }

    private Array HostArray() => Storage is CpuStorage cpu
        ? cpu.Data
        : throw new InvalidOperationException($"Tensor{ShapeUtil.Format(Dims)} lives on {Device.Name}; host code can read it only through a copy: ToArray<T>(), Item() or To(Device.Cpu).");

    /// <summary>The accelerator view of a tensor on a GPU device: the whole storage buffer, as <typeparamref name="T"/> (index it from <see cref="Offset"/>).</summary>
    internal Gpu.ArrayView<T> Buffer<T>() where T : unmanaged
    {
        ThrowIfDisposed();
        if (Storage is not Accelerated.DeviceStorage device)
            throw new InvalidOperationException($"Tensor{ShapeUtil.Format(Dims)} lives on {Device.Name}, not on an accelerator.");
        // Any element type of the dtype's width: kernels reinterpret bits (fills as words, bf16 as ushort).
        if (System.Runtime.CompilerServices.Unsafe.SizeOf<T>() != DType.SizeOf())
            throw new InvalidOperationException($"Tensor has dtype {DType} ({DType.SizeOf()} bytes per element), not {typeof(T).Name}.");
        return device.View<T>();
    }

    /// <summary>The elements of a contiguous tensor on an accelerator, as a view of exactly <see cref="Count"/> elements.</summary>
    internal Gpu.ArrayView<T> View<T>() where T : unmanaged
    {
        if (!IsContiguous)
            throw new InvalidOperationException($"Tensor{ShapeUtil.Format(Dims)} is a strided view; call Contiguous() before passing it to a kernel as a flat view.");
        return Buffer<T>().SubView(Offset, Count);
    }

    // ---------------------------------------------------------------- creation

    /// <summary>An uninitialised tensor (contents unspecified: only for outputs a kernel fully writes).</summary>
    internal static Tensor Empty(ReadOnlySpan<int> shape, DType dtype = DType.Float32, Device? device = null)
    {
        var dims = ShapeUtil.Validate(shape);
        var storage = (device ?? Device.Cpu).Allocator.Allocate(dtype, ShapeUtil.Count(dims), clear: false);
        return new Tensor(storage, 0, dims, ShapeUtil.ContiguousStrides(dims));
    }

    /// <summary>A tensor of zeros.</summary>
    public static Tensor Zeros(ReadOnlySpan<int> shape, DType dtype = DType.Float32, Device? device = null)
    {
        var dims = ShapeUtil.Validate(shape);
        var storage = (device ?? Device.Cpu).Allocator.Allocate(dtype, ShapeUtil.Count(dims), clear: true);
        return new Tensor(storage, 0, dims, ShapeUtil.ContiguousStrides(dims));
    }

    /// <summary>A tensor of zeros with the shape, dtype and device of <paramref name="like"/>.</summary>
    public static Tensor ZerosLike(Tensor like) => Zeros(like.Dims, like.DType, like.Device);

    /// <summary>A tensor filled with <paramref name="value"/>.</summary>
    public static Tensor Full(ReadOnlySpan<int> shape, double value, DType dtype = DType.Float32, Device? device = null)
    {
        var t = Empty(shape, dtype, device);
        t.Fill(value);
        return t;
    }

    /// <summary>A tensor holding a copy of <paramref name="data"/> with the given shape.</summary>
    public static Tensor FromArray<T>(T[] data, params int[] shape) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(data);
        if (shape.Length == 0 && data.Length != 1) shape = [data.Length];
        var dims = ShapeUtil.Validate(shape);
        if (ShapeUtil.Count(dims) != data.Length)
            throw new ArgumentException($"Shape {ShapeUtil.Format(dims)} holds {ShapeUtil.Count(dims)} elements but the array has {data.Length}; pass a shape whose product is the array length.", nameof(shape));
        var t = Empty(dims, DTypeInfo.Of<T>());
        data.AsSpan().CopyTo(t.Span<T>());
        return t;
    }

    /// <summary>A scalar (0-dimensional) tensor.</summary>
    public static Tensor Scalar(double value, DType dtype = DType.Float32)
    {
        var t = Empty([], dtype);
        t.Fill(value);
        return t;
    }

    /// <summary>Normally distributed values, mean 0 and standard deviation <paramref name="std"/>.</summary>
    public static Tensor RandN(ReadOnlySpan<int> shape, Random random, double std = 1.0, DType dtype = DType.Float32)
    {
        var t = Empty(shape, dtype);
        t.NormalInPlace(random, 0, std);
        return t;
    }

    /// <summary>Uniformly distributed values in [<paramref name="low"/>, <paramref name="high"/>).</summary>
    public static Tensor Rand(ReadOnlySpan<int> shape, Random random, double low = 0, double high = 1, DType dtype = DType.Float32)
    {
        var t = Empty(shape, dtype);
        t.UniformInPlace(random, low, high);
        return t;
    }

    // ---------------------------------------------------------------- reading

    /// <summary>Copies the elements, in row-major order, into a new array (any layout, any dtype matching <typeparamref name="T"/>).</summary>
    public T[] ToArray<T>() where T : unmanaged
    {
        ThrowIfDisposed();
        if (DTypeInfo.Of<T>() != DType)
            throw new InvalidOperationException($"Tensor has dtype {DType}; read it with ToArray<{DType.ClrType().Name}>() or convert it with To(DType.{DTypeInfo.Of<T>()}) first.");
        var result = new T[Count];
        if (Storage is not CpuStorage)
        {
            // Straight from the device into the result (a packed copy first when this is a strided view).
            var (src, owned) = Dense();
            try { ((Accelerated.DeviceStorage)src.Storage).Buffer.CopyBytesToCPU(MemoryMarshal.AsBytes(result.AsSpan())); }
            finally { if (owned) src.Dispose(); }
            return result;
        }
        StridedCopy.ToContiguous(Raw<T>(), Offset, Dims, StridesArray, result);
        return result;
    }

    /// <summary>The value of a one-element tensor, as a double.</summary>
    public double Item()
    {
        ThrowIfDisposed();
        if (Count != 1)
            throw new InvalidOperationException($"Item() needs a tensor with one element, but this one has shape {ShapeUtil.Format(Dims)}.");
        if (Storage is not CpuStorage)
        {
            using var host = CopyTo(Device.Cpu);
            return host.Item();
        }
        return DType switch
        {
            DType.Float32 => Raw<float>()[Offset],
            DType.Float64 => Raw<double>()[Offset],
            DType.Int32 => Raw<int>()[Offset],
            DType.Int64 => Raw<long>()[Offset],
            DType.BFloat16 => (float)Numerics.BFloat16.FromBits(Raw<ushort>()[Offset]),
            _ => throw new NotSupportedException(),
        };
    }

    // ---------------------------------------------------------------- in-place (no autograd)

    /// <summary>Sets every element to <paramref name="value"/>. Not recorded by autograd.</summary>
    public Tensor Fill(double value)
    {
        ThrowIfDisposed();
        var t = ContiguousOrThrowForWrite();
        if (Device.Accelerator is { } accelerator)
        {
            switch (DType)
            {
                case DType.Float32: Kernels.TensorKernels.Fill(accelerator, View<uint>(), BitConverter.SingleToUInt32Bits((float)value)); break;
                case DType.Int32: Kernels.TensorKernels.Fill(accelerator, View<uint>(), unchecked((uint)checked((int)value))); break;
                case DType.Float64: Kernels.TensorKernels.Fill(accelerator, View<ulong>(), BitConverter.DoubleToUInt64Bits(value)); break;
                case DType.Int64: Kernels.TensorKernels.Fill(accelerator, View<ulong>(), unchecked((ulong)checked((long)value))); break;
                case DType.BFloat16: Kernels.TensorKernels.Fill(accelerator, View<ushort>(), ((Numerics.BFloat16)(float)value).RawValue); break;
            }
            return this;
        }
        switch (DType)
        {
            case DType.Float32: t.Span<float>().Fill((float)value); break;
            case DType.Float64: t.Span<double>().Fill(value); break;
            case DType.Int32: t.Span<int>().Fill(checked((int)value)); break;
            case DType.Int64: t.Span<long>().Fill(checked((long)value)); break;
            case DType.BFloat16: t.Span<ushort>().Fill(((Numerics.BFloat16)(float)value).RawValue); break;
        }
        return this;
    }

    /// <summary>Overwrites this tensor's elements with <paramref name="source"/>'s (same shape and dtype). Not recorded by autograd.</summary>
    public void CopyFrom(Tensor source)
    {
        ThrowIfDisposed();
        source.ThrowIfDisposed();
        ShapeUtil.RequireSameShape(this, source, nameof(CopyFrom));
        if (DType != source.DType)
            throw new ArgumentException($"CopyFrom needs equal dtypes, got {DType} and {source.DType}; convert with To() first.");
        if (source.Device != Device)
        {
            using var moved = source.CopyTo(Device);
            Device.Backend.Copy(moved, this);
            return;
        }
        Device.Backend.Copy(source, this);
    }

    /// <summary>Fills with normal samples (Box–Muller on <paramref name="random"/>, so runs are reproducible).</summary>
    public Tensor NormalInPlace(Random random, double mean, double std)
    {
        var t = ContiguousOrThrowForWrite();
        if (Storage is not CpuStorage)
        {
            // Drawn on the host from the same generator, so a model initialises identically on every device.
            using var host = Empty(Dims, DType, Device.Cpu);
            host.NormalInPlace(random, mean, std);
            CopyFrom(host);
            return this;
        }
        switch (DType)
        {
            case DType.Float32:
                {
                    var s = t.Span<float>();
                    for (int i = 0; i < s.Length; i++) s[i] = (float)(mean + std * Gaussian(random));
                    break;
                }
            case DType.Float64:
                {
                    var s = t.Span<double>();
                    for (int i = 0; i < s.Length; i++) s[i] = mean + std * Gaussian(random);
                    break;
                }
            default: throw new NotSupportedException($"Random normal values need a floating-point tensor, not {DType}.");
        }
        return this;
    }

    /// <summary>Fills with uniform samples in [low, high).</summary>
    public Tensor UniformInPlace(Random random, double low, double high)
    {
        var t = ContiguousOrThrowForWrite();
        if (Storage is not CpuStorage)
        {
            // Drawn on the host from the same generator, so a model initialises identically on every device.
            using var host = Empty(Dims, DType, Device.Cpu);
            host.UniformInPlace(random, low, high);
            CopyFrom(host);
            return this;
        }
        switch (DType)
        {
            case DType.Float32:
                {
                    var s = t.Span<float>();
                    for (int i = 0; i < s.Length; i++) s[i] = (float)(low + (high - low) * random.NextDouble());
                    break;
                }
            case DType.Float64:
                {
                    var s = t.Span<double>();
                    for (int i = 0; i < s.Length; i++) s[i] = low + (high - low) * random.NextDouble();
                    break;
                }
            default: throw new NotSupportedException($"Random uniform values need a floating-point tensor, not {DType}.");
        }
        return this;
    }

    private static double Gaussian(Random random)
    {
        // Box–Muller; 1 - NextDouble() keeps the log argument in (0, 1].
        double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    private Tensor ContiguousOrThrowForWrite()
    {
        if (!IsContiguous)
            throw new InvalidOperationException($"In-place writes need a contiguous tensor; Tensor{ShapeUtil.Format(Dims)} is a strided view.");
        return this;
    }

    /// <summary>
    /// A copy on <paramref name="device"/> (always a new tensor, as <see cref="To(DType)"/> is); gradients
    /// flow back to this tensor's device.
    /// </summary>
    public Tensor To(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        var result = CopyTo(device);
        var from = Device;
        return GradMode.Record(result, "to-device", [this], g => [g.CopyTo(from)]);
    }

    /// <summary>A contiguous copy on <paramref name="device"/>, not recorded by autograd.</summary>
    internal Tensor CopyTo(Device device)
    {
        var (src, owned) = Dense();
        try
        {
            var result = Empty(Dims, DType, device);
            Transfer(src, result);
            return result;
        }
        finally { if (owned) src.Dispose(); }
    }

    /// <summary>Moves the elements of a dense tensor into a dense tensor of the same shape and dtype on any device.</summary>
    private static void Transfer(Tensor src, Tensor dst)
    {
        if (src.Count == 0) return;
        switch (src.Storage, dst.Storage)
        {
            case (CpuStorage, CpuStorage):
                dst.Device.Backend.Copy(src, dst);
                break;
            case (CpuStorage, Accelerated.DeviceStorage device):
                device.Buffer.CopyBytesFromCPU(src.HostBytes());
                break;
            case (Accelerated.DeviceStorage device, CpuStorage):
                device.Buffer.CopyBytesToCPU(dst.HostBytes());
                break;
            default:
                // Two accelerators: through the host.
                using (var host = src.CopyTo(Device.Cpu)) Transfer(host, dst);
                break;
        }
    }

    /// <summary>The bytes of a dense CPU tensor.</summary>
    private Span<byte> HostBytes() => DType switch
    {
        DType.Float32 => MemoryMarshal.AsBytes(Span<float>()),
        DType.Float64 => MemoryMarshal.AsBytes(Span<double>()),
        DType.Int32 => MemoryMarshal.AsBytes(Span<int>()),
        DType.Int64 => MemoryMarshal.AsBytes(Span<long>()),
        _ => MemoryMarshal.AsBytes(Span<ushort>()),
    };

    /// <inheritdoc/>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append("Tensor").Append(ShapeUtil.Format(Dims)).Append(' ').Append(DType).Append(' ').Append(Device.Name);
        if (Name is not null) sb.Append(" '").Append(Name).Append('\'');
        if (_disposed) { sb.Append(" (disposed)"); return sb.ToString(); }
        if (Count <= 8 && DType != DType.BFloat16)
        {
            sb.Append(" [");
            sb.Append(DType switch
            {
                DType.Float32 => string.Join(", ", ToArray<float>()),
                DType.Float64 => string.Join(", ", ToArray<double>()),
                DType.Int32 => string.Join(", ", ToArray<int>()),
                _ => string.Join(", ", ToArray<long>()),
            });
            sb.Append(']');
        }
        return sb.ToString();
    }
}
