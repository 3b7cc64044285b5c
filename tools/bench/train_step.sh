#!/usr/bin/env bash
# One training step of the issue-#2 GPT (4 layers, width 256, 4 heads, seq 256, batch 8, vocab 4096)
# in Engine (BenchmarkDotNet, Engine.Benchmarks/TrainStepBenchmarks.cs) and in PyTorch on the CPU
# (train_step_torch.py: the same model and optimizers), same machine, same thread count, one run.
# Prints both medians and the ratio. Needs Debian's python3-torch:
#   apt-get install -y python3-torch libopenblas0-pthread
set -euo pipefail
cd "$(dirname "$0")/../.."
threads=${THREADS:-$(nproc)}
out=$(mktemp -d)
echo "== PyTorch (threads $threads)"
/usr/bin/python3 tools/bench/train_step_torch.py --threads "$threads" --steps 15 | tee "$out/torch.txt"
echo "== Engine (BenchmarkDotNet)"
DOTNET_gcServer=0 dotnet run -c Release --project Engine.Benchmarks -- --filter '*TrainStepBenchmarks*' \
  --warmupCount 3 --iterationCount 15 --invocationCount 1 --unrollFactor 1 --artifacts "$out/bdn" | tail -n 15
/usr/bin/python3 - "$out" <<'PY'
import csv, glob, re, sys
out = sys.argv[1]
torch_ms = float(re.search(r"torch_ms_per_step=([\d.]+)", open(f"{out}/torch.txt").read()).group(1))
row = next(csv.DictReader(open(glob.glob(f"{out}/bdn/results/*TrainStep*-report.csv")[0])))
def ms(text):
    value, unit = text.replace(",", "").split()
    return float(value) * {"s": 1e3, "ms": 1.0, "us": 1e-3, "μs": 1e-3}[unit]
engine_ms, engine_sd = ms(row["Mean"]), ms(row["StdDev"])
print(f"engine_ms_per_step={engine_ms:.1f} (sd {engine_sd:.1f}) torch_ms_per_step={torch_ms:.1f} "
      f"speedup_vs_torch={torch_ms / engine_ms:.2f}x (>1 means Engine is faster)")
PY
