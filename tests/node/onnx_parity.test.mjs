// The fourth engine: `dida export` writes ONNX, onnxruntime-node runs it, and every output agrees
// with LibTorch's (tests/fixtures/parity/*/reference.safetensors, which the native suite checks
// against LibTorch and the core suite against the core, natively and as wasm).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ort from 'onnxruntime-node';
import { readSafetensors, crc32, maxAbsDiff } from '../../scripts/safetensors.mjs';

const ROOT = resolve(new URL('.', import.meta.url).pathname, '../..');
const DIDA = process.env.DIDA_CLI || join(ROOT, 'build/native/bin/dida');
const PREDICT = ['logits', 'probs', 'z_inv', 'z_spe', 'dom_inv', 'dom_spe'];
const FIXTURES = join(ROOT, 'tests/fixtures/parity');

// The parity matrix (written by the native suite): every fixture, both ONNX files.
for (const which of readdirSync(FIXTURES).sort()) {
  test(`onnxruntime-node agrees with LibTorch on ${which}: model.onnx (one input), swap.onnx and decoder.onnx`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dida-onnx-'));
    try {
      cpSync(join(FIXTURES, which), dir, { recursive: true });
      execFileSync(DIDA, ['export', dir], { stdio: 'pipe' });
      const card = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      for (const [key, file] of [['onnx', 'model.onnx'], ['swap_onnx', 'swap.onnx'], ['decoder_onnx', 'decoder.onnx']]) {
        const bytes = readFileSync(join(dir, file));
        assert.equal(card[key].file, file);
        assert.equal(card[key].bytes, bytes.length);
        assert.equal(card[key].crc32, crc32(bytes).toString(16).padStart(8, '0'));
      }

      const ref = readSafetensors(join(dir, 'reference.safetensors'));
      const x = ref.input;
      const n = x.shape[0], per = x.data.length / n, half = n / 2;
      const model = await ort.InferenceSession.create(join(dir, 'model.onnx'));
      assert.deepEqual(model.inputNames, ['input']);
      assert.deepEqual([...model.outputNames].sort(), [...PREDICT].sort());
      const out = await model.run({ input: new ort.Tensor('float32', x.data, x.shape) });
      for (const name of PREDICT) {
        assert.deepEqual(Array.from(out[name].dims), ref[name].shape, name);
        const d = maxAbsDiff(out[name].data, ref[name].data);
        assert.ok(d < 1e-4, `${which} ${name}: max |ORT - LibTorch| = ${d}`);
      }
      // Dynamic batch: one image gives the first row of the batch's logits.
      const one = await model.run({ input: new ort.Tensor('float32', x.data.slice(0, per), [1, ...x.shape.slice(1)]) });
      assert.ok(maxAbsDiff(one.logits.data, ref.logits.data.slice(0, 10)) < 1e-4);

      const style = new Float32Array(x.data.length);  // the batch rotated by half, as the reference
      for (let i = 0; i < n; i++) style.set(x.data.subarray(((i + half) % n) * per, ((i + half) % n + 1) * per), i * per);
      const swap = await ort.InferenceSession.create(join(dir, 'swap.onnx'));
      assert.deepEqual(swap.inputNames, ['content', 'style']);
      const s = await swap.run({ content: new ort.Tensor('float32', x.data, x.shape), style: new ort.Tensor('float32', style, x.shape) });
      assert.ok(maxAbsDiff(s.swap.data, ref.swap.data) < 1e-4, `${which} swap`);
      // The reconstruction is the swap of an image with itself.
      const rec = await swap.run({ content: new ort.Tensor('float32', x.data, x.shape), style: new ort.Tensor('float32', x.data, x.shape) });
      assert.ok(maxAbsDiff(rec.swap.data, ref.pix_rec.data) < 1e-4, `${which} pix_rec`);
      // decoder.onnx on model.onnx's features: the reconstruction, and on a mix of two images'
      // z_spe (the style mixer's input) at t = 0 and 1 the swaps with either style.
      const decoder = await ort.InferenceSession.create(join(dir, 'decoder.onnx'));
      assert.deepEqual(decoder.inputNames, ['z_inv', 'z_spe']);
      const z = (name) => new ort.Tensor('float32', out[name].data, out[name].dims);
      const d = await decoder.run({ z_inv: z('z_inv'), z_spe: z('z_spe') });
      assert.ok(maxAbsDiff(d.pix_rec.data, ref.pix_rec.data) < 1e-4, `${which} decoder.onnx`);
      const zs = out.z_spe.data, k = zs.length / n;
      const mixed = (t) => {
        const m = new Float32Array(zs.length);  // image i's code slid towards its partner's (i + half)
        for (let i = 0; i < n; i++)
          for (let j = 0; j < k; j++) m[i * k + j] = (1 - t) * zs[i * k + j] + t * zs[((i + half) % n) * k + j];
        return new ort.Tensor('float32', m, out.z_spe.dims);
      };
      const at0 = await decoder.run({ z_inv: z('z_inv'), z_spe: mixed(0) }), at1 = await decoder.run({ z_inv: z('z_inv'), z_spe: mixed(1) });
      assert.ok(maxAbsDiff(at0.pix_rec.data, ref.pix_rec.data) < 1e-4, `${which} mix at t = 0`);
      assert.ok(maxAbsDiff(at1.pix_rec.data, ref.swap.data) < 1e-4, `${which} mix at t = 1`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('an older bundle is converted in place by dida export; --out elsewhere leaves the bundle alone', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dida-onnx-old-'));
  try {
    cpSync(join(FIXTURES, 'trained'), dir, { recursive: true });
    const card = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    card.format_version = 1;
    delete card.training_only_tensors;
    writeFileSync(join(dir, 'config.json'), JSON.stringify(card));
    assert.throws(() => execFileSync(DIDA, ['predict', dir, '--samples', join(dir, 'none')], { stdio: 'pipe' }),
                  (e) => String(e.stderr).includes(`format_version 1 is an older layout (this dida reads 2); convert it in place with: dida export ${dir}`));
    const copy = join(dir, 'copy');
    execFileSync(DIDA, ['export', dir, '--out', copy], { stdio: 'pipe' });
    assert.ok(['model.onnx', 'swap.onnx', 'decoder.onnx'].every((f) => existsSync(join(copy, f))));
    assert.equal(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).format_version, 1);
    const said = execFileSync(DIDA, ['export', dir], { encoding: 'utf8' });
    assert.match(said, /checksums recorded in/);
    const now = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    assert.equal(now.format_version, 2);
    assert.ok(now.training_only_tensors.includes('mine.fc1.weight'));
    assert.throws(() => execFileSync(DIDA, ['export', dir, '--out', join(dir, 'x.onnx')], { stdio: 'pipe' }),
                  (e) => /--out names a folder/.test(String(e.stderr)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a file that is not a bundle is refused with a one-line error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dida-onnx-bad-'));
  try {
    assert.throws(() => execFileSync(DIDA, ['export', dir], { stdio: 'pipe' }),
                  (e) => /: not a run or bundle folder/.test(String(e.stderr)) && String(e.stderr).trim().split("\n").length === 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
