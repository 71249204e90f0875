// The bundles shipped in models/: each loads in the core and in onnxruntime-node, its ONNX file
// matches the checksum recorded in config.json and card.json, and its accuracy on the page's sample
// set matches its model card within TOLERANCE (a few images of 200 may flip with the float
// summation order of another machine; on the machine that wrote the card the figures are equal).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ort from 'onnxruntime-node';
import { readSafetensors, crc32 } from '../../scripts/safetensors.mjs';
import { BUNDLE_FORMAT_VERSION } from '../../scripts/site_lib.mjs';

const ROOT = resolve(new URL('.', import.meta.url).pathname, '../..');
const DIDA = process.env.DIDA_CLI || join(ROOT, 'build/native/bin/dida');
const SITE = process.env.DIDA_SITE_DIR || join(ROOT, 'build/wasm/site');
const MODELS = join(ROOT, 'models');
const TOLERANCE = 0.015;
const MAX_BUNDLE_BYTES = 1.5e6;

const bundles = readdirSync(MODELS, { withFileTypes: true })
  .filter((d) => d.isDirectory()).map((d) => d.name).sort();

test('models/ ships every benchmark pair x {dida, dann, source-only}, and the site lists them', () => {
  const pairs = ['mnist-mnistm', 'syndigits-mnist', 'optdigits-mnist', 'fashion-fashionm'];
  const want = pairs.flatMap((p) => ['dida', 'dann', 'source-only'].map((m) => `${p}-${m}`)).sort();
  assert.deepEqual(bundles, want);
  const listed = JSON.parse(readFileSync(join(SITE, 'models/index.json'))).models.map((m) => m.name);
  for (const b of bundles) assert.ok(listed.includes(b), `${b} not in the site's models/index.json`);
});

for (const name of bundles) {
  test(`models/${name}: loads, checksum, accuracy as its card says`, async () => {
    const dir = join(MODELS, name);
    for (const f of ['config.json', 'model.safetensors', 'model.onnx', 'swap.onnx', 'decoder.onnx', 'replay.safetensors', 'README.md', 'card.json'])
      assert.ok(existsSync(join(dir, f)), `${name}/${f} missing`);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    const card = JSON.parse(readFileSync(join(dir, 'card.json'), 'utf8'));
    const onnx = readFileSync(join(dir, 'model.onnx'));
    const sum = crc32(onnx).toString(16).padStart(8, '0');
    assert.equal(config.onnx.crc32, sum, 'config.json checksum');
    assert.equal(config.onnx.bytes, onnx.length);
    assert.equal(card.onnx_crc32, sum, 'card.json checksum');
    assert.equal(config.format_version, BUNDLE_FORMAT_VERSION, 'the current bundle layout');
    const swapSum = crc32(readFileSync(join(dir, 'swap.onnx'))).toString(16).padStart(8, '0');
    assert.equal(config.swap_onnx.crc32, swapSum, 'config.json swap.onnx checksum');
    assert.equal(card.swap_onnx_crc32, swapSum, 'card.json swap.onnx checksum');
    const decoderSum = crc32(readFileSync(join(dir, 'decoder.onnx'))).toString(16).padStart(8, '0');
    assert.equal(config.decoder_onnx.crc32, decoderSum, 'config.json decoder.onnx checksum');
    assert.equal(card.decoder_onnx_crc32, decoderSum, 'card.json decoder.onnx checksum');
    const bytes = ['config.json', 'model.safetensors', 'model.onnx'].reduce((s, f) => s + statSync(join(dir, f)).size, 0);
    assert.ok(bytes < MAX_BUNDLE_BYTES, `${name}: ${bytes} bytes`);

    // The core (native) on the page's sample set.
    const samplesFile = join(SITE, 'samples', `${card.source}-${card.target}.safetensors.gz`);
    const core = JSON.parse(execFileSync(DIDA, ['predict', dir, '--samples', samplesFile, '--json']).toString());
    assert.equal(core.source_count, card.samples.source_count);
    assert.equal(core.target_count, card.samples.target_count);
    assert.ok(Math.abs(core.source_accuracy - card.samples.source_accuracy) <= TOLERANCE,
              `source: ${core.source_accuracy} vs card ${card.samples.source_accuracy}`);
    assert.ok(Math.abs(core.target_accuracy - card.samples.target_accuracy) <= TOLERANCE,
              `target: ${core.target_accuracy} vs card ${card.samples.target_accuracy}`);

    // onnxruntime-node on the same images predicts the same classes.
    const s = readSafetensors(samplesFile);
    const [n, h, w, c] = s.images.shape;
    const x = new Float32Array(n * c * h * w);
    for (let i = 0; i < n; i++)
      for (let y = 0; y < h; y++)
        for (let xx = 0; xx < w; xx++)
          for (let ch = 0; ch < c; ch++)
            x[((i * c + ch) * h + y) * w + xx] = s.images.data[((i * h + y) * w + xx) * c + ch] / 127.5 - 1;
    const session = await ort.InferenceSession.create(join(dir, 'model.onnx'));
    const t = new ort.Tensor('float32', x, [n, c, h, w]);
    const out = await session.run({ input: t });
    const k = out.probs.dims[1];
    let differ = 0;
    for (let i = 0; i < n; i++) {
      const p = out.probs.data.subarray(i * k, (i + 1) * k);
      if (p.indexOf(Math.max(...p)) !== core.predictions[i]) ++differ;
    }
    assert.equal(differ, 0, `${differ} of ${n} predictions differ between ONNX Runtime and the core`);

    // The training replay: every epoch, on the page's sample set; its last frame is the bundle's
    // model (the weights' average and the erasure included), its last accuracy the card's.
    const replay = readSafetensors(join(dir, 'replay.safetensors'));
    const epochs = config.training.options.epochs;
    assert.deepEqual(replay.z_inv_2d.shape, [epochs, n, 2]);
    assert.deepEqual(replay.z_spe_2d.shape, [epochs, n, 2]);
    assert.deepEqual([...replay.epoch.data].map(Number), [...Array(epochs).keys()].map((e) => e + 1));
    assert.ok(Math.abs(replay.target_test_accuracy.data[epochs - 1] - card.eval.target_accuracy) < 1e-6,
              `replay's last target accuracy ${replay.target_test_accuracy.data[epochs - 1]} vs card ${card.eval.target_accuracy}`);

    // The card's prose carries the same figures.
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    assert.ok(readme.includes(card.command), 'README.md shows the command');
    assert.ok(readme.includes(`${(100 * card.eval.target_accuracy).toFixed(1)} %`), 'README.md shows the target accuracy');
    assert.ok(readme.includes(`target ${(100 * card.samples.target_accuracy).toFixed(1)} % of ${card.samples.target_count}`));
  });
}
