#!/usr/bin/env bash
# On the GPU machine, after tools/gpu/pack.sh here (carry [".device"]): runs samples/NanoChat from the
# packed test app (the tests reference NanoChat, so nanochat.dll, its runtimeconfig and everything it loads
# are published there), with the SDK's API docs unpacked beside the runtime as its default corpus. For issue #4's GPU measurement:
#   bash tools/gpu/nanochat.sh speedrun --preset small --device cuda --run "$OUT/small"
# It runs here too (without a GPU, --device auto picks the CPU), which is how the script is checked.
set -euo pipefail
device_dir=$(cd "$(dirname "$0")/../../.device" && pwd)
export DOTNET_ROOT=${DOTNET_ROOT_DEVICE:-/tmp/dotnet} DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1
if [ ! -x "$DOTNET_ROOT/dotnet" ] || [ ! -d "$DOTNET_ROOT/packs" ]; then
  mkdir -p "$DOTNET_ROOT" && tar -xJf "$device_dir/runtime.tar.xz" -C "$DOTNET_ROOT"
fi
exec "$DOTNET_ROOT/dotnet" "$device_dir/apps/Engine.Tests/nanochat.dll" "$@"
