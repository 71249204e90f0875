#!/usr/bin/env node
// The page's benchmark, side by side in one headless Chromium (SwiftShader for WebGL2):
//   - core (wasm) vs ONNX Runtime Web latency, batch 1 and 256, same model, ORT on 1 thread (any
//     static host) and with threads (cross-origin isolated, as the dev server serves it);
//   - time from navigation start to the first prediction;
//   - frame time with 4,000 points in the plots;
//   - bytes the page loads, without and with ONNX Runtime Web's files.
// usage: node bench/web_bench.mjs [--model NAME] [--reps N] [--json FILE]     (after `make site`)
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startServer } from '../scripts/serve.mjs';
import { launchBrowser, watchedPage } from '../tests/browser/browser.mjs';

const ROOT = resolve(new URL('.', import.meta.url).pathname, '..');
const args = process.argv.slice(2);
const opt = (k, d) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : d; };
if (args.includes('--help') || args.includes('-h')) {
  console.log('usage: node bench/web_bench.mjs [--model NAME] [--reps N] [--json FILE]\n' +
              'Benchmarks the built site (build/wasm/site) in headless Chromium; prints a Markdown table.');
  process.exit(0);
}
const MODEL = opt('--model', 'mnist-mnistm-dida');
const REPS = Number(opt('--reps', '30'));
const SITE = join(ROOT, 'build/wasm/site');
const DIDA = join(ROOT, 'build/native/bin/dida');
if (!existsSync(join(SITE, 'models/index.json'))) {
  console.error('web_bench: build/wasm/site is not built: run make site first');
  process.exit(1);
}

// A copy of the site with a 4,000-image sample set (2,000 per domain) for the frame-time check.
const BENCH_SITE = join(ROOT, 'build/web-bench/site');
rmSync(BENCH_SITE, { recursive: true, force: true });
mkdirSync(join(ROOT, 'build/web-bench'), { recursive: true });
cpSync(SITE, BENCH_SITE, { recursive: true });
console.error('web_bench: writing a 4,000-image sample set (fashion -> fashionm, 2,000 per domain) ...');
execFileSync(DIDA, ['data', 'samples', '--source', 'fashion', '--target', 'fashionm', '--max-per-domain', '40000',
                    '--n', '2000', '--out', join(BENCH_SITE, 'samples/bench-4000.safetensors')], { stdio: 'ignore' });

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };

async function openPage(browser, isolation, query) {
  const server = await startServer({ root: BENCH_SITE, port: 0, isolation });
  const origin = server.origin;
  const w = await watchedPage(browser, origin, { viewport: { width: 1400, height: 900 } });
  await w.page.goto(`${origin}/?${query}`);
  await w.page.waitForFunction(() => window.dida && window.dida.ready() && /^(loaded|error)/.test(window.dida.loadState()),
                               null, { timeout: 60000 });
  const state = await w.page.evaluate(() => window.dida.loadState());
  if (!state.startsWith('loaded')) throw new Error(`page: ${state}`);
  return { ...w, server, origin };
}

const bytesLoaded = (page) => page.evaluate(() =>
  [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
    .reduce((s, e) => s + (e.encodedBodySize || e.transferSize || 0), 0));

async function main() {
  const browser = await launchBrowser();
  const results = { model: MODEL, reps: REPS };
  try {
    for (const isolation of [false, true]) {
      const p = await openPage(browser, isolation, `model=${MODEL}`);
      const key = isolation ? 'isolated' : 'plain';
      if (!isolation) {
        results.first_prediction_ms = await p.page.evaluate(() => window.dida.firstPredictionMs());
        results.bytes_without_ort = await bytesLoaded(p.page);
        results.files_without_ort = await p.page.evaluate(() => performance.getEntriesByType('resource')
          .map((e) => [new URL(e.name).pathname, e.encodedBodySize]).sort((a, b) => b[1] - a[1]));
      }
      await p.page.evaluate(() => window.dida.setEngine('ort'));
      await p.page.waitForFunction(() => window.dida.state().explorer.ort.ready, null, { timeout: 60000 });
      if (!isolation) results.bytes_with_ort = await bytesLoaded(p.page);
      const r = {};
      for (const batch of [1, 256]) {
        const reps = batch === 1 ? REPS : Math.max(3, Math.round(REPS / 6));
        const core = [], ort = [];
        let threads = 1;
        for (let round = 0; round < 5; ++round) {  // interleaved, so load on the machine hits both alike
          core.push(await p.page.evaluate(([b, n]) => window.dida.benchCore(b, n), [batch, reps]));
          const o = await p.page.evaluate(([b, n]) => window.dida.benchOrt(b, n), [batch, reps]);
          ort.push(o.ms);
          threads = o.threads;
        }
        r[`batch${batch}`] = { core_ms: median(core), ort_ms: median(ort), ort_threads: threads,
                               ratio: median(core) / median(ort) };
      }
      results[key] = r;
      if (p.consoleErrors.length) results[`${key}_console_errors`] = p.consoleErrors;
      await p.page.close();
      await p.server.close();
    }
    // The first prediction again with the browser already running (as a visitor's is), each time
    // in a fresh context (empty cache): the median of 3, and where the time went (the page's marks).
    const warm = [];
    for (let k = 0; k < 3; ++k) {
      const server = await startServer({ root: BENCH_SITE, port: 0, isolation: false });
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
      const page = await context.newPage();
      await page.goto(`${server.origin}/?model=${MODEL}`);
      await page.waitForFunction(() => window.dida && window.dida.firstPredictionMs(), null, { timeout: 60000 });
      warm.push(await page.evaluate(() => ({
        first: window.dida.firstPredictionMs(),
        marks: Object.fromEntries(performance.getEntriesByType('mark').filter((m) => m.name.startsWith('dida:'))
          .map((m) => [m.name.slice(5), m.startTime])),
      })));
      await context.close();
      await server.close();
    }
    warm.sort((a, b) => a.first - b.first);
    results.first_prediction_warm = warm[1];
    // Frame time with 4,000 points in each plot.
    const f = await openPage(browser, true, `model=fashion-fashionm-dida&samples=samples/bench-4000.safetensors`);
    await f.page.waitForTimeout(1500);
    const frame = await f.page.evaluate(() => new Promise((resolve) => {
      const t = [];
      const tick = (now) => { t.push(now); if (t.length < 121) requestAnimationFrame(tick); else resolve(t); };
      requestAnimationFrame(tick);
    }));
    const intervals = frame.slice(1).map((x, i) => x - frame[i]);
    const st = await f.page.evaluate(() => window.dida.state());
    results.frame = { points: st.explorer.samples, work_ms: st.frame_ms, webgl_ms: st.render_ms, vertices: st.vertices,
                      raf_interval_ms: median(intervals) };
    await f.page.close();
    await f.server.close();
  } finally {
    await browser.close();
  }

  const fmt = (x, d = 2) => x.toFixed(d);
  const lines = [
    `Chromium ${execFileSync('/usr/bin/chromium', ['--version']).toString().trim().replace(/^Chromium\s*/, '')}, ` +
      `headless, SwiftShader; model ${MODEL}; latency: median over 5 interleaved rounds of the mean of ${REPS} calls ` +
      `(batch 1) or ${Math.max(3, Math.round(REPS / 6))} calls (batch 256)`,
    '',
    '| measure | core (wasm) | ONNX Runtime Web | core / ORT | goal |',
    '|---|---|---|---|---|',
  ];
  for (const [key, label] of [['plain', 'ORT 1 thread (plain static host)'], ['isolated', 'ORT threads (COOP/COEP)']]) {
    const r = results[key];
    lines.push(`| batch 1, ${label} | ${fmt(r.batch1.core_ms)} ms | ${fmt(r.batch1.ort_ms)} ms (${r.batch1.ort_threads} thr) | ` +
               `${fmt(r.batch1.ratio)}× | ≤ 0.7× |`);
    lines.push(`| batch 256, ${label} | ${fmt(r.batch256.core_ms, 1)} ms | ${fmt(r.batch256.ort_ms, 1)} ms (${r.batch256.ort_threads} thr) | ` +
               `${fmt(r.batch256.ratio)}× | ≤ 1.0× |`);
  }
  lines.push('', '| measure | value | goal |', '|---|---|---|',
             `| navigation start → first prediction, browser just started | ${fmt(results.first_prediction_ms, 0)} ms | ≤ 1000 ms |`,
             `| navigation start → first prediction, browser running, empty cache (median of 3) | ${fmt(results.first_prediction_warm.first, 0)} ms | ≤ 1000 ms |`,
             `| … wasm compiled and started / files in / model loaded and its first 8 images predicted / app started (WebGL, ImGui) | ` +
               ['wasm-ready', 'files-ready', 'first-prediction', 'app-started'].map((k) => fmt(results.first_prediction_warm.marks[k] ?? NaN, 0)).join(' / ') + ' ms | |',
             `| frame, ${results.frame.points} points in each plot: all work in frame() | ${fmt(results.frame.work_ms)} ms | ≤ 16 ms |`,
             `| … of which the app (ImGui, explorer, plots) | ${fmt(results.frame.work_ms - results.frame.webgl_ms)} ms | |`,
             `| … of which handing ${results.frame.vertices} vertices to WebGL (SwiftShader) | ${fmt(results.frame.webgl_ms)} ms | |`,
             `| requestAnimationFrame interval, same page | ${fmt(results.frame.raf_interval_ms)} ms | |`,
             `| page bytes without ONNX Runtime Web | ${(results.bytes_without_ort / 1e6).toFixed(2)} MB | ≤ 2 MB |`,
             `| page bytes with ONNX Runtime Web | ${(results.bytes_with_ort / 1e6).toFixed(2)} MB | |`);
  lines.push('', 'Largest files without ONNX Runtime Web: ' +
             results.files_without_ort.slice(0, 5).map(([f, b]) => `${f} ${(b / 1e3).toFixed(0)} kB`).join(', '));
  console.log(lines.join('\n'));
  const jsonOut = opt('--json', '');
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 2) + '\n');
}

main().catch((e) => { console.error('web_bench: error: ' + (e.stack || e.message)); process.exit(1); });
