#!/usr/bin/env bash
# The CUDA check: builds the `dida` CLI against the PyTorch 2.x wheel of a GPU machine, then
#   1. prints dida --version (LibTorch version, CUDA devices);
#   2. trains one epoch of the default pair on CUDA and on the CPU, for images/s side by side;
#   3. optionally (BENCH=1) runs `dida bench` on CUDA.
# The data comes from a pair cache ($DIDA_CACHE) built beforehand with `dida data show`,
# because such machines usually lack the data packages.
# Usage: bench/gpu_check.sh OUT_DIR        (env: DIDA_HEADER_ROOT, DIDA_CACHE, BENCH, EPOCHS)
set -euo pipefail
OUT="${1:-build/gpu-check}"
mkdir -p "$OUT"
prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
echo "== configure against $prefix"
cmake -S . -B build/gpu -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" -DDIDA_BUILD_TESTS=OFF \
  -DDIDA_HEADER_ROOT="${DIDA_HEADER_ROOT:-/usr/include}" > "$OUT/configure.log" 2>&1 || { tail -30 "$OUT/configure.log"; exit 1; }
echo "== build"
cmake --build build/gpu -j"$(nproc)" --target dida > "$OUT/build.log" 2>&1 || { grep -m20 -A5 error "$OUT/build.log"; exit 1; }
export OMP_WAIT_POLICY=passive
build/gpu/bin/dida --version | tee "$OUT/version.txt"
for device in cuda cpu; do
  echo "== one epoch on $device"
  rm -rf "$OUT/epoch-$device"
  build/gpu/bin/dida train --device "$device" --epochs 1 --out "$OUT/epoch-$device" 2>&1 | tr '\r' '\n' | tail -3 | tee "$OUT/epoch-$device.txt"
done
if [ "${BENCH:-0}" = 1 ]; then
  echo "== bench on cuda"
  build/gpu/bin/dida bench --device cuda --epochs "${EPOCHS:-10}" --methods source-only,dann,dida --seeds 1,2,3 \
    --out "$OUT/bench" --quiet 2>&1 | tee "$OUT/bench.txt"
fi
