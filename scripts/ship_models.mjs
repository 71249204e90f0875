#!/usr/bin/env node
// Trains the bundles shipped in models/: every benchmark pair x {dida, dann, source-only}, with the
// small configuration (configs/small.toml), exports ONNX and writes a model card for each.
//   node scripts/ship_models.mjs [--pairs mnist:mnistm,...] [--methods dida,...] [--seed N] [--out models]
//                                [--from-runs BENCH]
// --from-runs takes the finished runs of a `dida bench --config configs/small.toml` (BENCH/<pair>/<method>-seed<N>,
// the same options as the training it would start) instead of training them again.
// Each bundle: config.json, model.safetensors, model.onnx, swap.onnx, decoder.onnx, card.json (the figures)
// and README.md. --cards-only writes the ONNX files and the cards again without training; --eval-only
// runs `dida eval` again and rewrites the cards (no export, no training).
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PAIRS, PROBE_SAMPLES_PER_DOMAIN, SAMPLES_PER_DOMAIN, pairName, sampleFile, writeSampleSet } from './site_lib.mjs';

const METHODS = ['dida', 'dann', 'source-only'];

function parseArgs(argv) {
  const a = { pairs: PAIRS.map((p) => `${p.source}:${p.target}`), methods: METHODS, seed: 1, out: 'models',
              dida: process.env.DIDA || 'build/native/bin/dida', config: 'configs/small.toml', extra: [] };
  for (let i = 0; i < argv.length; ++i) {
    const k = argv[i], v = () => { if (i + 1 >= argv.length) throw new Error(`${k} needs a value`); return argv[++i]; };
    if (k === '--help' || k === '-h') { a.help = true; }
    else if (k === '--pairs') a.pairs = v().split(',');
    else if (k === '--methods') a.methods = v().split(',');
    else if (k === '--seed') a.seed = Number(v());
    else if (k === '--out') a.out = v();
    else if (k === '--dida') a.dida = v();
    else if (k === '--config') a.config = v();
    else if (k === '--cards-only') a.cardsOnly = true;
    else if (k === '--eval-only') a.cardsOnly = a.evalOnly = true;
    else if (k === '--from-runs') a.fromRuns = v();
    else if (k === '--replays-from') a.replaysFrom = v();
    else if (k === '--') { a.extra = argv.slice(i + 1); break; }
    else throw new Error(`unknown argument ${k} (see --help)`);
  }
  return a;
}

// Each built-in domain's provenance block from `dida data list`.
function provenance(dida) {
  const text = execFileSync(dida, ['data', 'list'], { encoding: 'utf8' });
  const blocks = {};
  let current = null;
  for (const line of text.split('\n')) {
    const m = /^(\w+)\s+\d+\s+\d+\s+\S+\s+(.*)$/.exec(line);
    if (m && m[1] !== 'domain') { current = m[1]; blocks[current] = [m[2].trim()]; }
    else if (current && /^\s{10,}\S/.test(line)) blocks[current].push(line.trim().replace(/:\s+/, ': '));
    else current = null;
  }
  return blocks;
}

const pct = (x) => (100 * x).toFixed(1) + ' %';

export function renderCard(card) {
  const e = card.eval, s = card.samples;
  const lines = [
    `# ${card.source} → ${card.target}, ${card.method}`,
    '',
    `A ${card.method} model (dida's small configuration, \`${card.config_file}\`) trained on labelled ` +
      `${card.source} images and unlabelled ${card.target} images. Target labels were used for evaluation only.`,
    '',
    '| | |', '|---|---|',
    `| command | \`${card.command}\` |`,
    `| export | \`${card.export_command}\` |`,
    `| seed | ${card.seed} (data seed ${card.data_seed}) |`,
    `| machine | ${card.machine} |`,
    `| training time | ${card.train_seconds.toFixed(0)} s (${card.images_per_s.toFixed(0)} images/s), ${card.date} |`,
    `| software | dida ${card.dida_version}, LibTorch ${card.libtorch} |`,
    ...(card.replay ? [`| training replay | \`replay.safetensors\`, ${card.replay} |`] : []),
    '',
    '## Evaluation (`dida eval --json`)',
    '',
    '| measure | value |', '|---|---|',
    `| target-test accuracy (${e.target_images} images) | ${pct(e.target_accuracy)} |`,
    `| source-val accuracy (${e.source_images} images) | ${pct(e.source_accuracy)} |`,
    `| domain probe on z_inv (0.5 = invariant) | ${e.domain_probe_inv.toFixed(3)} |`,
    `| domain probe on z_spe | ${e.domain_probe_spe.toFixed(3)} |`,
    `| class probe on z_spe | ${e.class_probe_spe.toFixed(3)} |`,
    `| A-distance z_inv / z_spe | ${e.a_distance_inv.toFixed(3)} / ${e.a_distance_spe.toFixed(3)} |`,
    `| MI estimate (KSG, nats) | ${e.mi_estimate.toFixed(3)} |`,
    '',
    `## On the page's sample set`,
    '',
    `\`${card.samples_command}\`, then \`dida predict BUNDLE --samples FILE\` (the core's forward pass):`,
    `source ${pct(s.source_accuracy)} of ${s.source_count}, target ${pct(s.target_accuracy)} of ${s.target_count}.`,
    '',
    '## Files',
    '',
    '| file | bytes |', '|---|---|',
    ...Object.entries(card.files).map(([f, b]) => `| ${f} | ${b.toLocaleString('en-US')} |`),
    '',
    `CRC-32: model.onnx \`${card.onnx_crc32}\`, swap.onnx \`${card.swap_onnx_crc32}\`, decoder.onnx \`${card.decoder_onnx_crc32}\` ` +
      '(also recorded in config.json).',
    '',
    '## Data',
    '',
    ...[card.source, card.target].map((d) => `- **${d}**: ` +
      (card.provenance[d] || ['(not a built-in domain)']).map((l) => l.replace(/:\s+/, ': ')).join('; ')),
    '',
    'See docs/DATA.md for how the domains are built and split.',
    '',
  ];
  return lines.join('\n');
}

// models/README.md: what is shipped, from every bundle's card.json.
export function writeIndex(out) {
  const cards = readdirSync(out, { withFileTypes: true }).filter((d) => d.isDirectory() && existsSync(join(out, d.name, 'card.json')))
    .map((d) => JSON.parse(readFileSync(join(out, d.name, 'card.json'), 'utf8')));
  const rank = (c) => PAIRS.findIndex((p) => p.source === c.source && p.target === c.target) * 10 + METHODS.indexOf(c.method);
  cards.sort((a, b) => rank(a) - rank(b));
  const kb = (c) => Math.round(Object.values(c.files).reduce((a, b) => a + b, 0) / 1e3);
  const lines = [
    '# models',
    '',
    'Shipped, trained model bundles, one folder each: `config.json`, `model.safetensors`, `model.onnx`,',
    '`swap.onnx`, `decoder.onnx` (the style mixer\'s), `replay.safetensors` (the training replayed, which the page loads when asked), `card.json` (the',
    'figures) and a model card (`README.md`: the exact command, seed, machine, training',
    'time, `dida eval` figures, accuracy on the page\'s sample set, file sizes and data provenance).',
    'The site lists them all in its model picker.',
    '',
    'They use the small configuration (`configs/small.toml`: width 8, heads of 32 units, 25 epochs of 70',
    'iterations, batch 64 + 64, the recipe of docs/METHOD.md; dida with its split, the method\'s default), one seed',
    'each, trained on the CPU with 2 threads; each card records the exact command and the date it was trained.',
    '`make models` (`node scripts/ship_models.mjs`) trains them all again, every pair with the same',
    'command: no pair has flags of its own (docs/RESULTS.md, "one recipe for every pair").',
    '',
    '| bundle | target-test | source-val | page samples: source / target | size (kB) | training |',
    '| --- | --- | --- | --- | --- | --- |',
    ...cards.map((c) => `| [${c.name}](${c.name}/README.md) | ${pct(c.eval.target_accuracy)} | ${pct(c.eval.source_accuracy)} | ` +
      `${pct(c.samples.source_accuracy)} / ${pct(c.samples.target_accuracy)} | ${kb(c)} | ${c.train_seconds.toFixed(0)} s |`),
    '',
    `${cards.length} bundles, ${(cards.reduce((s, c) => s + kb(c), 0) / 1e3).toFixed(1)} MB in all ` +
      '(config.json + model.safetensors + model.onnx + swap.onnx + decoder.onnx + replay.safetensors; the page loads only config.json and ' +
      'model.safetensors, the ONNX files when ONNX Runtime Web is chosen and the replay when asked for).',
    '',
  ];
  writeFileSync(join(out, 'README.md'), lines.join('\n'));
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', opts.capture ? 'pipe' : 'inherit', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status})`);
  return r.stdout;
}

const samplesCommand = (source, target) =>
  `dida data samples --source ${source} --target ${target} --n ${SAMPLES_PER_DOMAIN} --probe-n ${PROBE_SAMPLES_PER_DOMAIN} --out ${sampleFile(source, target)}`;

// Accuracy per domain on the page's sample set, by the core (`dida predict --samples`).
function sampleFigures(dida, bundle, samples) {
  const r = JSON.parse(run(dida, ['predict', bundle, '--samples', samples, '--json'], { capture: true }));
  delete r.predictions;
  r.samples = samples;
  return r;
}

// A bench run stands in for `dida train trainArgs` only if it recorded the same value for every
// option that command names, on its command line or in its --config file.
function checkRunMatches(runDir, trainArgs) {
  const recorded = join(runDir, 'config.json');
  if (!existsSync(join(runDir, 'bundle', 'model.safetensors'))) throw new Error(`${runDir}: no finished run there`);
  const have = JSON.parse(readFileSync(recorded, 'utf8')).options;
  const want = {};
  const configAt = trainArgs.indexOf('--config');
  if (configAt >= 0)
    for (const line of readFileSync(trainArgs[configAt + 1], 'utf8').split('\n')) {
      const m = /^\s*([\w-]+)\s*=\s*("?)([^"#]*)\2\s*(#.*)?$/.exec(line);
      if (m) want[m[1]] = m[3].trim();
    }
  for (let i = 1; i < trainArgs.length; ++i) {
    const a = trainArgs[i];
    if (!a.startsWith('--') || a === '--config' || a === '--out') continue;
    if (i + 1 < trainArgs.length && !trainArgs[i + 1].startsWith('--')) want[a.slice(2)] = trainArgs[++i];
    else if (a.startsWith('--no-')) want[a.slice(5)] = 'false';  // a switch: --no-X is X false
    else want[a.slice(2)] = 'true';
  }
  const differ = Object.entries(want).filter(([k, v]) => {
    const h = have[k.replaceAll('-', '_')];
    return h === undefined || (typeof h === 'number' ? h !== Number(v) : String(h) !== v);
  });
  if (differ.length) throw new Error(`${runDir} was not trained as \`dida ${trainArgs.join(' ')}\`: ` +
                                     differ.map(([k, v]) => `${k} ${JSON.stringify(have[k.replaceAll('-', '_')])} (want ${v})`).join(', '));
}

// A bundle's file sizes and ONNX checksums, for its card.
function bundleFiles(dir) {
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const files = {};
  for (const f of ['config.json', 'model.safetensors', 'model.onnx', 'swap.onnx', 'decoder.onnx', 'replay.safetensors'])
    if (f !== 'replay.safetensors' || existsSync(join(dir, f))) files[f] = statSync(join(dir, f)).size;
  return { files, onnx_crc32: config.onnx?.crc32 ?? '', swap_onnx_crc32: config.swap_onnx?.crc32 ?? '',
           decoder_onnx_crc32: config.decoder_onnx?.crc32 ?? '' };
}

function main() {
  const a = parseArgs(process.argv.slice(2));
  if (a.help) {
    console.log('usage: node scripts/ship_models.mjs [--pairs S:T,...] [--methods M,...] [--seed N] [--out DIR]\n' +
                '                                   [--config FILE] [--dida PATH] [--cards-only|--eval-only] [--from-runs BENCH]\n' +
                '                                   [-- extra train flags]\n' +
                '--cards-only recomputes the sample-set figures, file sizes and checksums and rewrites the cards, without training;\n' +
                '--eval-only does the same with `dida eval` run again instead of the export (the cards\' figures of today\'s eval);\n' +
                '  with --replays-from BENCH it also takes each bundle\'s replay.safetensors from BENCH/<pair>/<method>-seed<N>\n' +
                '  (a run of the same command, whose weights must be the same bytes; checked).\n' +
                '--from-runs BENCH uses the finished runs BENCH/<source>-<target>/<method>-seed<N> of a `dida bench` with the\n' +
                '  same configuration instead of training (their recorded options must match; checked).\n' +
                'Trains, exports and writes a model card for each pair x method into DIR/<source>-<target>-<method>/.');
    return;
  }
  if (a.cardsOnly) {
    for (const p of a.pairs) {
      const [source, target] = p.split(':');
      const samples = join('build', 'samples', sampleFile(source, target));
      writeSampleSet(a.dida, source, target, samples);
      for (const method of a.methods) {
        const dir = join(a.out, `${pairName(source, target)}-${method}`);
        const card = JSON.parse(readFileSync(join(dir, 'card.json'), 'utf8'));
        if (a.replaysFrom) {  // the replay of a run that trained the same weights again, byte for byte
          const run = join(a.replaysFrom, pairName(source, target), `${method}-seed${card.seed}`, 'bundle');
          if (!readFileSync(join(run, 'model.safetensors')).equals(readFileSync(join(dir, 'model.safetensors'))))
            throw new Error(`${run}: its weights differ from ${dir}'s: its replay is not this model's`);
          cpSync(join(run, 'replay.safetensors'), join(dir, 'replay.safetensors'));
          card.replay = `recorded by training again with the card's command (${run}); the weights came out the same bytes`;
        }
        if (!a.evalOnly) run(a.dida, ['export', dir], { capture: true });  // the ONNX files the exporter writes now (decoder.onnx too)
        else card.eval = JSON.parse(run(a.dida, ['eval', dir, '--json'], { capture: true }));  // today's measures
        card.samples = sampleFigures(a.dida, dir, samples);
        Object.assign(card, bundleFiles(dir));
        card.samples_command = samplesCommand(source, target);
        writeFileSync(join(dir, 'card.json'), JSON.stringify(card, null, 2) + '\n');
        writeFileSync(join(dir, 'README.md'), renderCard(card));
      }
    }
    writeIndex(a.out);
    return;
  }
  const prov = provenance(a.dida);
  const version = run(a.dida, ['--version'], { capture: true }).split('\n')[0].trim();
  const cpu = os.cpus();
  const total = a.pairs.length * a.methods.length;
  let k = 0;
  for (const p of a.pairs) {
    const [source, target] = p.split(':');
    const samples = join('build', 'samples', sampleFile(source, target));
    writeSampleSet(a.dida, source, target, samples);
    for (const method of a.methods) {
      ++k;
      const name = `${pairName(source, target)}-${method}`;
      const runDir = a.fromRuns ? join(a.fromRuns, pairName(source, target), `${method}-seed${a.seed}`) : join('runs', 'models', name);
      const out = join(a.out, name);
      const trainArgs = ['train', '--config', a.config, '--source', source, '--target', target, '--method', method,
                         '--seed', String(a.seed), ...a.extra, '--out', runDir];
      console.error(`\n[${k}/${total}] ${name}: dida ${trainArgs.join(' ')}`);
      if (a.fromRuns) {
        checkRunMatches(runDir, trainArgs);
      } else {
        rmSync(runDir, { recursive: true, force: true });  // a fresh run each time
        run(a.dida, trainArgs);
      }
      mkdirSync(out, { recursive: true });
      for (const f of ['config.json', 'model.safetensors', 'replay.safetensors'])
        if (f !== 'replay.safetensors' || existsSync(join(runDir, 'bundle', f))) cpSync(join(runDir, 'bundle', f), join(out, f));
      run(a.dida, ['export', out]);
      const evalJson = JSON.parse(run(a.dida, ['eval', out, '--json'], { capture: true }));
      const sampleJson = sampleFigures(a.dida, out, samples);
      const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
      const card = {
        name, source, target, method, seed: a.seed, data_seed: config.training.options.data_seed,
        config_file: a.config,
        command: `dida ${trainArgs.join(' ')}`,
        export_command: `dida export ${out}`,
        samples_command: samplesCommand(source, target),
        machine: `${cpu[0]?.model?.trim() || 'unknown CPU'}, ${config.training.threads} threads used (of ${cpu.length}), ` +
                 `${config.training.device}, ${os.platform()} ${os.arch()}`,
        train_seconds: config.training.seconds_this_session, images_per_s: config.training.images_per_s,
        date: new Date().toISOString().slice(0, 10), dida_version: version.replace(/^dida\s+/, '').split(/[ ,]/)[0],
        libtorch: config.training.libtorch, eval: evalJson, samples: sampleJson, ...bundleFiles(out),
        provenance: { [source]: prov[source], [target]: prov[target] },
      };
      writeFileSync(join(out, 'card.json'), JSON.stringify(card, null, 2) + '\n');
      writeFileSync(join(out, 'README.md'), renderCard(card));
      console.error(`[${k}/${total}] ${name}: target-test ${pct(evalJson.target_accuracy)}, ` +
                    `samples source ${pct(sampleJson.source_accuracy)} target ${pct(sampleJson.target_accuracy)} -> ${out}`);
    }
  }
  writeIndex(a.out);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (e) {
    console.error('ship_models: error: ' + e.message);
    process.exit(1);
  }
}
