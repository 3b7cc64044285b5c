#!/usr/bin/env bash
# On the GPU machine, after tools/gpu/pack.sh here (carry [".device"]): every GPU benchmark with its
# PyTorch peer in the same call, one after the other, so each figure has its peer from the same run.
# The log lands in $OUT/bench.log; docs/gpu/README.md says how to read and report it.
#   bash tools/gpu/run-bench.sh [--iterations N]
set -uo pipefail
out=${OUT:-/tmp/engine-gpu-out}
mkdir -p "$out"
log="$out/bench.log"
: > "$log"
run() {
  echo "== $*" | tee -a "$log"
  "$@" 2>&1 | tee -a "$log"
}
run nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
run bash .device/run.sh Engine.Benchmarks gpu-gemm "$@"
run python3 tools/bench/gemm_torch.py "$@"
run bash .device/run.sh Engine.Benchmarks gpu-attention "$@"
run python3 tools/bench/attention_torch.py "$@"
run bash .device/run.sh Engine.Benchmarks gpu-memory "$@"
run python3 tools/bench/memory_torch.py "$@"
for config in issue2 d12; do
  run bash .device/run.sh Engine.Benchmarks gpu-train-step --config "$config"
  run python3 tools/bench/train_step_torch.py --device cuda --config "$config" --steps 10
  run bash .device/run.sh Engine.Benchmarks gpu-train-step --config "$config" --autocast
  run python3 tools/bench/train_step_torch.py --device cuda --config "$config" --steps 10 --autocast
done
run bash .device/run.sh Engine.Benchmarks compile
grep -E "TFLOP/s|GB/s|speedup|slowest|ms_per_step|peak_mem" "$log" | sed 's/^/  /'
