"""PyTorch (cuBLAS) peer of `Engine.Benchmarks gpu-gemm`: C = A @ B.T in bf16 on the GPU at the same
sizes, then the fp32 cases (TF32 off, so cuBLAS runs true fp32 SGEMM on CUDA cores, as FloatGemm does),
timed with CUDA events, printed in the same format.

    python3 tools/bench/gemm_torch.py [--iterations 50]
"""
import argparse

import torch

from memory_torch import timed  # CUDA-event timing shared by the peers (this folder is on sys.path)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=50)
    args = parser.parse_args()
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    for size in (2048, 4096, 8192):
        a = torch.rand(size, size, device="cuda", dtype=torch.bfloat16) * 2 - 1
        b = torch.rand(size, size, device="cuda", dtype=torch.bfloat16) * 2 - 1
        c = torch.empty(size, size, device="cuda", dtype=torch.bfloat16)
        ms = timed(lambda: torch.matmul(a, b.T, out=c), args.iterations)
        print(f"torch gemm {size}x{size}x{size} bf16: {ms:.3f} ms, {2 * size ** 3 / (ms * 1e-3) / 1e12:.1f} TFLOP/s")
    # The backward pass's products, as Engine's transpose cases: A @ B (nn) and A.T @ B (tn), at 4096.
    size = 4096
    a = torch.rand(size, size, device="cuda", dtype=torch.bfloat16) * 2 - 1
    b = torch.rand(size, size, device="cuda", dtype=torch.bfloat16) * 2 - 1
    c = torch.empty(size, size, device="cuda", dtype=torch.bfloat16)
    for name, fn in (("nn", lambda: torch.matmul(a, b, out=c)), ("tn", lambda: torch.matmul(a.T, b, out=c))):
        ms = timed(fn, args.iterations)
        print(f"torch gemm {name} {size}x{size}x{size} bf16: {ms:.3f} ms, {2 * size ** 3 / (ms * 1e-3) / 1e12:.1f} TFLOP/s")
    # fp32, as Engine's FloatGemm: no TF32 (true fp32 products on CUDA cores).
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    for size in (2048, 4096):
        a = torch.rand(size, size, device="cuda", dtype=torch.float32) * 2 - 1
        b = torch.rand(size, size, device="cuda", dtype=torch.float32) * 2 - 1
        c = torch.empty(size, size, device="cuda", dtype=torch.float32)
        ms = timed(lambda: torch.matmul(a, b.T, out=c), args.iterations)
        print(f"torch gemm fp32 {size}x{size}x{size}: {ms:.3f} ms, {2 * size ** 3 / (ms * 1e-3) / 1e12:.1f} TFLOP/s")
    # Attention's batched Q @ K.T on (B, T, H, D) with grouped key heads. Engine reads q and k in place
    # through strides; torch gets its best case: contiguous (B, H, T, D) copies, keys repeated per query
    # head, made before timing.
    B, T, H, Hkv, D = 4, 1024, 16, 4, 128
    q = torch.rand(B, T, H, D, device="cuda", dtype=torch.float32) * 2 - 1
    k = torch.rand(B, T, Hkv, D, device="cuda", dtype=torch.float32) * 2 - 1
    qh = q.transpose(1, 2).contiguous()
    kh = k.transpose(1, 2).repeat_interleave(H // Hkv, dim=1).contiguous()
    s = torch.empty(B, H, T, T, device="cuda", dtype=torch.float32)
    ms = timed(lambda: torch.matmul(qh, kh.transpose(-1, -2), out=s), args.iterations)
    flops = 2 * B * H * T * T * D
    print(f"torch gemm fp32 batched q·kᵀ B{B} T{T} H{H} Hkv{Hkv} D{D}: {ms:.3f} ms, {flops / (ms * 1e-3) / 1e12:.1f} TFLOP/s")


if __name__ == "__main__":
    main()
