namespace Engine.Gpu;

/// <summary>
/// Marks a <c>static void</c> method as a kernel: an entry point that an <see cref="Accelerator"/>
/// compiles and launches once per thread of a grid.
/// </summary>
/// <remarks>
/// Parameters may be <see cref="ArrayView{T}"/>, primitives and small structs of those. The body may use
/// the subset of C# described in docs/engine-gpu.md; anything else is rejected when the kernel is loaded,
/// before any code runs, with a <see cref="KernelCompilationException"/> naming the method, the construct
/// and the IL offset.
/// </remarks>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
public sealed class KernelAttribute : Attribute
{
}
