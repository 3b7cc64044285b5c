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


if __name__ == "__main__":
    main()
