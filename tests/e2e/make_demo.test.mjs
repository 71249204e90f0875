// The main job end to end, on a fresh clone of this repository's HEAD: `make demo` sets up, builds,
// trains the default model (a tiny budget here, through DIDA_DEMO_TRAIN_FLAGS), builds the site
// with it and serves it; the page loads the freshly trained model; Ctrl-C stops the server; a
// second `make demo` serves again without training.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchBrowser, watchedPage, waitForApp, screenshotPath, ROOT } from '../browser/browser.mjs';

const TINY = '--epochs 1 --iters-per-epoch 8';
const work = mkdtempSync(join(tmpdir(), 'dida-clone-'));
const clone = join(work, 'dida');
after(() => { if (!process.env.DIDA_KEEP_CLONE) rmSync(work, { recursive: true, force: true }); });

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

// Starts `make demo` in its own process group; resolves when it serves (or rejects when it exits).
function startDemo(port, extraEnv = {}) {
  const child = spawn('make', ['demo', `PORT=${port}`], {
    cwd: clone, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...extraEnv, MAKEFLAGS: '' },
  });
  let output = '';
  const onData = (d) => { output += d.toString(); };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const serving = new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (output.includes(`http://127.0.0.1:${port}/`)) { clearInterval(timer); resolve(); }
    }, 200);
    exited.then(({ code, signal }) => {
      clearInterval(timer);
      reject(new Error(`make demo exited (${code ?? signal}) before serving:\n${output.slice(-4000)}`));
    });
  });
  return { child, serving, exited, output: () => output };
}

async function stopDemo(demo, port) {
  if (demo.child.exitCode !== null || demo.child.signalCode !== null) return;  // already gone (its error is reported)
  process.kill(-demo.child.pid, 'SIGINT');  // Ctrl-C reaches the whole foreground process group
  const result = await Promise.race([demo.exited, new Promise((r) => setTimeout(() => r(null), 15000))]);
  assert.ok(result, 'make demo did not stop within 15 s of Ctrl-C');
  await assert.rejects(fetch(`http://127.0.0.1:${port}/`), 'the server still answers after Ctrl-C');
}

test('a fresh clone: make demo trains, serves the trained model, stops on Ctrl-C; a second run does not retrain',
     { timeout: 40 * 60 * 1000 }, async () => {
  execFileSync('git', ['clone', '--quiet', ROOT, clone]);
  const port = await freePort();
  const first = startDemo(port, { DIDA_DEMO_TRAIN_FLAGS: TINY });
  try {
    await first.serving;
    const out = first.output();
    assert.match(out, /demo: training the default model/);
    assert.match(out, /train: dida on mnist -> mnistm/);
    assert.match(out, /demo: model mnist -> mnistm \(dida\): target-test [\d.]+ %/);

    const index = await (await fetch(`http://127.0.0.1:${port}/models/index.json`)).json();
    assert.equal(index.models[0].name, 'trained-here');
    const trained = JSON.parse(readFileSync(join(clone, 'runs/demo/bundle/config.json'), 'utf8'));
    assert.equal(trained.training.options.iters_per_epoch, 8, 'the tiny budget was used');

    const browser = await launchBrowser();
    try {
      const origin = `http://127.0.0.1:${port}`;
      const { page, consoleErrors, foreignRequests } = await watchedPage(browser, origin, { viewport: { width: 1280, height: 800 } });
      await page.goto(origin + '/');
      await waitForApp(page);
      await page.waitForFunction(() => /^(loaded|error)/.test(window.dida.loadState()), null, { timeout: 60000 });
      assert.equal(await page.evaluate(() => window.dida.loadState()), 'loaded models/trained-here');
      const s = (await page.evaluate(() => window.dida.state())).explorer;
      assert.equal(s.method, 'dida');
      assert.equal(s.predictions.length, s.samples);
      await page.screenshot({ path: screenshotPath('make-demo.png') });
      assert.deepEqual(consoleErrors, []);
      assert.deepEqual(foreignRequests, []);
    } finally {
      await browser.close();
    }
  } finally {
    await stopDemo(first, port);
  }

  const second = startDemo(port);
  try {
    await second.serving;
    assert.match(second.output(), /demo: using the model trained before/);
    assert.doesNotMatch(second.output(), /train: dida on/);
  } finally {
    await stopDemo(second, port);
  }
});
