#!/usr/bin/env bash
# Inference speed: core (Eigen, native), LibTorch CPU and onnxruntime-node on the same bundle, at
# batch 1 and 256, one thread each, in one run; prints the figures and the ratios to core; then the
# core and LibTorch with two threads, and what the second thread buys at batch 256.
# Usage: bench/inference.sh [BUNDLE]   (default: the parity fixture's trained bundle)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUNDLE="${1:-tests/fixtures/parity/trained}"
export OMP_WAIT_POLICY=passive
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$BUNDLE"/. "$work"/
build/native/bin/dida export "$work" > /dev/null
{ build/native/bin/inference_bench "$work" --threads 1; node bench/ort_bench.mjs "$work/model.onnx"; } > "$work/results.jsonl"
build/native/bin/inference_bench "$work" --threads 2 > "$work/threads2.jsonl"
node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
for (const batch of [1, 256]) {
  const r = Object.fromEntries(rows.filter(x => x.batch === batch).map(x => [x.engine, x.ms]));
  console.log(`batch ${batch}: core ${r.core.toFixed(3)} ms, libtorch ${r.libtorch.toFixed(3)} ms, onnxruntime-node ${r["onnxruntime-node"].toFixed(3)} ms` +
              ` | core/ort ${(r.core / r["onnxruntime-node"]).toFixed(2)}x, core/libtorch ${(r.core / r.libtorch).toFixed(2)}x`);
}
const two = require("fs").readFileSync(process.argv[2], "utf8").trim().split("\n").map(JSON.parse);
const at = (list, engine, batch) => list.find(x => x.engine === engine && x.batch === batch).ms;
for (const engine of ["core", "libtorch"])
  console.log(`${engine}, batch 256: 1 thread ${at(rows, engine, 256).toFixed(3)} ms, 2 threads ${at(two, engine, 256).toFixed(3)} ms` +
              ` | speed-up ${(at(rows, engine, 256) / at(two, engine, 256)).toFixed(2)}x`);
' "$work/results.jsonl" "$work/threads2.jsonl"
