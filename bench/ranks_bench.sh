#!/usr/bin/env bash
# Data-parallel training on this machine: images/s of 2 ranks x 1 thread (dida train --nproc 2)
# against 1 rank x 2 threads, the same global batch (2 x 64 + 64 images per rank against 128 + 128),
# the default configuration on mnist -> mnistm; and the ranks' collectives: bytes per iteration
# and their share of rank 0's epoch (status.json). Rounds alternate, medians are compared (the
# machine's speed drifts). The second epoch of each run is measured (the first builds caches).
# Usage: bench/ranks_bench.sh [--iters N] [--rounds N]   (default: 40 iterations per epoch, 3 rounds)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
iters=40 rounds=3
while [ $# -gt 0 ]; do
  case "$1" in
    --iters) iters="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "ranks_bench: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
dida=build/native/bin/dida
[ -x "$dida" ] || { echo "ranks_bench: $dida is missing: run make native" >&2; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
common=(train --source mnist --target mnistm --method dida --epochs 2 --iters-per-epoch "$iters" --replay 0
        --erasure-retrain-iters 1 --quiet)
# Epoch 2's figures from a run: images/s, epoch seconds, and (ranks) collectives' seconds and bytes.
figures() {
  python3 - "$1" <<'PY'
import json, sys
run = sys.argv[1]
log = [json.loads(l) for l in open(f'{run}/log.jsonl')]
st = json.load(open(f'{run}/status.json'))
print(log[-1]['images_per_s'], st['epoch_seconds'], st.get('comm_seconds', 0), st.get('comm_bytes_per_iteration', 0))
PY
}
one=() two=() comm=() bytes=()
for r in $(seq 1 "$rounds"); do
  rm -rf "$work/one" "$work/two"
  "$dida" --threads 2 "${common[@]}" --batch-size 128 --out "$work/one"
  read -r ips es _ _ < <(figures "$work/one"); one+=("$ips")
  "$dida" --threads 1 "${common[@]}" --batch-size 64 --nproc 2 --out "$work/two"
  read -r ips es cs by < <(figures "$work/two"); two+=("$ips"); comm+=("$(python3 -c "print($cs / $es)")"); bytes+=("$by")
  echo "round $r: 1 rank x 2 threads ${one[-1]} img/s, 2 ranks x 1 thread ${two[-1]} img/s (collectives ${comm[-1]} of rank 0's epoch)" >&2
done
python3 - "${one[*]}" "${two[*]}" "${comm[*]}" "${bytes[*]}" "$iters" <<'PY'
import statistics as st, sys
one, two, comm, by = ([float(x) for x in a.split()] for a in sys.argv[1:5])
m1, m2, mc, mb = st.median(one), st.median(two), st.median(comm), st.median(by)
print(f"| setting | images/s (median of {len(one)}) |")
print("| --- | --- |")
print(f"| 1 rank x 2 threads, batch 128 + 128 | {m1:.0f} |")
print(f"| 2 ranks x 1 thread (--nproc 2), batch 64 + 64 each | {m2:.0f} |")
print(f"\n2 ranks / 1 rank: {m2 / m1:.2f}x; collectives: {mb / 1e6:.2f} MB per iteration on rank 0, "
      f"{100 * mc:.1f} % of its epoch (the transfer and the wait for the other rank)")
PY
