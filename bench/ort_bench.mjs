// onnxruntime-node's inference time on a model.onnx at batch 1 and 256 (median, one thread).
// Usage: node bench/ort_bench.mjs MODEL.onnx [seconds] [image_size] [channels]
import ort from 'onnxruntime-node';

const [model, seconds = '2', sizeArg = '32', channelsArg = '3'] = process.argv.slice(2);
const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
const size = Number(sizeArg), channels = Number(channelsArg);
for (const batch of [1, 256]) {
  const n = batch * channels * size * size;
  const x = new Float32Array(n).map(() => Math.random() * 2 - 1);
  const feeds = { input: new ort.Tensor('float32', x, [batch, channels, size, size]) };
  // What the core's forward pass computes too.
  const fetches = ['logits', 'probs', 'z_inv', 'z_spe', 'dom_inv', 'dom_spe'];
  await session.run(feeds, fetches);
  const times = [];
  const start = performance.now();
  while (times.length < 5 || performance.now() - start < Number(seconds) * 1000) {
    const a = performance.now();
    await session.run(feeds, fetches);
    times.push(performance.now() - a);
    if (times.length > 2000) break;
  }
  times.sort((p, q) => p - q);
  console.log(JSON.stringify({ engine: 'onnxruntime-node', batch, ms: Number(times[times.length >> 1].toFixed(4)), threads: 1 }));
}
