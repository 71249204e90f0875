#!/usr/bin/env bash
# Inference speed: core (Eigen, native), LibTorch CPU and onnxruntime-node on the same bundle, at
# batch 1 and 256, one thread each, in one run; prints the figures and the ratios to core.
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
node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
for (const batch of [1, 256]) {
  const r = Object.fromEntries(rows.filter(x => x.batch === batch).map(x => [x.engine, x.ms]));
  console.log(`batch ${batch}: core ${r.core.toFixed(3)} ms, libtorch ${r.libtorch.toFixed(3)} ms, onnxruntime-node ${r["onnxruntime-node"].toFixed(3)} ms` +
              ` | core/ort ${(r.core / r["onnxruntime-node"]).toFixed(2)}x, core/libtorch ${(r.core / r.libtorch).toFixed(2)}x`);
}' "$work/results.jsonl"
