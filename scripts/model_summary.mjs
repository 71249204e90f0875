#!/usr/bin/env node
// One line about a trained bundle, for `make demo`: pair, method and accuracies from its config.json.
// usage: node scripts/model_summary.mjs BUNDLE
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir || dir === '--help' || dir === '-h') {
  console.log('usage: node scripts/model_summary.mjs BUNDLE');
  process.exit(dir ? 0 : 2);
}
try {
  const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const m = c.metrics || {}, pct = (x) => (typeof x === 'number' ? (100 * x).toFixed(1) + ' %' : 'n/a');
  console.log(`demo: model ${c.data?.source} -> ${c.data?.target} (${c.method}): target-test ${pct(m.target_test_accuracy)}, ` +
              `source-val ${pct(m.source_val_accuracy)} (dida eval ${dir} for more)`);
} catch (e) {
  console.error(`model_summary: ${dir}: ${e.message}`);
  process.exit(1);
}
