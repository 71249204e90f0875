#!/usr/bin/env bash
# The CUDA check: builds the `dida` CLI against the PyTorch 2.x wheel of a GPU machine, then
#   1. prints dida --version (LibTorch version, CUDA devices);
#   2. trains one epoch of the default pair on CUDA and on the CPU, for images/s side by side;
#   3. times the training step on CUDA at batch 64 and 1,024 per domain, fp32 and bf16 autocast
#      (`--precision bf16`), for `dida train` and for the same step in PyTorch-Python
#      (bench/train_pytorch.py, on the bundle of step 2), with the card's name;
#   4. data-parallel on CUDA (c10d's NCCL group for the gradients): `dida train --nproc G --device
#      cuda` over the machine's G GPUs, one rank each, when G >= 2 (NCCL takes one rank per GPU);
#   5. optionally (BENCH=1) runs `dida bench` on CUDA.
# The data comes from a pair cache ($DIDA_CACHE) built beforehand with `dida data show`,
# because such machines usually lack the data packages.
# Usage: bench/gpu_check.sh OUT_DIR        (env: DIDA_HEADER_ROOT, DIDA_CACHE, BENCH, EPOCHS, ITERS)
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
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/card.txt" || true
ITERS="${ITERS:-200}"
for batch in 64 1024; do
  for precision in fp32 bf16; do
    name="step-b$batch-$precision"
    rm -rf "$OUT/$name"
    echo "== dida train, cuda, batch $batch per domain, $precision, $ITERS iterations"
    build/gpu/bin/dida train --device cuda --epochs 1 --iters-per-epoch "$ITERS" --batch-size "$batch" \
      --precision "$precision" --out "$OUT/$name" 2>&1 | tr '\r' '\n' | grep -E "img/s|done" | tail -2 | tee "$OUT/$name.txt"
    python3 bench/train_pytorch.py "$OUT/epoch-cuda/bundle" --device cuda --batch-size "$batch" \
      --precision "$precision" --iters "$ITERS" --warmup 20 | tee "$OUT/$name-pytorch.json"
  done
done
grep -q "NCCL group" "$OUT/configure.log" && echo "== this build has c10d's NCCL group" || echo "== this build has no NCCL group"
gpus=$(python3 -c 'import torch; print(torch.cuda.device_count())')
if [ "$gpus" -ge 2 ]; then
  echo "== data-parallel on cuda: $gpus ranks, one GPU each"
  rm -rf "$OUT/ranks-cuda"
  build/gpu/bin/dida train --nproc "$gpus" --device cuda --epochs 1 --iters-per-epoch "$ITERS" --out "$OUT/ranks-cuda" 2>&1 \
    | tr '\r' '\n' | grep -E "ranks|img/s|done|error" | tail -4 | tee "$OUT/ranks-cuda.txt"
else
  echo "== data-parallel on cuda: skipped, $gpus GPU (NCCL takes one rank per GPU)" | tee "$OUT/ranks-cuda.txt"
fi
if [ "${BENCH:-0}" = 1 ]; then
  echo "== bench on cuda"
  build/gpu/bin/dida bench --device cuda --epochs "${EPOCHS:-10}" --methods source-only,dann,dida --seeds 1,2,3 \
    --out "$OUT/bench" --quiet 2>&1 | tee "$OUT/bench.txt"
fi
