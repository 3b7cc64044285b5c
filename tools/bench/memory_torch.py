"""PyTorch peer of `Engine.Benchmarks gpu-memory`: the same bf16 copy, add and RMSNorm on the same GPU,
timed with CUDA events, printed in the same format (GB/s of the bytes each operation must move).
Eager PyTorch and, where torch.compile works, the fused kernel it generates.

    python3 tools/bench/memory_torch.py [--iterations 50]
"""
import argparse

import torch
import torch.nn.functional as F

EPS = torch.finfo(torch.float32).eps


def timed(fn, iterations):
    for _ in range(5):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iterations):
        fn()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / iterations


def report(name, kernel, shape, nbytes, ms):
    print(f"{name} {kernel} {shape}: {ms * 1000:.1f} us, {nbytes / (ms * 1e-3) / 1e9:.0f} GB/s")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=50)
    args = parser.parse_args()
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    n = 1 << 26
    a = torch.rand(n, device="cuda", dtype=torch.bfloat16) * 2 - 1
    b = a.clone()
    c = torch.empty_like(a)
    report("torch", "copy", f"n={n}", 2 * n * 2, timed(lambda: c.copy_(a), args.iterations))
    report("torch", "add", f"n={n}", 3 * n * 2, timed(lambda: torch.add(a, b, out=c), args.iterations))

    def norm(x, width):
        return F.rms_norm(x, (width,), eps=EPS)

    try:
        compiled = torch.compile(norm, dynamic=False)
    except Exception as e:  # noqa: BLE001 - report and carry on with eager only
        print(f"torch.compile unavailable: {e}")
        compiled = None
    for rows, width in [(65536, 768), (49152, 1280), (32768, 2048)]:
        x = a[: rows * width].view(rows, width)
        nbytes = 2 * rows * width * 2 + rows * 4
        report("torch-eager", "rmsnorm", f"rows={rows} width={width}", nbytes, timed(lambda: norm(x, width), args.iterations))
        if compiled is not None:
            try:
                ms = timed(lambda: compiled(x, width), args.iterations)
                report("torch-compile", "rmsnorm", f"rows={rows} width={width}", nbytes, ms)
            except Exception as e:  # noqa: BLE001
                print(f"torch.compile failed for rmsnorm {rows}x{width}: {e}")

    # The fp32 kernels of Engine's GPU backend (Engine.Benchmarks gpu-memory's f32-* lines), eager fp32.
    a32 = torch.rand(n, device="cuda", dtype=torch.float32) * 2 - 1
    b32 = a32.clone()
    c32 = torch.empty_like(a32)
    report("torch", "f32-add", f"n={n}", 3 * n * 4, timed(lambda: torch.add(a32, b32, out=c32), args.iterations))
    for rows, width in [(16384, 768), (16384, 1280)]:
        x = a32[: rows * width].view(rows, width)
        report("torch-eager", "f32-rmsnorm", f"rows={rows} width={width}", 2 * rows * width * 4 + rows * 4,
               timed(lambda: norm(x, width), args.iterations))
    rows, vocab = 2048, 32768
    z = a32[: rows * vocab].view(rows, vocab).clone().requires_grad_(True)
    targets = (torch.arange(rows, device="cuda") * 7) % vocab
    report("torch", "f32-softmax", f"rows={rows} width={vocab}", 2 * rows * vocab * 4, timed(lambda: torch.softmax(z, -1), args.iterations))
    report("torch", "f32-cross-entropy", f"rows={rows} vocab={vocab}", rows * vocab * 4 + rows * 12,
           timed(lambda: F.cross_entropy(z, targets, reduction="none"), args.iterations))

    def ce_backward():
        z.grad = None
        F.cross_entropy(z, targets).backward()

    report("torch", "f32-cross-entropy-forward+backward", f"rows={rows} vocab={vocab}", 3 * rows * vocab * 4, timed(ce_backward, args.iterations))


if __name__ == "__main__":
    main()
