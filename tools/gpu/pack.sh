#!/usr/bin/env bash
# Packs the test suite and the benchmarks for the GPU machine (see docs/gpu/README.md), then trims what
# the GPU commands never load (BenchmarkDotNet's compiler and disassembler back ends, resource
# satellites) so that .device/ stays under the 64 MiB the device tool carries.
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
bash "${SHARED:-../shared}/gpu/pack.sh" Engine.Tests/Engine.Tests.csproj Engine.Benchmarks/Engine.Benchmarks.csproj
cd .device/apps/Engine.Benchmarks
rm -f Microsoft.CodeAnalysis*.dll Microsoft.Diagnostics.Tracing.TraceEvent.dll Microsoft.Diagnostics.Runtime.dll Iced.dll Gee.External.Capstone.dll
rm -rf runtimes cs de es fr it ja ko pl pt-BR ru tr zh-Hans zh-Hant
du -sh "$root/.device" | awk '{print "carry .device after trimming: " $1}'
