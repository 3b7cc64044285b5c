#!/usr/bin/env bash
# Packs the test suite and the benchmarks for the GPU machine (see docs/gpu/README.md), adds the ASP.NET
# Core shared framework to the packed runtime, then trims what the GPU commands never load
# (BenchmarkDotNet's compiler and disassembler back ends, resource satellites) so that .device/ stays
# under the 64 MiB the device tool carries.
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
bash "${SHARED:-../shared}/gpu/pack.sh" Engine.Tests/Engine.Tests.csproj Engine.Benchmarks/Engine.Benchmarks.csproj
# The tests reference samples/NanoChat, whose `serve` needs the ASP.NET Core shared framework: the
# runtime tarball gets it beside Microsoft.NETCore.App (the shared script packs only the latter). It also
# gets the SDK's API reference docs (1.6 MB compressed), NanoChat's default corpus, at the path NanoChat
# looks for them beside the runtime, so tools/gpu/nanochat.sh can run a speedrun there.
ver=$(cat .device/runtime.version)
base=$(dirname "$(readlink -f "$(command -v dotnet)")")
aspnet=$(dotnet --list-runtimes | awk '$1=="Microsoft.AspNetCore.App"{v=$2} END{print v}')
if [ "$(cat .device/runtime.aspnet 2>/dev/null)" != "$ver+$aspnet+docs" ]; then
  echo "repacking the runtime with Microsoft.AspNetCore.App $aspnet and the SDK's API docs"
  docs=$(cd "$base" && ls -d packs/Microsoft.NETCore.App.Ref/*/ref/net*/*.xml)
  # shellcheck disable=SC2086
  tar -C "$base" -cJf .device/runtime.tar.xz dotnet host "shared/Microsoft.NETCore.App/$ver" "shared/Microsoft.AspNetCore.App/$aspnet" $docs
  echo "$ver+$aspnet+docs" > .device/runtime.aspnet
fi
cd .device/apps/Engine.Benchmarks
rm -f Microsoft.CodeAnalysis*.dll Microsoft.Diagnostics.Tracing.TraceEvent.dll Microsoft.Diagnostics.Runtime.dll Iced.dll Gee.External.Capstone.dll
rm -rf runtimes cs de es fr it ja ko pl pt-BR ru tr zh-Hans zh-Hant
du -sh "$root/.device" | awk '{print "carry .device after trimming: " $1}'
