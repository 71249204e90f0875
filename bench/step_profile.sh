#!/usr/bin/env bash
# Where a training step's time goes: `dida train --profile` (LibTorch's profiler around every step)
# for each setting of threads and OpenMP wait policy, one after the other in one run, on mnist ->
# mnistm; prints each operator's own time per step (ms) side by side, largest first, and the step's
# wall time. The profiler adds its own cost to every operator call (the "step" row includes it).
# Usage: bench/step_profile.sh [--settings "1:active 2:passive 2:active"] [--iters N] [--top N]
#        [--recipe branch|default] [--config FILE]
#   branch: the flags bench/train_vs_pytorch.sh gives dida (the step its PyTorch replica mirrors)
#   default: dida's default recipe (the style variant, the read-outs)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
settings="1:active 2:passive 2:active" iters=30 top=15 recipe=branch config=""
while [ $# -gt 0 ]; do
  case "$1" in
    --settings) settings="$2"; shift 2 ;;
    --iters) iters="$2"; shift 2 ;;
    --top) top="$2"; shift 2 ;;
    --recipe) recipe="$2"; shift 2 ;;
    --config) config="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "step_profile: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -x build/native/bin/dida ] || { echo "step_profile: build/native/bin/dida is missing: run make native" >&2; exit 1; }
case "$recipe" in
  branch) flags=(--no-readouts --decoder small --decoder-norm none --variant branch --decoder-style none --lambda-stats 0
                 --no-erase-domain-mean --erasure-retrain-iters 0) ;;
  default) flags=(--erasure-retrain-iters 1) ;;
  *) echo "step_profile: --recipe is branch or default, not $recipe" >&2; exit 2 ;;
esac
[ -n "$config" ] && flags+=(--config "$config")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
files=()
for s in $settings; do
  threads=${s%%:*} wait=${s#*:}
  case "$wait" in active|passive) ;; *) echo "step_profile: a setting is THREADS:active or THREADS:passive, not $s" >&2; exit 2 ;; esac
  echo "profiling: $threads thread(s), OMP_WAIT_POLICY=$wait, $iters iterations" >&2
  OMP_WAIT_POLICY=$wait build/native/bin/dida --threads "$threads" train --source mnist --target mnistm --epochs 1 \
    --iters-per-epoch "$iters" --replay 0 --quiet "${flags[@]}" --profile "$work/$s.json" --out "$work/run-$s" 2> "$work/$s.err" \
    || { cat "$work/$s.err" >&2; exit 1; }
  files+=("$work/$s.json")
done
node -e '
const fs = require("fs");
const [top, recipe, ...files] = process.argv.slice(1);
const runs = files.map((f) => ({ name: f.split("/").at(-1).replace(/\.json$/, ""), p: JSON.parse(fs.readFileSync(f, "utf8")) }));
const ms = (run, op) => run.p.operators.find((o) => o.name === op)?.self_ms_per_step ?? 0;
// The operators that cost most in any setting, by their largest time.
const names = [...new Set(runs.flatMap((r) => r.p.operators.map((o) => o.name)))]
  .sort((a, b) => Math.max(...runs.map((r) => ms(r, b))) - Math.max(...runs.map((r) => ms(r, a))))
  .slice(0, Number(top));
console.log(`recipe ${recipe}, ${runs[0].p.steps} steps of 64 + 64 images; ms per step (an operator: its own time, children excluded)`);
console.log(`| operator | ${runs.map((r) => r.name.replace(":", " thread(s), ")).join(" | ")} |`);
console.log(`| --- | ${runs.map(() => "---").join(" | ")} |`);
console.log(`| **step (wall)** | ${runs.map((r) => r.p.step_ms.toFixed(1)).join(" | ")} |`);
console.log(`| all operators | ${runs.map((r) => r.p.operators_ms_per_step.toFixed(1)).join(" | ")} |`);
for (const n of names) console.log(`| ${n} (${Math.round(runs[0].p.operators.find((o) => o.name === n)?.calls_per_step ?? 0)} calls) | ${runs.map((r) => ms(r, n).toFixed(2)).join(" | ")} |`);
const calls = runs.map((r) => r.p.operators.reduce((s, o) => s + o.calls_per_step, 0));
console.log(`operator calls per step: ${calls.map((c) => c.toFixed(0)).join(", ")}`);
' "$top" "$recipe" "${files[@]}"
