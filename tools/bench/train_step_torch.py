#!/usr/bin/env python3
"""The PyTorch peer of Engine.Benchmarks' TrainStepBenchmarks (CPU) and `gpu-train-step` (CUDA): one
training step (forward, backward, AdamW for wte/lm_head + Muon for block matrices) of the same GPT,
on the CPU with the same thread count, or on the GPU in fp32 (TF32 off, as Engine's fp32 backend;
--tf32 allows it). Uses tools/fixtures/reference_gpt.py, the independent reference the tests check
Engine against, so both sides compute the same model.

    /usr/bin/python3 tools/bench/train_step_torch.py [--threads 2] [--steps 10] [--device cuda] [--config issue2|small|d12] [--tf32]

Prints one line per timed step and a final `torch_ms_per_step=<median>` line.
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fixtures"))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import reference_gpt  # noqa: E402
from reference_gpt import GPT, GPTConfig, Muon  # noqa: E402


def sdpa_attention(q, k, v, window=-1, return_lse=False):
    """The reference's attention through F.scaled_dot_product_attention (flash or memory-efficient
    kernels on a GPU), as a PyTorch user would write it: the peer to compare a GPU run against. Same
    semantics: (B, T, H, D) in and out, GQA by repeating key heads, causal with an optional left window."""
    rep = q.shape[2] // k.shape[2]
    if rep > 1:
        k = k.repeat_interleave(rep, dim=2)
        v = v.repeat_interleave(rep, dim=2)
    q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # (B, H, T, D)
    t = q.shape[2]
    if window < 0 or window >= t - 1:
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    else:
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=reference_gpt.attention_mask(t, window, q.device))
    return out.transpose(1, 2)


# The shapes of Engine.Benchmarks' GpuTrainStepBenchmark; issue2 (issue #2's: 4 layers, width 256, 4 heads,
# sequence 256, batch 8, vocabulary 4096) is also the CPU benchmark's.
CONFIGS = {
    "issue2": GPTConfig(sequence_len=256, vocab_size=4096, n_layer=4, n_head=4, n_kv_head=4, n_embd=256, window_pattern="L"),
    "small": GPTConfig(sequence_len=512, vocab_size=4096, n_layer=6, n_head=4, n_kv_head=4, n_embd=256, window_pattern="L"),
    "d12": GPTConfig(sequence_len=2048, vocab_size=65536, n_layer=12, n_head=6, n_kv_head=6, n_embd=768, window_pattern="SSSL"),
}
BATCH = 8


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--config", default="issue2", choices=sorted(CONFIGS))
    ap.add_argument("--tf32", action="store_true")
    ap.add_argument("--autocast", action="store_true", help="torch.autocast(bfloat16) around forward and loss, as nanochat trains")
    ap.add_argument("--attention", choices=["auto", "sdpa", "explicit"], default="auto",
                    help="sdpa: F.scaled_dot_product_attention (the default on CUDA, what a PyTorch user runs); "
                         "explicit: the reference's masked softmax (the default on the CPU, and the only one torch 1.x has)")
    args, _ = ap.parse_known_args()
    CONFIG = CONFIGS[args.config]
    cuda = args.device == "cuda"
    attention = args.attention if args.attention != "auto" else ("sdpa" if cuda else "explicit")
    if attention == "sdpa":
        if not hasattr(F, "scaled_dot_product_attention"):
            raise SystemExit(f"torch {torch.__version__} has no scaled_dot_product_attention; use --attention explicit")
        reference_gpt.causal_attention = sdpa_attention
    torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.manual_seed(0)
    model = GPT(CONFIG).to(args.device)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.02)
    matrices = [p for n, p in model.named_parameters() if n.startswith("transformer.h.")]
    scale = (CONFIG.n_embd / 768) ** -0.5
    adamw = torch.optim.AdamW(
        [{"params": [model.lm_head.weight], "lr": 0.004 * scale}, {"params": [model.transformer.wte.weight], "lr": 0.2 * scale}],
        betas=(0.8, 0.95), eps=1e-10, weight_decay=0.0)
    muon = Muon(matrices, lr=0.02, momentum=0.95, nesterov=True)
    tokens = torch.randint(0, CONFIG.vocab_size, (BATCH, CONFIG.sequence_len + 1), device=args.device)
    x, y = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()

    phases = {"forward": [], "backward": [], "optimizers": []}

    def sync():
        if cuda:
            torch.cuda.synchronize()

    def step():
        t0 = time.perf_counter()
        with torch.autocast(device_type=args.device, dtype=torch.bfloat16, enabled=args.autocast):
            _, loss = model(x, y)
        sync()
        t1 = time.perf_counter()
        loss.backward()
        sync()
        t2 = time.perf_counter()
        adamw.step()
        muon.step()
        model.zero_grad(set_to_none=False)
        sync()
        t3 = time.perf_counter()
        for name, dt in zip(phases, (t1 - t0, t2 - t1, t3 - t2)):
            phases[name].append(dt * 1e3)
        return loss.item()

    for _ in range(2):
        step()
    times = []
    for i in range(args.steps):
        t0 = time.perf_counter()
        loss = step()
        times.append((time.perf_counter() - t0) * 1e3)
        print(f"torch step {i}: {times[-1]:.1f} ms loss {loss:.4f}")
    if cuda:
        print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}, config {args.config}, tf32 {args.tf32}, autocast {args.autocast}, attention {attention}")
    else:
        print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, blas: "
              f"{'openblas' if 'openblas' in torch.__config__.show().lower() else 'other'}")
    print("torch phases (median ms): " + ", ".join(f"{k} {statistics.median(v[2:]):.1f}" for k, v in phases.items()))
    if cuda:
        print(f"torch_peak_mem_GiB={torch.cuda.max_memory_allocated() / 2**30:.2f}")
    print(f"torch_ms_per_step={statistics.median(times):.1f}")


if __name__ == "__main__":
    main()
