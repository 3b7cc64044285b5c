"""PyTorch peer of `Engine.Benchmarks gpu-attention`: causal attention in bf16 on the same GPU and the
same shapes, through torch.nn.functional.scaled_dot_product_attention (its FlashAttention-2 backend
where it applies), forward and backward timed separately with CUDA events, printed in the same format.
FLOPs count the work the causal mask leaves, as Engine's do: 4·D per visible pair forward, 10·D backward.

Layout: Engine takes [B, T, H, D]; SDPA takes [B, H, T, D], so the tensors are made [B, T, H, D] and
transposed (a view, the head dimension stays contiguous). Grouped-query shapes use enable_gqa=True.
nanochat's sliding window has no flash path in SDPA: that shape runs with an explicit boolean mask
(another backend) and is labelled so.

    python3 tools/bench/attention_torch.py [--iterations 20]
"""
import argparse

import torch
import torch.nn.functional as F

from memory_torch import timed  # CUDA-event timing shared by the peers (this folder is on sys.path)

# (B, T, H, Hkv, D, window): the same list as GpuAttentionBenchmark.Shapes.
SHAPES = [
    (8, 2048, 16, 16, 128, 0),
    (8, 2048, 32, 32, 64, 0),
    (8, 2048, 16, 4, 128, 0),
    (8, 2048, 16, 16, 128, 512),
]


def visible_pairs(t, window):
    return sum(min(i, window) + 1 if window > 0 else i + 1 for i in range(t))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=20)
    args = parser.parse_args()
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    for b, t, h, hk, d, window in SHAPES:
        q = ((torch.rand(b, t, h, d, device="cuda") * 2 - 1) * 2).bfloat16().transpose(1, 2).requires_grad_()
        k = ((torch.rand(b, t, hk, d, device="cuda") * 2 - 1) * 2).bfloat16().transpose(1, 2).requires_grad_()
        v = (torch.rand(b, t, hk, d, device="cuda") * 2 - 1).bfloat16().transpose(1, 2).requires_grad_()
        dout = (torch.rand(b, t, h, d, device="cuda") * 2 - 1).bfloat16().transpose(1, 2)
        extra = {"enable_gqa": True} if hk != h else {}
        if window > 0:
            i = torch.arange(t, device="cuda")
            mask = (i[None, :] <= i[:, None]) & (i[:, None] - i[None, :] <= window)
            call = lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask, **extra)
            label = " (explicit mask)"
        else:
            call = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True, **extra)
            label = ""
        with torch.no_grad():
            forward = timed(call, args.iterations)
        out = call()

        def backward():
            torch.autograd.grad(out, (q, k, v), dout, retain_graph=True)

        backward_ms = timed(backward, args.iterations)
        pairs = visible_pairs(t, window) * b * h
        name = f"B={b} T={t} H={h} Hkv={hk} D={d} window={window}"
        print(f"torch attention {name} forward{label}: {forward:.3f} ms, {4 * d * pairs / (forward * 1e-3) / 1e12:.1f} TFLOP/s")
        print(f"torch attention {name} backward{label}: {backward_ms:.3f} ms, {10 * d * pairs / (backward_ms * 1e-3) / 1e12:.1f} TFLOP/s")


if __name__ == "__main__":
    main()
