#!/usr/bin/env bash
# Training speed: `dida train` (LibTorch, C++) against the same network, losses and Adam step in
# PyTorch-Python (bench/train_pytorch.py, Debian's python3-torch), same threads and batch, one after
# the other in one run, on mnist -> mnistm. The Python program builds its network from the bundle
# that the dida run writes and refuses to run if the parameter counts differ. Both run the
# method's step without the read-outs (docs/METHOD.md), which the Python program does not implement:
# the dida run is given the flags that switch them off.
# `dida` keeps freed memory in its heap (mallopt in main): a training step frees and allocates the
# same large tensors every iteration. The Python program runs twice per round, as it comes and with
# the same allocator settings (GLIBC_TUNABLES), so that the comparison shows what that setting buys.
# Also prints what dida's per-epoch evaluation (source-val, target-test, target-train statistics)
# adds to an epoch.
# The machine's speed drifts by more than the difference measured, so the two alternate for a
# number of rounds and the medians are compared.
# OpenMP's threads spin between parallel regions (OMP_WAIT_POLICY=active, for both programs): with
# passive, the threads sleep between a step's ~5,000 operator calls and each parallel one wakes them:
# 2 threads then train no faster than 1 (docs/BENCHMARKS.md). --wait-policy passive measures that case.
# Usage: bench/train_vs_pytorch.sh [--config FILE] [--threads N] [--iters N] [--rounds N] [--wait-policy active|passive]
#        (default: the default configuration, 1 thread, 60 iterations of 64 + 64 images, 3 rounds, active)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
config="" threads=1 iters=60 rounds=3 wait=active
while [ $# -gt 0 ]; do
  case "$1" in
    --config) config="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --iters) iters="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --wait-policy) wait="$2"; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "train_vs_pytorch: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -x build/native/bin/dida ] || { echo "train_vs_pytorch: build/native/bin/dida is missing: run make native" >&2; exit 1; }
/usr/bin/python3 -c 'import torch' 2>/dev/null || { echo "train_vs_pytorch: /usr/bin/python3 has no torch: apt-get install python3-torch" >&2; exit 1; }
case "$wait" in active|passive) ;; *) echo "train_vs_pytorch: --wait-policy is active or passive, not $wait" >&2; exit 2 ;; esac
export OMP_WAIT_POLICY=$wait
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for r in $(seq "$rounds"); do
  args=(--threads "$threads" train --source mnist --target mnistm --epochs 1 --iters-per-epoch "$iters" --replay 0 --out "$work/run$r"
        --no-readouts --decoder small --decoder-norm none
        --variant branch --decoder-style none --lambda-stats 0 --no-erase-domain-mean --erasure-retrain-iters 0)
  [ -n "$config" ] && args+=(--config "$config")
  build/native/bin/dida "${args[@]}" 2> "$work/train$r.err"
  /usr/bin/python3 bench/train_pytorch.py "$work/run$r/bundle" --threads "$threads" --iters "$iters" --warmup 0 > "$work/python$r.json"
  GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=1073741824 \
    /usr/bin/python3 bench/train_pytorch.py "$work/run$r/bundle" --threads "$threads" --iters "$iters" --warmup 0 > "$work/pykept$r.json"
  rate() { grep -o '"images_per_s": [0-9]*' "$1" | grep -o '[0-9]*$'; }
  echo "round $r: dida $(grep -o '[0-9]* img/s' "$work/train$r.err" | tail -1), python $(rate "$work/python$r.json") img/s, python with the heap kept $(rate "$work/pykept$r.json") img/s" >&2
done
node -e '
const fs = require("fs");
const [work, rounds] = [process.argv[1], Number(process.argv[2])];
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const rows = [];
for (let r = 1; r <= rounds; ++r) {
  const err = fs.readFileSync(`${work}/train${r}.err`, "utf8").split(/\r|\n/).filter((l) => / img\/s /.test(l));
  const dida = Number(/ (\d+) img\/s /.exec(err.at(-1))[1]);
  const epoch = JSON.parse(fs.readFileSync(`${work}/run${r}/log.jsonl`, "utf8").trim().split("\n")[0]);
  const py = JSON.parse(fs.readFileSync(`${work}/python${r}.json`, "utf8"));
  const steps = epoch.iterations * 2 * py.batch / dida;
  const kept = JSON.parse(fs.readFileSync(`${work}/pykept${r}.json`, "utf8")).images_per_s;
  rows.push({ dida, py: py.images_per_s, kept, ratio: dida / py.images_per_s, ratio_kept: dida / kept, eval: epoch.seconds - steps, epoch: epoch.seconds, info: py });
}
const card = JSON.parse(fs.readFileSync(`${work}/run1/bundle/config.json`, "utf8"));
const py = rows[0].info;
console.log(`${py.iters} iterations of ${py.batch} + ${py.batch} images, ${py.threads} thread(s), OMP_WAIT_POLICY=${process.env.OMP_WAIT_POLICY}, ${py.parameters} parameters in both, ${rounds} rounds (medians)`);
console.log("| engine | images/s |");
console.log("| --- | --- |");
console.log(`| dida train (LibTorch ${card.training.libtorch}) | ${median(rows.map((r) => r.dida)).toFixed(0)} |`);
console.log(`| PyTorch-Python ${py.torch} | ${median(rows.map((r) => r.py)).toFixed(0)} |`);
console.log(`| PyTorch-Python, heap kept as dida keeps it | ${median(rows.map((r) => r.kept)).toFixed(0)} |`);
console.log(`dida / python, per round: ${rows.map((r) => r.ratio.toFixed(2) + "x").join(", ")}; median ${median(rows.map((r) => r.ratio)).toFixed(2)}x`);
console.log(`dida / python with the heap kept, per round: ${rows.map((r) => r.ratio_kept.toFixed(2) + "x").join(", ")}; median ${median(rows.map((r) => r.ratio_kept)).toFixed(2)}x`);
console.log(`dida epoch: ${median(rows.map((r) => r.epoch)).toFixed(1)} s, of which the evaluation after the steps ${median(rows.map((r) => r.eval)).toFixed(1)} s`);
' "$work" "$rounds"
