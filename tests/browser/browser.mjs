// Shared set-up of the browser tests: the built site on a free port, Debian's Chromium headless
// with WebGL2 through SwiftShader, and a record of console errors and off-origin requests.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { startServer } from '../../scripts/serve.mjs';

export const ROOT = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../..');
export const SITE = process.env.DIDA_SITE_DIR || join(ROOT, 'build/wasm/site');
export const SCREENSHOTS = join(ROOT, 'build/screenshots');

// Debian's Chromium, headless, WebGL2 through SwiftShader. playwright gives every launch a fresh,
// temporary profile (user data dir).
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--disable-quic',
           '--no-first-run', '--disable-background-networking', '--disable-component-update',
           '--disable-sync'],
  });
}

// A page that records console errors and requests leaving `origin`.
export async function watchedPage(browser, origin, options = {}) {
  const page = await browser.newPage(options);
  const consoleErrors = [];
  const foreignRequests = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.on('request', (r) => { if (!r.url().startsWith(origin) && !r.url().startsWith('data:')) foreignRequests.push(r.url()); });
  return { page, consoleErrors, foreignRequests };
}

// The built site (and `runs`, read-only) on a free port, served by `dida serve`, and a watched page
// in a fresh browser.
export async function openSite({ isolation = true, runs = [], viewport = { width: 1280, height: 800 }, deviceScaleFactor = 1,
                                 hasTouch = false } = {}) {
  const server = await startServer({ root: SITE, runs, isolation });
  const origin = server.origin;
  let browser;
  try {
    browser = await launchBrowser();
  } catch (e) {
    await server.close();
    throw e;
  }
  const watched = await watchedPage(browser, origin, { viewport, deviceScaleFactor, hasTouch });
  const close = async () => {
    await browser.close();
    await server.close();
  };
  return { ...watched, origin, close };
}

// Waits until the app reports itself ready and has drawn a few frames.
export async function waitForApp(page, minFrames = 3) {
  await page.waitForFunction(() => window.dida && window.dida.ready(), null, { timeout: 30000 });
  await page.waitForFunction((n) => window.dida.state().frames >= n, minFrames, { timeout: 30000 });
}

// Pixel statistics of a PNG screenshot: mean and standard deviation of luminance, and the
// number of distinct colours (quantised) — a blank canvas has ~1.
export function pixelStats(pngBuffer) {
  const png = PNG.sync.read(pngBuffer);
  const n = png.width * png.height;
  let sum = 0, sumSq = 0;
  const colours = new Set();
  for (let i = 0; i < n; i++) {
    const r = png.data[4 * i], g = png.data[4 * i + 1], b = png.data[4 * i + 2];
    const y = 0.299 * r + 0.587 * g + 0.114 * b;
    sum += y; sumSq += y * y;
    colours.add(((r >> 4) << 8) | ((g >> 4) << 4) | (b >> 4));
  }
  const mean = sum / n;
  return { width: png.width, height: png.height, mean, std: Math.sqrt(Math.max(0, sumSq / n - mean * mean)), colours: colours.size };
}

export function screenshotPath(name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return join(SCREENSHOTS, name);
}

// The model the tests look at: a shipped, trained bundle (listed in the site's models/index.json).
export const TEST_MODEL = 'mnist-mnistm-dida';

// Opens the page with one model and waits until it is loaded (or failed to load).
export async function openModel(site, model = TEST_MODEL, query = '') {
  await site.page.goto(`${site.origin}/?model=${model}${query}`);
  await waitForApp(site.page);
  await site.page.waitForFunction(() => /^(loaded|error)/.test(window.dida.loadState()), null, { timeout: 30000 });
  await site.page.waitForTimeout(300);  // a few frames with the explorer drawn
}

// Presses and releases the mouse at (x, y), with frames in between as a person's click has.
export async function click(page, x, y) {
  await page.mouse.move(x, y);
  await page.waitForTimeout(100);
  await page.mouse.down();
  await page.waitForTimeout(100);
  await page.mouse.up();
}
