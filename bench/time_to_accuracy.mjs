#!/usr/bin/env node
// Time to accuracy on mnist -> mnistm: the wall time from starting `dida train` (default and small
// configurations) until the target-test accuracy it logs after each epoch (reporting only; nothing
// is chosen by it) first reaches a threshold, beside the same for a reference DANN script in
// PyTorch-Python on the very pair that `dida data export` writes, same machine, same threads,
// one after the other. Wall time includes start-up and the per-epoch evaluations of both.
// usage: node bench/time_to_accuracy.mjs [options]   (after `make native`)
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(new URL('.', import.meta.url).pathname, '..');
const args = process.argv.slice(2);
const opt = (k, d) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : d; };
const USAGE = `usage: node bench/time_to_accuracy.mjs [--reference FILE] [--threshold 0.77] [--threads 1]
                                    [--seed 1] [--configs default,small] [--out runs/time-to-accuracy] [--json FILE]
                                    [--dida PATH] [--python PATH]
Trains mnist -> mnistm with \`dida train\` in each configuration (default: the built-in options;
small: configs/small.toml) and runs the reference DANN script (bench/dann_reference.py unless
--reference names another; --reference '' skips it)
(python3 FILE PAIR --method dann --epochs 40 --norm --threads N --seed S) on the pair
\`dida data export\` writes. Prints, for each, the seconds until target-test accuracy first reached
the threshold (77 % by default: DANN's published figure on the original MNIST-M) and the ratio to the reference.`;
if (args.includes('--help') || args.includes('-h')) { console.log(USAGE); process.exit(0); }
const known = new Set(['--reference', '--threshold', '--threads', '--seed', '--configs', '--out', '--json', '--python', '--dida']);
for (let i = 0; i < args.length; i += 2)
  if (!known.has(args[i])) { console.error(`time_to_accuracy: unknown option ${args[i]}\n${USAGE}`); process.exit(2); }

const THRESHOLD = Number(opt('--threshold', '0.77'));
const THREADS = opt('--threads', '1');
const SEED = opt('--seed', '1');
const OUT = resolve(opt('--out', join(ROOT, 'runs/time-to-accuracy')));
const REFERENCE = opt('--reference', join(ROOT, 'bench/dann_reference.py'));
const PYTHON = opt('--python', '/usr/bin/python3');
const CONFIGS = opt('--configs', 'default,small').split(',');
const DIDA = resolve(opt('--dida', join(ROOT, 'build/native/bin/dida')));
const CONFIG_FILES = { default: null, small: join(ROOT, 'configs/small.toml') };
if (!existsSync(DIDA)) { console.error(`time_to_accuracy: ${DIDA} is missing: run make native first`); process.exit(1); }
if (!(THRESHOLD > 0 && THRESHOLD < 1)) { console.error('time_to_accuracy: --threshold must be in (0, 1)'); process.exit(2); }
for (const c of CONFIGS)
  if (!(c in CONFIG_FILES)) { console.error(`time_to_accuracy: unknown configuration ${c} (default, small)`); process.exit(2); }
if (REFERENCE && !existsSync(REFERENCE)) { console.error(`time_to_accuracy: ${REFERENCE} does not exist`); process.exit(1); }

// Runs a command; onLine(line, seconds since start) sees each line of its stdout and stderr as it
// arrives, and poll(seconds) is called four times a second; resolves with the exit code.
function timed(cmd, argv, { onLine = () => {}, poll = () => {} } = {}) {
  return new Promise((done, fail) => {
    const t0 = process.hrtime.bigint();
    const now = () => Number(process.hrtime.bigint() - t0) / 1e9;
    const child = spawn(cmd, argv, { cwd: ROOT, env: { ...process.env, OMP_WAIT_POLICY: 'passive' } });
    const split = (stream) => {
      let rest = '';
      stream.on('data', (chunk) => {
        const lines = (rest + chunk).split(/\r|\n/);
        rest = lines.pop();
        for (const l of lines) if (l.trim()) onLine(l, now());
      });
    };
    split(child.stdout), split(child.stderr);
    const timer = setInterval(() => poll(now()), 250);
    child.on('error', fail);
    child.on('close', (code) => { clearInterval(timer); poll(now()); done({ code, seconds: now() }); });
  });
}

const results = [];
mkdirSync(OUT, { recursive: true });

for (const name of CONFIGS) {
  const run = join(OUT, `dida-${name}-seed${SEED}`);
  rmSync(run, { recursive: true, force: true });
  const argv = ['--threads', THREADS, 'train', '--source', 'mnist', '--target', 'mnistm', '--seed', SEED, '--quiet', '--out', run];
  if (CONFIG_FILES[name]) argv.push('--config', CONFIG_FILES[name]);
  console.log(`dida train, ${name} configuration (${THREADS} thread(s)) ...`);
  // Each epoch's log line is stamped with the wall time at which it appeared in log.jsonl.
  const seen = [];
  const poll = (t) => {
    const log = join(run, 'log.jsonl');
    if (!existsSync(log)) return;
    const lines = readFileSync(log, 'utf8').split('\n').filter((l) => l.trim());
    for (const l of lines.slice(seen.length)) {
      const e = JSON.parse(l);
      seen.push({ epoch: e.epoch, accuracy: e.target_test_accuracy, seconds: t });
      console.log(`  epoch ${e.epoch}: target-test ${e.target_test_accuracy.toFixed(4)} at ${t.toFixed(1)} s`);
    }
  };
  const { code, seconds } = await timed(DIDA, argv, { poll });
  if (code !== 0) { console.error(`time_to_accuracy: dida train exited with ${code}`); process.exit(1); }
  const hit = seen.find((e) => e.accuracy >= THRESHOLD);
  results.push({ engine: `dida (${name})`, reached: hit ? hit.seconds : null, epoch: hit ? hit.epoch : null,
                 final_accuracy: seen.at(-1).accuracy, total_seconds: seconds });
}

if (REFERENCE) {
  const pair = join(OUT, 'pair-mnist-mnistm');
  if (!existsSync(pair))
    execFileSync(DIDA, ['data', 'export', '--source', 'mnist', '--target', 'mnistm', '--out', pair], { stdio: 'inherit' });
  console.log(`reference DANN (${REFERENCE}, ${THREADS} thread(s)) ...`);
  const seen = [];
  const onLine = (l, t) => {
    const m = /^epoch (\d+): target-test ([0-9.]+)/.exec(l);
    if (!m) return;
    seen.push({ epoch: Number(m[1]), accuracy: Number(m[2]), seconds: t });
    console.log(`  epoch ${m[1]}: target-test ${m[2]} at ${t.toFixed(1)} s`);
  };
  const { code, seconds } = await timed(PYTHON, [REFERENCE, pair, '--method', 'dann', '--epochs', '40', '--norm',
                                                 '--threads', THREADS, '--seed', SEED], { onLine });
  if (code !== 0 || !seen.length) { console.error(`time_to_accuracy: the reference exited with ${code}`); process.exit(1); }
  const hit = seen.find((e) => e.accuracy >= THRESHOLD);
  results.push({ engine: 'reference DANN', reached: hit ? hit.seconds : null, epoch: hit ? hit.epoch : null,
                 final_accuracy: seen.at(-1).accuracy, total_seconds: seconds });
}

const ref = results.find((r) => r.engine === 'reference DANN');
console.log(`\nwall time until target-test accuracy >= ${THRESHOLD} (seed ${SEED}, ${THREADS} thread(s)):\n`);
console.log('| run | reached at | epoch | final accuracy | whole run | time / reference |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const r of results) {
  // A reference that never reaches the threshold bounds the ratio by its whole run.
  const ratio = !ref || !r.reached || r === ref ? ''
    : ref.reached ? `${(r.reached / ref.reached).toFixed(2)}x` : `< ${(r.reached / ref.total_seconds).toFixed(2)}x (reference not reached)`;
  console.log(`| ${r.engine} | ${r.reached ? r.reached.toFixed(1) + ' s' : 'not reached'} | ${r.epoch ?? ''} | ` +
              `${(100 * r.final_accuracy).toFixed(1)} % | ${r.total_seconds.toFixed(1)} s | ${ratio} |`);
}
const json = opt('--json', '');
if (json) writeFileSync(json, JSON.stringify({ threshold: THRESHOLD, threads: THREADS, seed: SEED, results }, null, 2));
