#!/usr/bin/env node
// Puts the models, sample sets and ONNX Runtime Web's files next to the built web app, so the site
// folder is complete for any static host:
//   SITE/models/<name>/{config.json, model.safetensors (without the training-only T), model.onnx, README.md},
//   SITE/models/index.json
//   SITE/samples/<source>-<target>.safetensors.gz, SITE/ort/ (ONNX Runtime Web, wasm backend)
// usage: node scripts/build_site.mjs --site DIR [--dida PATH] [--models DIR] [--demo BUNDLE]
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLE_FORMAT_VERSION, PAIRS, sampleFile, writeSampleSet } from './site_lib.mjs';
import { withoutTensors } from './safetensors.mjs';

const ORT_FILES = ['ort.wasm.min.js', 'ort-wasm-simd-threaded.wasm', 'ort-wasm-simd-threaded.mjs'];
const METHOD_ORDER = ['dida', 'dann', 'source-only'];

function parseArgs(argv) {
  const a = { site: 'build/wasm/site', dida: 'build/native/bin/dida', models: 'models', demo: '' };
  for (let i = 0; i < argv.length; ++i) {
    const k = argv[i];
    if (k === '--help' || k === '-h') a.help = true;
    else if (['--site', '--dida', '--models', '--demo'].includes(k) && i + 1 < argv.length) a[k.slice(2)] = argv[++i];
    else throw new Error(`unknown or incomplete argument ${k} (see --help)`);
  }
  return a;
}

// A bundle as the page gets it: without the tensors only training uses (config.json's
// "training_only_tensors", which the network description decides), marked "inference_only"
// (docs/BUNDLE.md); the ONNX files and the card as they are.
function copyBundle(from, to) {
  mkdirSync(to, { recursive: true });
  if (!existsSync(join(from, 'config.json')) || !existsSync(join(from, 'model.safetensors')))
    throw new Error(`${from} is not a bundle (config.json and model.safetensors are needed)`);
  const config = JSON.parse(readFileSync(join(from, 'config.json'), 'utf8'));
  if (config.format_version !== BUNDLE_FORMAT_VERSION)
    throw new Error(`${from}: bundle format_version ${config.format_version} is not ${BUNDLE_FORMAT_VERSION}; convert it with: dida export ${from}`);
  for (const f of ['model.onnx', 'swap.onnx', 'decoder.onnx', 'replay.safetensors', 'README.md']) if (existsSync(join(from, f))) copyFileSync(join(from, f), join(to, f));
  writeFileSync(join(to, 'model.safetensors'),
                withoutTensors(readFileSync(join(from, 'model.safetensors')), config.training_only_tensors || []));
  writeFileSync(join(to, 'config.json'), JSON.stringify({ ...config, inference_only: true }, null, 2) + '\n');
  return config;
}

function entry(name, label, config) {
  const data = config.data || {};
  return { name, label, path: `models/${name}`, method: config.method, source: data.source, target: data.target,
           samples: `samples/${sampleFile(data.source, data.target)}`,
           target_accuracy: config.metrics?.target_test_accuracy ?? null, onnx: Boolean(config.onnx) };
}

function main() {
  const a = parseArgs(process.argv.slice(2));
  if (a.help) {
    console.log('usage: node scripts/build_site.mjs --site DIR [--dida PATH] [--models DIR] [--demo BUNDLE]\n' +
                'Copies the shipped bundles (DIR/<pair>-<method>/) and, when given, the bundle `make demo`\n' +
                'trained (listed first) into the site, writes their sample sets and copies ONNX Runtime Web.');
    return;
  }
  const models = join(a.site, 'models'), samples = join(a.site, 'samples');
  rmSync(models, { recursive: true, force: true });
  rmSync(samples, { recursive: true, force: true });
  rmSync(join(a.site, 'samples.safetensors'), { force: true });  // the single sample set of earlier builds
  const list = [];
  if (a.demo) {
    const c = copyBundle(a.demo, join(models, 'trained-here'));
    list.push(entry('trained-here', `${c.data.source} -> ${c.data.target}, ${c.method} (trained here by make demo)`, c));
  }
  const shipped = existsSync(a.models)
    ? readdirSync(a.models, { withFileTypes: true }).filter((d) => d.isDirectory() && existsSync(join(a.models, d.name, 'config.json')))
    : [];
  const pairRank = (e) => PAIRS.findIndex((p) => p.source === e.source && p.target === e.target);
  const shippedEntries = shipped.map((d) => entry(d.name, '', copyBundle(join(a.models, d.name), join(models, d.name))));
  shippedEntries.sort((x, y) => pairRank(x) - pairRank(y) || METHOD_ORDER.indexOf(x.method) - METHOD_ORDER.indexOf(y.method));
  for (const e of shippedEntries) {
    e.label = `${e.source} -> ${e.target}, ${e.method}` +
              (e.target_accuracy === null ? '' : ` (target ${(100 * e.target_accuracy).toFixed(1)} %)`);
    list.push(e);
  }
  for (const pair of new Set(list.map((e) => `${e.source}:${e.target}`))) {
    const [s, t] = pair.split(':');
    writeSampleSet(a.dida, s, t, join(samples, sampleFile(s, t)));
  }
  writeFileSync(join(models, 'index.json'), JSON.stringify({ models: list }, null, 2) + '\n');
  const ortDir = join(a.site, 'ort'), ortSrc = resolve('node_modules/onnxruntime-web/dist');
  mkdirSync(ortDir, { recursive: true });
  for (const f of ORT_FILES) {
    if (!existsSync(join(ortSrc, f))) throw new Error(`${join(ortSrc, f)} is missing: run make deps`);
    copyFileSync(join(ortSrc, f), join(ortDir, f));
  }
  console.log(`site: ${list.length} model(s), ${new Set(list.map((e) => e.samples)).size} sample set(s), ` +
              `ONNX Runtime Web in ${ortDir}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (e) {
    console.error('build_site: error: ' + e.message);
    process.exit(1);
  }
}
