// safetensors in node (F32, U8 and I64 tensors): the scripts' and the tests' one reader and writer,
// the CRC the bundles record, and a comparison of engines' outputs.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

// The header of safetensors bytes: { header (name -> info), data (the bytes after it) }.
export function safetensorsHeader(buf, what = 'safetensors') {
  if (buf.length < 8) throw new Error(`${what}: too short for a safetensors file`);
  const n = Number(buf.readBigUInt64LE(0));
  if (n > buf.length - 8) throw new Error(`${what}: header of ${n} bytes in a file of ${buf.length}`);
  return { header: JSON.parse(buf.subarray(8, 8 + n).toString('utf8')), data: buf.subarray(8 + n) };
}

// Every tensor of a file (.safetensors, or gzip-compressed .safetensors.gz): name -> { shape, data }.
export function readSafetensors(path) {
  const raw = readFileSync(path);
  const buf = raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw;
  const { header, data } = safetensorsHeader(buf, path);
  const out = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const Type = { F32: Float32Array, U8: Uint8Array, I64: BigInt64Array }[info.dtype];
    if (!Type) throw new Error(`${path}: tensor ${name} is ${info.dtype}, expected F32, U8 or I64`);
    const bytes = data.subarray(...info.data_offsets);
    out[name] = { shape: info.shape, data: new Type(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) };
  }
  return out;
}

// safetensors bytes without the named tensors (offsets recomputed, data kept 8-byte aligned).
export function withoutTensors(bytes, names) {
  const drop = new Set(names);
  const { header, data } = safetensorsHeader(bytes);
  const kept = {}, parts = [];
  let offset = 0;
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') { kept[name] = info; continue; }
    if (drop.has(name)) continue;
    const d = data.subarray(...info.data_offsets);
    kept[name] = { ...info, data_offsets: [offset, offset + d.length] };
    parts.push(d);
    offset += d.length;
  }
  let text = JSON.stringify(kept);
  text += ' '.repeat((8 - (text.length % 8)) % 8);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(text)));
  return Buffer.concat([head, Buffer.from(text), ...parts]);
}

export function crc32(bytes) {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) {
    crc ^= bytes[i];
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

export function maxAbsDiff(a, b) {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
