// Engine.Kernels: transformer kernels written in C# on Engine.Gpu, each with a cost model.
// See ../shared/DESIGN.md, "Engine.Kernels". The kernels land with the GPU backend.
