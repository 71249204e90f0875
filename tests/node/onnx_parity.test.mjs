// The fourth engine: `dida export` writes ONNX, onnxruntime-node runs it, and every output agrees
// with LibTorch's (tests/fixtures/parity/*/reference.safetensors, which the native suite checks
// against LibTorch and the core suite against the core, natively and as wasm).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ort from 'onnxruntime-node';
import { readSafetensors, crc32, maxAbsDiff } from './safetensors.mjs';

const ROOT = resolve(new URL('.', import.meta.url).pathname, '../..');
const DIDA = process.env.DIDA_CLI || join(ROOT, 'build/native/bin/dida');
const OUTPUTS = ['logits', 'z_inv', 'z_spe', 'dom_inv', 'dom_spe', 'feat_rec', 'pix_rec', 'swap'];

for (const which of ['fresh', 'trained']) {
  test(`onnxruntime-node agrees with LibTorch on the ${which} bundle`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dida-onnx-'));
    try {
      cpSync(join(ROOT, 'tests/fixtures/parity', which), dir, { recursive: true });
      execFileSync(DIDA, ['export', dir], { stdio: 'pipe' });
      const onnxBytes = readFileSync(join(dir, 'model.onnx'));
      const card = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      assert.equal(card.onnx.file, 'model.onnx');
      assert.equal(card.onnx.bytes, onnxBytes.length);
      assert.equal(card.onnx.crc32, crc32(onnxBytes).toString(16).padStart(8, '0'));

      const ref = readSafetensors(join(dir, 'reference.safetensors'));
      const x = ref.input;
      const n = x.shape[0], per = x.data.length / n, half = n / 2;
      const style = new Float32Array(x.data.length);  // the batch rotated by half, as the reference
      for (let i = 0; i < n; i++) style.set(x.data.subarray(((i + half) % n) * per, ((i + half) % n + 1) * per), i * per);
      const session = await ort.InferenceSession.create(join(dir, 'model.onnx'));
      const out = await session.run({ input: new ort.Tensor('float32', x.data, x.shape),
                                      style: new ort.Tensor('float32', style, x.shape) });
      for (const name of OUTPUTS) {
        assert.deepEqual(Array.from(out[name].dims), ref[name].shape, name);
        const d = maxAbsDiff(out[name].data, ref[name].data);
        assert.ok(d < 1e-4, `${which} ${name}: max |ORT - LibTorch| = ${d}`);
      }
      // Dynamic batch: one image gives the first row of the batch's logits.
      const one = await session.run({ input: new ort.Tensor('float32', x.data.slice(0, per), [1, ...x.shape.slice(1)]),
                                      style: new ort.Tensor('float32', style.slice(0, per), [1, ...x.shape.slice(1)]) });
      assert.ok(maxAbsDiff(one.logits.data, ref.logits.data.slice(0, 10)) < 1e-4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('a file that is not a bundle is refused with a one-line error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dida-onnx-bad-'));
  try {
    assert.throws(() => execFileSync(DIDA, ['export', dir], { stdio: 'pipe' }),
                  (e) => /: not a run or bundle folder/.test(String(e.stderr)) && String(e.stderr).trim().split("\n").length === 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
