#!/usr/bin/env node
// A picture of a bundle's split, drawn by ONNX Runtime from its swap.onnx: the top row holds the
// styles (target images; source images with --contents target), the first column the contents,
// the second column their plain reconstruction R(z_inv(x), z_spe(x)), and each other cell the swap
// R(z_inv(row), z_spe(column)).
//   node scripts/swap_grid.mjs BUNDLE SAMPLES.safetensors[.gz] OUT.png [--scale N] [--contents source|target]
//                              [--rows N] [--styles K] [--distinct]
// BUNDLE needs swap.onnx (`dida export BUNDLE`); SAMPLES is a sample set (`dida data samples`).
// --distinct picks the K style images farthest apart in colour (each channel's mean and spread,
// greedily from the first), instead of every 7th. It prints how many swaps are nearest, in those
// statistics, to their own column's style image (dida eval's style retrieval, on this picture).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import pngjs from 'pngjs';
import { readSafetensors } from './safetensors.mjs';

const usage = 'usage: node scripts/swap_grid.mjs BUNDLE SAMPLES.safetensors[.gz] OUT.png [--scale N] [--contents source|target]\n' +
              '                              [--rows N] [--styles K] [--distinct]';
const [bundle, samples, out, ...rest] = process.argv.slice(2);
if (!bundle || !samples || !out || bundle === '--help') {
  console.error(usage);
  process.exit(bundle === '--help' ? 0 : 2);
}
const option = (name, fallback) => (rest.includes(name) ? rest[rest.indexOf(name) + 1] : fallback);
const scale = Number(option('--scale', 3));
const contentDomain = { source: 0, target: 1 }[option('--contents', 'source')];
const rowCount = Number(option('--rows', 6)), styleCount = Number(option('--styles', 6));
if (!(scale > 0) || contentDomain === undefined || !(rowCount >= 1) || !(styleCount >= 1)) {
  console.error(usage);
  process.exit(2);
}
const s = readSafetensors(samples);
const [n, size, , channels] = s.images.shape;
const per = size * size;
const image = (i) => {  // HWC bytes -> CHW in [-1, 1], the bundle's input
  const x = new Float32Array(channels * per);
  for (let c = 0; c < channels; c++) for (let p = 0; p < per; p++) x[c * per + p] = s.images.data[(i * per + p) * channels + c] / 127.5 - 1;
  return x;
};
const ofDomain = (d, k) => [...Array(n).keys()].filter((i) => Number(s.domains.data[i]) === d).filter((_, j) => j % 7 === 0).slice(0, k);
// Each channel's mean, then spread, of a CHW image: the style descriptor of dida eval.
const descriptor = (chw) => {
  const means = [], spreads = [];
  for (let c = 0; c < channels; c++) {
    let m = 0, v = 0;
    for (let p = 0; p < per; p++) m += chw[c * per + p];
    m /= per;
    for (let p = 0; p < per; p++) v += (chw[c * per + p] - m) ** 2;
    means.push(m), spreads.push(Math.sqrt(v / per));
  }
  return [...means, ...spreads];
};
const distance = (a, b) => a.reduce((t, x, i) => t + (x - b[i]) ** 2, 0);
const farthest = (d, k) => {  // greedy: each next image the farthest from those taken
  const pool = [...Array(n).keys()].filter((i) => Number(s.domains.data[i]) === d);
  const desc = new Map(pool.map((i) => [i, descriptor(image(i))]));
  const taken = [pool[0]];
  while (taken.length < Math.min(k, pool.length)) {
    let best = -1, bestD = -1;
    for (const i of pool) {
      if (taken.includes(i)) continue;
      const near = Math.min(...taken.map((t) => distance(desc.get(i), desc.get(t))));
      if (near > bestD) bestD = near, best = i;
    }
    taken.push(best);
  }
  return taken;
};
const contents = ofDomain(contentDomain, rowCount);
const styles = rest.includes('--distinct') ? farthest(1 - contentDomain, styleCount) : ofDomain(1 - contentDomain, styleCount);
const session = await ort.InferenceSession.create(join(bundle, 'swap.onnx'));
const cell = size + 2, cols = styles.length + 2, rows = contents.length + 1;
const png = new pngjs.PNG({ width: cols * cell * scale, height: rows * cell * scale });
png.data.fill(255);
const put = (r, c, chw) => {
  for (let y = 0; y < size * scale; y++) for (let x = 0; x < size * scale; x++) {
    const o = ((r * cell * scale + y) * png.width + c * cell * scale + x) * 4, p = Math.floor(y / scale) * size + Math.floor(x / scale);
    for (let ch = 0; ch < 3; ch++) png.data[o + ch] = Math.max(0, Math.min(255, Math.round((chw[(channels === 1 ? 0 : ch) * per + p] + 1) * 127.5)));
  }
};
const dims = [1, channels, size, size];
styles.forEach((t, c) => put(0, c + 2, image(t)));
const styleDesc = styles.map((t) => descriptor(image(t)));
let right = 0;
for (const [r, a] of contents.entries()) {
  put(r + 1, 0, image(a));
  for (const [c, t] of styles.entries()) {
    const o = await session.run({ content: new ort.Tensor('float32', image(a), dims), style: new ort.Tensor('float32', image(t), dims) });
    if (c === 0) {  // the reconstruction: the swap of an image with itself
      const rec = await session.run({ content: new ort.Tensor('float32', image(a), dims), style: new ort.Tensor('float32', image(a), dims) });
      put(r + 1, 1, rec.swap.data);
    }
    put(r + 1, c + 2, o.swap.data);
    const d = descriptor(o.swap.data);
    const nearest = styleDesc.reduce((b, e, k) => (distance(d, e) < distance(d, styleDesc[b]) ? k : b), 0);
    right += nearest === c;
  }
}
writeFileSync(out, pngjs.PNG.sync.write(png));
console.log(`wrote ${out}: ${contents.length} contents x ${styles.length} styles; ${right} of ${contents.length * styles.length} ` +
            `swaps are nearest their own column's style image in colour (chance 1 in ${styles.length})`);
