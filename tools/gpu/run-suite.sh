#!/usr/bin/env bash
# On the GPU machine (see ../shared/GPU.md and docs/gpu/): the device facts, then the whole test suite
# from the packed .device/ folder, with ptxas's per-kernel table. Everything lands in $OUT.
#   bash tools/gpu/run-suite.sh [xunit arguments...]
set -uo pipefail
out=${OUT:-/tmp/engine-gpu-out}
mkdir -p "$out"
export PATH=$PATH:/usr/local/cuda/bin
{
  date -u +"date: %Y-%m-%dT%H:%M:%SZ"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv,noheader
  nvidia-smi | sed -n 3p
  ptxas --version | tail -1
  uname -r
} > "$out/device.txt" 2>&1
cat "$out/device.txt"
export ENGINE_GPU_REPORT=$out
start=$(date +%s)
bash .device/run.sh Engine.Tests -xml "$out/tests.xml" "$@" > "$out/tests.log" 2>&1
code=$?
echo "test exit code $code after $(( $(date +%s) - start )) s"
grep -E "^\s*\[(FAIL|SKIP)\]|Total:|Failed:|Skipped" "$out/tests.log" | grep -v "\[SKIP\]" | tail -40
grep -c "\[SKIP\]" "$out/tests.log" | sed 's/^/skipped lines: /'
grep -A12 "\[FAIL\]" "$out/tests.log" | head -150
exit $code
