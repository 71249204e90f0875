// What the site build and the shipped models share: the benchmark pairs and the page's sample sets.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export const PAIRS = [
  { source: 'mnist', target: 'mnistm' },
  { source: 'syndigits', target: 'mnist' },
  { source: 'optdigits', target: 'mnist' },
  { source: 'fashion', target: 'fashionm' },
];
// Held-out images per domain in a page's sample set (source-val and target-test; default data seed),
// written gzip-compressed (about half the bytes).
export const SAMPLES_PER_DOMAIN = 200;
// Further held-out images of each domain that only the page's probes read: with the shown ones,
// the 500 rows of each domain that `dida eval` draws (CrossFitProbe::kRowsPerDomain).
export const PROBE_SAMPLES_PER_DOMAIN = 300;
export const sampleFile = (source, target) => `${pairName(source, target)}.safetensors.gz`;

// The bundle layout the page reads (docs/BUNDLE.md; `dida export` converts older bundles).
export const BUNDLE_FORMAT_VERSION = 2;

export const pairName = (source, target) => `${source}-${target}`;

// Writes the sample set of a pair with `dida data samples`; throws with dida's message on failure.
export function writeSampleSet(dida, source, target, path) {
  mkdirSync(dirname(path), { recursive: true });
  const r = spawnSync(dida, ['data', 'samples', '--source', source, '--target', target,
                             '--n', String(SAMPLES_PER_DOMAIN), '--probe-n', String(PROBE_SAMPLES_PER_DOMAIN),
                             '--out', path], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dida data samples ${source} -> ${target} failed: ${(r.stderr || '').trim()}`);
}
