// The page around dida's canvas: the Emscripten Module, load status, and window.dida, the small
// JS hook through which readouts and tests see the app's state.
'use strict';
(function () {
  const status = document.getElementById('status');
  const showError = (msg) => {
    status.textContent = 'dida could not start: ' + msg;
    status.className = 'error';
  };
  window.addEventListener('error', (e) => showError(e.message));

  let ready = false;
  window.Module = {
    canvas: document.getElementById('canvas'),
    print: (text) => console.log(text),
    printErr: (text) => console.warn(text),
    onRuntimeInitialized: () => {
      ready = true;
      status.className = 'hidden';
      loadModel().catch((e) => showError(String(e)));
    },
    onAbort: (what) => showError(String(what)),
  };

  // The first model listed in models/index.json and the sample set, handed to the core in wasm.
  let loadState = 'none';
  async function fetchBytes(url) {
    const r = await fetch(url);
    if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
    return new Uint8Array(await r.arrayBuffer());
  }
  async function loadModel() {
    const index = await (await fetch('models/index.json')).json();
    if (!index.models || index.models.length === 0) { loadState = 'no model shipped'; return; }
    const m = index.models[0];
    loadState = 'loading ' + m.path;
    const [config, weights, samples] = await Promise.all([
      fetchBytes(`${m.path}/config.json`), fetchBytes(`${m.path}/model.safetensors`), fetchBytes(index.samples)]);
    const M = window.Module;
    const copy = (bytes) => { const p = M._malloc(bytes.length); M.HEAPU8.set(bytes, p); return p; };
    const pc = copy(config), pw = copy(weights), ps = copy(samples);
    const originBytes = M.lengthBytesUTF8(m.path) + 1, po = M._malloc(originBytes);
    M.stringToUTF8(m.path, po, originBytes);
    const err = M.UTF8ToString(M._dida_load(pc, config.length, pw, weights.length, ps, samples.length, po));
    [pc, pw, ps, po].forEach((p) => M._free(p));
    loadState = err ? 'error: ' + err : 'loaded ' + m.path;
    if (err) showError(err);
  }

  window.dida = {
    ready: () => ready,
    // The app's state: version, core check, clicks, button rectangle (CSS pixels), frames.
    state: () => JSON.parse(window.Module.UTF8ToString(window.Module._dida_state_json())),
    loadState: () => loadState,
    setProjection: (name) => window.Module._dida_set_projection(name === 'tsne' ? 1 : 0),
    thumbnail: (i) => JSON.parse(window.Module.UTF8ToString(window.Module._dida_thumbnail_json(i))),
  };
})();
