// The page around dida's canvas: the Emscripten Module, the model picker's loading, ONNX Runtime
// Web (the second engine, loaded on demand from ort/), touch input, and window.dida, the small JS
// hook through which readouts, benchmarks and tests see the app's state.
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
    // main() (WebGL, ImGui, the frame loop) runs once the first model is loaded: its first
    // predictions wait neither for the context nor for frames drawn meanwhile (start()).
    noInitialRun: true,
    onRuntimeInitialized: () => {
      performance.mark('dida:wasm-ready');  // marks: where the time to the first prediction goes
      start().catch((e) => { runMain(); showError(String(e.message || e)); });
    },
    onAbort: (what) => showError(String(what)),
  };
  const M = () => window.Module;
  const copyIn = (bytes) => { const p = M()._malloc(bytes.length); M().HEAPU8.set(bytes, p); return p; };
  const withString = (s, fn) => {
    const n = M().lengthBytesUTF8(s) + 1, p = M()._malloc(n);
    M().stringToUTF8(s, p, n);
    try { return fn(p); } finally { M()._free(p); }
  };

  async function fetchBytes(url) {
    let r;
    try {
      r = await fetch(url);
    } catch (e) {  // the browser says only "Failed to fetch": name the file
      throw new Error(`${url}: could not be fetched (${e.message || e})`);
    }
    if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
    // A gzipped sample set is inflated by the browser while it downloads (and the wasm module
    // compiles), not by the core's inflater later on the page's one thread; the core still reads
    // .gz files (a dropped one, or a browser without DecompressionStream).
    if (url.endsWith('.gz') && typeof DecompressionStream === 'function') {
      try {
        return new Uint8Array(await new Response(r.body.pipeThrough(new DecompressionStream('gzip'))).arrayBuffer());
      } catch (e) {
        throw new Error(`${url}: not a valid gzip file (${e.message || e})`);
      }
    }
    return new Uint8Array(await r.arrayBuffer());
  }

  // models/index.json: { models: [{ name, label, path, samples, ... }] }. ?model=NAME picks one.
  let index = { models: [] };
  let current = -1, loadState = 'none', firstPredictionMs = null;
  const params = new URLSearchParams(location.search);
  // Files by URL, fetched once. The index, the first model and its samples are requested at once,
  // while the wasm module is still compiling.
  const files = new Map();
  const getBytes = (url) => {
    if (!files.has(url)) {
      const p = fetchBytes(url);
      p.catch(() => {});  // reported when awaited, not as an unhandled rejection
      files.set(url, p);
    }
    return files.get(url);
  };
  const firstModelIndex = (idx) => Math.max(0, idx.models.findIndex((m) => m.name === params.get('model')));
  let droppedSamples = null;  // a sample set dropped on the page: used for every model from then on
  const bundleUrls = (m) => [`${m.path}/config.json`, `${m.path}/model.safetensors`,
                             m.ownSamples || droppedSamples || params.get('samples') || m.samples || index.samples];
  // The index, checked: an entry needs a text `path`; a label or name that is not text is shown as
  // text; entries that cannot be used are left out and named in a notice.
  async function loadIndex() {
    const url = 'models/index.json';
    let text;
    try {
      text = new TextDecoder().decode(await fetchBytes(url));
    } catch (e) {
      return { models: [], problem: `${e.message || e}: no models to show; drop a bundle on the page` };
    }
    let raw;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      return { models: [], problem: `${url}: not valid JSON (${e.message}); drop a bundle on the page` };
    }
    if (!raw || !Array.isArray(raw.models)) return { models: [], problem: `${url}: no "models" list` };
    const models = [], skipped = [];
    raw.models.forEach((m, k) => {
      if (!m || typeof m !== 'object' || typeof m.path !== 'string' || !m.path) { skipped.push(k + 1); return; }
      const name = typeof m.name === 'string' && m.name ? m.name : m.path;
      const label = typeof m.label === 'string' && m.label ? m.label : (m.label != null ? String(m.label) : name);
      models.push({ ...m, name, label });
    });
    const problem = skipped.length ? `${url}: entr${skipped.length > 1 ? 'ies' : 'y'} ${skipped.join(', ')} left out (no "path")` : '';
    return { ...raw, models, problem };
  }
  const indexRequest = loadIndex();
  indexRequest.then((idx) => { if (idx.models.length) bundleUrls(idx.models[firstModelIndex(idx)]).forEach(getBytes); });
  const listModels = () => withString(JSON.stringify(index.models.map((x) => x.label)), (p) => M()._dida_set_models(p, current));
  // The app's main(): once, after the first model's load (or its failure).
  let mainStarted = false;
  function runMain() {
    if (mainStarted) return;
    mainStarted = true;
    M().callMain([]);
    performance.mark('dida:app-started');
    ready = true;
    status.className = 'hidden';
    if (index.models.length) listModels();  // the picker is there even if the first model failed to load
    const chapter = parseInt(params.get('chapter') || '', 10);  // ?chapter=N opens the walkthrough there
    if (chapter > 0) M()._dida_open_chapter(chapter);
  }
  async function start() {
    const idx = await indexRequest;
    if (idx.problem) notify(idx.problem, true);
    if (liveIds.length) {  // ?run=K: the live view; its models are the runs' newest epochs
      index = idx;
      await startLive();
      return;
    }
    if (idx.models.length === 0) {
      runMain();
      loadState = 'no model shipped';
      return;
    }
    index = idx;
    try {
      await selectModel(firstModelIndex(index), runMain);
    } finally {
      runMain();
    }
    if (params.get('engine') === 'ort') await setEngine('ort');
  }

  // The core predicts the samples a chunk per frame after a load; the plots and swap grid follow.
  const coreReady = () => new Promise((resolve) => {
    const poll = () => (window.dida.state().explorer?.core_ready ? resolve() : requestAnimationFrame(poll));
    poll();
  });

  // afterLoad: called once the model is loaded and its first images predicted (start() runs the
  // app's main() there).
  async function selectModel(i, afterLoad = () => {}) {
    const m = index.models[i];
    if (!m) throw new Error(`no model ${i}`);
    loadState = 'loading ' + m.path;
    // ?samples=URL: another sample set (same image size) for every model, e.g. a larger one.
    let config, weights, samples;
    try {
      [config, weights, samples] = await Promise.all(bundleUrls(m).map(getBytes));
    } catch (e) {  // a missing file: said, and another model can still be picked
      loadState = 'error: ' + (e.message || e);
      notify(`${m.label}: ${e.message || e}`, true);
      return;
    }
    performance.mark('dida:files-ready');
    const pc = copyIn(config), pw = copyIn(weights), ps = copyIn(samples);
    let err;
    try {
      err = withString(m.path, (po) =>
        M().UTF8ToString(M()._dida_load(pc, config.length, pw, weights.length, ps, samples.length, po)));
    } catch (e) {  // the core's own checks return a message; anything thrown still ends the load
      err = `${m.label}: ${String(e.message || e).split('\n')[0]}`;
    } finally {
      [pc, pw, ps].forEach((p) => M()._free(p));
    }
    if (err) {
      loadState = 'error: ' + err;
      notify(err, true);  // the model shown before (if any) stays, and the picker with it
      return;
    }
    current = i;
    if (firstPredictionMs === null) {
      firstPredictionMs = performance.now();  // since navigation start
      performance.mark('dida:first-prediction');
    }
    afterLoad();
    listModels();
    const pairWarning = window.dida.state().explorer?.pair_warning;
    if (pairWarning) notify(`${m.label}: ${pairWarning}`);
    loadState = 'predicting with ' + m.path;
    await coreReady();
    loadState = 'loaded ' + m.path;
    if (engine === 'ort') await setEngine('ort');  // the engine chosen before drives the new model too
  }

  // The walkthrough asks for a method of the pair shown (source-only, dann, dida).
  async function showMethod(method) {
    const m = index.models[current];
    if (!m || m.method === method) return;
    const k = index.models.findIndex((x) => x.method === method && x.source === m.source && x.target === m.target);
    if (k < 0) return notify(`the walkthrough shows ${method}, but no ${method} model of ${m.source} -> ${m.target} is listed`);
    await selectModel(k);
  }

  // The model's training replay: fetched only when asked for (the first visit stays small).
  async function loadReplay() {
    const m = index.models[current];
    if (!m) return;
    const url = `${m.path}/replay.safetensors`;
    if (m.dropped && !files.has(url)) return notify(`${m.label}: drop its replay.safetensors with the bundle to replay its training`, true);
    let bytes;
    try {
      bytes = await getBytes(url);
    } catch (e) {
      return notify(`${m.label}: no training replay (${e.message || e})`, true);
    }
    const p = copyIn(bytes);
    const err = withString(url, (po) => M().UTF8ToString(M()._dida_load_replay(p, bytes.length, po)));
    M()._free(p);
    if (err) notify(err, true);
  }

  // The live view (?run=K, or ?run=K,L,... for runs side by side; the page served by `dida serve
  // RUN ...`): every 2 s it reads each run's status.json and log.jsonl; the first run's newest epoch
  // (RUN/latest/, or its bundle once it is done) becomes the model shown, with the replay so far
  // (replay.jsonl), and the second run's the model beside it. The curves are drawn from the logs:
  // every loss term by the name the log gives it, source-val, the label-free statistics, and
  // target-test, for reporting only.
  const liveIds = [...new Set((params.get('run') || '').split(',').filter((x) => /^\d{1,6}$/.test(x)).map(Number))];
  const live = { runs: [], follow: true, folded: false, busy: false, error: '' };  // folded: the curves hidden (they cover the page's corner)
  const liveEl = document.getElementById('live');
  async function fetchText(url) {
    const r = await fetch(url, { cache: 'no-store' });
    if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
    return r.text();
  }
  const logLines = (text) => text.split('\n').flatMap((l) => {
    try {
      const j = JSON.parse(l);
      return j && typeof j === 'object' && Number.isInteger(j.epoch) && j.epoch >= 1 ? [j] : [];
    } catch { return []; }  // a line being written
  });
  const escapeHtml = (t) => String(t).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  async function startLive() {
    let names = [];
    try {
      names = JSON.parse(await fetchText('runs.json')).runs || [];
    } catch (e) {
      live.error = `no live runs here (${e.message || e}): serve the page with dida serve RUN`;
    }
    for (const id of liveIds) {
      const named = names.find((r) => r.id === id);
      if (!named) { live.error = live.error || `?run=${id}: no such run (dida serve serves ${names.length})`; continue; }
      live.runs.push({ id, name: named.name, source: null, target: null, method: '?', status: null, lines: [], files: [],
                       loadedEpoch: 0, loadedDone: false, model: -1 });
    }
    liveEl.hidden = false;
    await pollLive();
    if (!mainStarted) {  // no epoch yet: the page waits with the curves
      runMain();
      loadState = 'waiting for the first epoch';
    }
    setInterval(() => pollLive().catch((e) => { live.error = String(e.message || e); drawLive(); }), 2000);
  }
  // The files of a model fetched again (they change each epoch).
  const refetch = (m) => bundleUrls(m).slice(0, 2).forEach((u) => files.delete(u));
  async function showRunEpoch(r, beside) {
    const m = index.models[r.model];
    const done = r.status.state === 'done';
    m.path = `runs/${r.id}/${done ? 'bundle' : 'latest'}`;
    refetch(m);
    if (beside) {
      if (current < 0) return;  // beside the first run's model, once there is one
      await compareModel(r.model);
    } else {
      await selectModel(r.model, runMain);
      if (current !== r.model) return;
      if (!r.files.includes('replay.jsonl')) return;  // trained with --replay 0: the curves only
      const [layouts, log] = await Promise.all([fetchText(`runs/${r.id}/replay.jsonl`), fetchText(`runs/${r.id}/log.jsonl`)]);
      const err = withString(layouts, (pl) => withString(log, (pg) => withString(`run ${r.name}`, (po) =>
        M().UTF8ToString(M()._dida_load_run_replay(pl, pg, po)))));
      if (err) notify(err, true);
    }
    r.loadedEpoch = r.status.epoch, r.loadedDone = done;
  }
  // A run's options, once training has written them: the run joins the picker as a model, its newest epoch.
  async function readRunConfig(r) {
    const config = JSON.parse(await fetchText(`runs/${r.id}/config.json`));
    ({ source: r.source, target: r.target } = config.data || {});
    r.method = config.options?.method || '?';
    r.model = index.models.length;
    index.models.push({ name: `live-${r.id}`, label: `live: ${r.name} (${r.method})`, path: `runs/${r.id}/latest`,
                        method: r.method, source: r.source, target: r.target, live: r.id,
                        samples: `samples/${r.source}-${r.target}.safetensors.gz` });
    if (mainStarted) listModels();
  }
  async function pollLive() {
    if (live.busy) return;
    live.busy = true;
    try {
      // Which files each run holds now (dida serve's runs.json): none is asked for before training writes it.
      const listed = JSON.parse(await fetchText('runs.json')).runs || [];
      for (const r of live.runs) {
        try {
          r.files = listed.find((x) => x.id === r.id)?.files || [];
          if (r.model < 0 && r.files.includes('config.json')) await readRunConfig(r);
          if (r.files.includes('status.json')) r.status = JSON.parse(await fetchText(`runs/${r.id}/status.json`));
          if (r.files.includes('log.jsonl')) r.lines = logLines(await fetchText(`runs/${r.id}/log.jsonl`));
          r.error = '';
        } catch (e) {
          r.error = String(e.message || e);
        }
      }
      drawLive();
      if (!live.follow) return;
      for (const [k, r] of live.runs.slice(0, 2).entries()) {
        if (r.model < 0 || !r.status || r.status.epoch < 1) continue;
        const newer = r.status.epoch > r.loadedEpoch || (r.status.state === 'done' && !r.loadedDone);
        if (newer) await showRunEpoch(r, k === 1);
      }
      drawLive();
    } finally {
      live.busy = false;
    }
  }
  // A run's state as said: training (resumed at N), interrupted, diverged, done; "no news" when a
  // training run has not written for a minute (a process killed outright cannot say so).
  function stateOf(r) {
    const s = r.status;
    if (!s) return { cls: 'stale', text: r.error || 'starting (no epoch yet)' };
    const age = Date.now() / 1000 - (s.updated || 0);
    const resumed = s.resumed_at_epoch != null ? `, resumed at epoch ${s.resumed_at_epoch}` : '';
    if (s.state === 'training' && age > 60) return { cls: 'stale', text: `no news for ${Math.round(age)} s (epoch ${s.epoch} of ${s.epochs}${resumed})` };
    return { cls: s.state, text: `${s.state}, epoch ${s.epoch} of ${s.epochs}${resumed}` };
  }
  // What a curve is: the log's own names. Losses first, then the accuracies and statistics.
  function curveNames() {
    const losses = new Set(), others = new Set();
    for (const r of live.runs)
      for (const l of r.lines) {
        Object.keys(l.losses || {}).forEach((n) => losses.add(n));
        Object.keys(l).filter((k) => typeof l[k] === 'number' && /accuracy|confidence|balance/.test(k)).forEach((n) => others.add(n));
      }
    const order = (n) => (n.startsWith('source') ? 0 : n.startsWith('target_train') ? 1 : 2);
    return [...[...losses].map((n) => ({ key: n, loss: true })),
            ...[...others].sort((a, b) => order(a) - order(b)).map((n) => ({ key: n, loss: false }))];
  }
  const COLOURS = ['#6fb7ff', '#ffb45c', '#8fe08f', '#e58fe5'];
  function drawLive() {
    const names = curveNames();
    const head = live.runs.map((r, k) => {
      const st = stateOf(r);
      return `<span class="run"><b style="color:${COLOURS[k % 4]}">${escapeHtml(r.name)}</b> ${escapeHtml(r.method)}, ` +
             `${escapeHtml(r.source ?? "?")} → ${escapeHtml(r.target ?? "?")}: <span class="state-${st.cls}">${escapeHtml(st.text)}</span>` +
             `${k < 2 && r.loadedEpoch ? ` (shown: ${r.loadedDone ? 'the bundle' : 'epoch ' + r.loadedEpoch}${k === 1 ? ', beside' : ''})` : ''}</span>`;
    }).join(' ');
    const curves = names.map(({ key, loss }) => {
      const series = live.runs.map((r) => r.lines.map((l) => (loss ? l.losses?.[key] : l[key])).map((v) => (typeof v === 'number' && isFinite(v) ? v : null)));
      const all = series.flat().filter((v) => v !== null);
      if (!all.length) return '';
      const lo = loss ? Math.min(0, ...all) : 0, hi = loss ? Math.max(...all) : 1, span = hi - lo || 1;
      const maxLen = Math.max(2, ...series.map((s) => s.length));
      const paths = series.map((s, k) => {
        const pts = s.map((v, i) => (v === null ? null : `${(100 * i / (maxLen - 1)).toFixed(1)},${(30 - 28 * (v - lo) / span).toFixed(1)}`)).filter(Boolean);
        return pts.length ? `<polyline fill="none" stroke="${COLOURS[k % 4]}" stroke-width="1.5" vector-effect="non-scaling-stroke" points="${pts.join(' ')}"/>` : '';
      }).join('');
      const last = series.map((s) => s.filter((v) => v !== null).at(-1)).map((v) => (v === undefined ? '–' : v.toPrecision(3))).join(' / ');
      const label = key === 'target_test_accuracy' ? 'target-test (reporting only)' : key.replace(/_accuracy$/, '').replace(/_/g, '-');
      return `<div class="curve${key === 'target_test_accuracy' ? ' reporting' : ''}" data-curve="${escapeHtml(key)}">${escapeHtml(label)} ${last}` +
             `<svg viewBox="0 0 100 32" preserveAspectRatio="none">${paths}</svg></div>`;
    }).join('');
    // Not following: a click shows the newest epoch once.
    const first = live.runs[0], newer = first?.status && first.model >= 0 && first.status.epoch > first.loadedEpoch;
    const button = !live.follow && newer ? ` <button id="live-show">show epoch ${first.status.epoch}</button>` : '';
    liveEl.innerHTML = `<div class="head">${head}<label><input type="checkbox" id="live-follow"${live.follow ? ' checked' : ''}> follow the newest epoch</label>${button}` +
      ` <button id="live-fold">${live.folded ? 'show the curves' : 'hide the curves'}</button></div>` +
      (live.error ? `<div class="state-diverged">${escapeHtml(live.error)}</div>` : '') +
      (live.folded ? '' : `<div class="curves">${curves}</div>`);
    liveEl.querySelector('#live-fold').addEventListener('click', () => { live.folded = !live.folded; drawLive(); });
    liveEl.querySelector('#live-show')?.addEventListener('click', () => {
      showRunEpoch(first, false).then(drawLive).catch((err) => notify(String(err.message || err), true));
    });
    liveEl.querySelector('#live-follow').addEventListener('change', (e) => {
      live.follow = e.target.checked;
      if (live.follow) pollLive().catch((err) => notify(String(err.message || err), true));
    });
  }

  // A second model on the samples shown, its plots under the first's; -1: none.
  async function compareModel(i) {
    const m = index.models[i], shown = index.models[current];
    if (!m || !shown) { M()._dida_close_compare(); return; }
    const urls = bundleUrls(m);
    urls[2] = bundleUrls(shown)[2];  // the samples of the model shown
    const [config, weights, samples] = await Promise.all(urls.map(getBytes));
    const pc = copyIn(config), pw = copyIn(weights), ps = copyIn(samples);
    const err = withString(m.path, (po) =>
      M().UTF8ToString(M()._dida_load_compare(pc, config.length, pw, weights.length, ps, samples.length, po, i)));
    [pc, pw, ps].forEach((p) => M()._free(p));
    if (err) notify(`${m.label}: ${err}`, true);
  }
  // The walkthrough's second model: a method of the pair shown ('' closes it).
  async function compareMethod(method) {
    const m = index.models[current];
    const k = method && m ? index.models.findIndex((x) => x.method === method && x.source === m.source && x.target === m.target) : -1;
    await compareModel(k);
  }

  // ONNX Runtime Web: its script and wasm come from ort/ on this origin, loaded when first chosen.
  // Threads need cross-origin isolation (COOP/COEP); without it ORT runs on one thread.
  let ortLoading = null, engine = 'core';
  const sessions = new Map();
  const ortStatus = (s) => withString(s, (p) => M()._dida_set_ort_status(p));
  function loadOrt() {
    if (!ortLoading) {
      ortLoading = new Promise((resolve, reject) => {
        const s = document.createElement('script');
        s.src = 'ort/ort.wasm.min.js';
        s.onload = () => {
          window.ort.env.wasm.wasmPaths = new URL('ort/', location.href).href;
          window.ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
          resolve(window.ort);
        };
        s.onerror = () => reject(new Error('ort/ort.wasm.min.js could not be loaded'));
        document.head.appendChild(s);
      });
    }
    return ortLoading;
  }
  // An ONNX Runtime Web session for one of a bundle's files: model.onnx (one input: the images) or
  // swap.onnx (content, style -> swap) or decoder.onnx (z_inv, z_spe -> the decoded image).
  async function ortSession(m, file = 'model.onnx') {
    const key = `${m.path}/${file}`;
    if (!sessions.has(key)) {
      const ort = await loadOrt();
      if (m.dropped && !files.has(key))
        throw new Error(`ONNX Runtime Web needs the ${file} of the dropped bundle: drop it with the others`);
      sessions.set(key, getBytes(key).then((bytes) => ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] })));
    }
    return sessions.get(key);
  }
  // The samples as the core prepared them (N x C x S x S), tiled to `batch` images.
  function inputTensor(ort, batch) {
    const [n, c, h, w] = window.dida.state().explorer.input_shape, size = c * h * w;
    const p = M()._dida_input() >> 2, all = M().HEAPF32.slice(p, p + n * size);
    const data = new Float32Array(batch * size);
    for (let i = 0; i < batch; ++i) data.set(all.subarray((i % n) * size, (i % n + 1) * size), i * size);
    return new ort.Tensor('float32', data, [batch, c, h, w]);
  }
  const heapBytes = (t) => copyIn(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  async function runOrt() {
    await coreReady();  // ORT's outputs are compared with the core's on all samples
    ortStatus('loading ONNX Runtime Web');
    const ort = await loadOrt();
    const session = await ortSession(index.models[current]);
    const feeds = { input: inputTensor(ort, window.dida.state().explorer.input_shape[0]) };
    await session.run(feeds);  // warm-up
    const s = performance.now();
    const out = await session.run(feeds);
    const ms = performance.now() - s;
    const [pp, pi, pz] = [out.probs, out.z_inv, out.z_spe].map(heapBytes);
    M()._dida_set_ort_outputs(ms, ort.env.wasm.numThreads, pp, pi, pz);
    [pp, pi, pz].forEach((p) => M()._free(p));
  }
  // swap.onnx on the swap grid's cells: row i's image as content, column j's as style.
  async function ortSwap() {
    const m = index.models[current];
    if (engine !== 'ort' || (m.dropped && !files.has(`${m.path}/swap.onnx`))) return;
    const ort = await loadOrt();
    const session = await ortSession(m, 'swap.onnx');
    const { input_shape: [, c, h, w] } = window.dida.state().explorer;
    // The cells' inputs as the core prepared them (a row's content, a column's style, per cell):
    // rows and columns may be samples or your images.
    const cells = M()._dida_swap_cells(), size = c * h * w;
    if (!cells) return;
    const pc = M()._dida_swap_content() >> 2, ps = M()._dida_swap_style() >> 2;
    const content = M().HEAPF32.slice(pc, pc + cells * size), style = M().HEAPF32.slice(ps, ps + cells * size);
    const dims = [cells, c, h, w];
    const s = performance.now();
    const out = await session.run({ content: new ort.Tensor('float32', content, dims), style: new ort.Tensor('float32', style, dims) });
    const ms = performance.now() - s;
    const ptr = heapBytes(out.swap);
    M()._dida_set_ort_swap(ms, ptr);
    M()._free(ptr);
  }
  // Runs `work` one call at a time; a call while it runs makes it run once more afterwards, with the
  // newest state (the explorer ignores an answer for state that changed meanwhile).
  function oneAtATime(work) {
    let busy = false, again = false;
    return async () => {
      if (busy) { again = true; return; }
      busy = true;
      try {
        do { again = false; await work(); } while (again);
      } finally {
        busy = false;
      }
    };
  }
  // decoder.onnx on the style mixer's row: each row's z_inv with the code slid between two styles'
  // z_spe, as the core prepared them.
  const ortMix = oneAtATime(async () => {
    const m = index.models[current], mix = window.dida.state().explorer.mix;
    if (engine !== 'ort' || !m || !mix || (m.dropped && !files.has(`${m.path}/decoder.onnx`))) return;
    const ort = await loadOrt();
    const session = await ortSession(m, 'decoder.onnx');
    const version = M()._dida_mix_version();
    const [zi, zs] = [[M()._dida_mix_z_inv(), mix.z_inv_shape], [M()._dida_mix_z_spe(), mix.z_spe_shape]].map(([ptr, dims]) => {
      const p = ptr >> 2, size = dims.reduce((a, b) => a * b, 1);
      return new ort.Tensor('float32', M().HEAPF32.slice(p, p + size), dims);
    });
    const s = performance.now();
    const out = await session.run({ z_inv: zi, z_spe: zs });
    const ms = performance.now() - s;
    const ptr = heapBytes(out.pix_rec);
    M()._dida_set_ort_mix(ms, version, ptr);
    M()._free(ptr);
  });
  // model.onnx on your images (the drawing, dropped files): the other engine's answer beside the
  // core's.
  const ortUser = oneAtATime(async () => {
    const m = index.models[current];
    if (!m || (m.dropped && !files.has(`${m.path}/model.onnx`))) return;
    const ort = await loadOrt();
    const session = await ortSession(m);
    const version = M()._dida_user_version(), count = M()._dida_user_count();
    if (!count) return;
    const [, c, h, w] = window.dida.state().explorer.input_shape, size = c * h * w;
    const p = M()._dida_user_input() >> 2;
    const out = await session.run({ input: new ort.Tensor('float32', M().HEAPF32.slice(p, p + count * size), [count, c, h, w]) });
    const ptr = heapBytes(out.probs);
    M()._dida_set_ort_user(count, version, ptr);
    M()._free(ptr);
  });

  async function setEngine(name) {
    engine = name === 'ort' ? 'ort' : 'core';
    if (engine === 'ort') {
      try {
        await runOrt();
      } catch (e) {
        engine = 'core';
        ortStatus('failed: ' + (e.message || e));
        notify('ONNX Runtime Web: ' + (e.message || e), true);
        return;
      }
    }
    // With ORT chosen, the explorer asks for swap.onnx's cells itself (window.dida.ortSwap) whenever
    // the cells it shows change.
    M()._dida_use_engine(engine === 'ort' ? 1 : 0);
  }

  // A notice at the bottom of the page: what a dropped file did, or why it was refused.
  const noticeEl = document.getElementById('notice');
  let lastNotice = '', noticeTimer = 0;
  function notify(text, isError = false) {
    lastNotice = text;
    noticeEl.textContent = text;
    noticeEl.className = isError ? 'error' : '';
    noticeEl.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { noticeEl.hidden = true; }, isError ? 15000 : 6000);
  }
  noticeEl.addEventListener('click', () => { noticeEl.hidden = true; });

  // Files dropped on the page: a bundle (config.json + model.safetensors; model.onnx, swap.onnx, decoder.onnx optional) joins
  // the model picker; a sample set (dida data samples) replaces the samples. Anything else is refused
  // with a message; the core's checks name the file and the problem.
  const isGzip = (b) => b.length > 2 && b[0] === 0x1f && b[1] === 0x8b;
  function safetensorsFormat(b) {
    try {
      const n = Number(new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true));
      if (n <= 0 || n > b.length - 8 || n > 1e8) return null;
      return JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + n)))?.__metadata__?.format || '';
    } catch { return null; }
  }
  // PNG, JPEG, GIF, BMP, WebP by their first bytes: your images, predicted and placed in the plots.
  const isImage = (b) => (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) || (b[0] === 0xff && b[1] === 0xd8) ||
    (b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) || (b[0] === 0x42 && b[1] === 0x4d);
  // Decoded by the browser (any format it reads), handed to the core as RGBA pixels.
  async function decodeImage(name, b) {
    let bitmap;
    try {
      bitmap = await createImageBitmap(new Blob([b]));
    } catch {
      throw new Error(`${name}: not a decodable image (drop a PNG or JPEG image)`);
    }
    const { width, height } = bitmap;
    if (width * height > 8192 * 8192) throw new Error(`${name}: ${width} x ${height} pixels is too large`);
    const c = document.createElement('canvas');
    c.width = width, c.height = height;
    const g = c.getContext('2d');
    g.drawImage(bitmap, 0, 0);
    bitmap.close();
    return { width, height, rgba: new Uint8Array(g.getImageData(0, 0, width, height).data.buffer) };
  }
  async function addUserImages(images) {
    const added = [], refused = [];
    for (const [name, b] of images) {
      let img;
      try {
        img = await decodeImage(name, b);
      } catch (e) {
        refused.push(e.message);
        continue;
      }
      const p = copyIn(img.rgba);
      const err = withString(name, (pn) => M().UTF8ToString(M()._dida_add_user_rgba(pn, p, img.width, img.height)));
      M()._free(p);
      (err ? refused : added).push(err || name);
    }
    if (refused.length) notify(refused.join('; '), true);
    else if (added.length) notify(`${added.join(', ')}: predicted and placed in the plots (a star: yours)`);
  }
  let drops = 0;
  async function handleDrop(list) {
    const got = { other: [], images: [] };
    for (const f of list) {
      const b = new Uint8Array(await f.arrayBuffer());
      if (isImage(b) || (f.type && f.type.startsWith('image/'))) got.images.push([f.name, b]);
      else if (f.name.endsWith('.json')) got.config = [f.name, b];
      else if (f.name.endsWith('swap.onnx')) got.swap = [f.name, b];
      else if (f.name.endsWith('decoder.onnx')) got.decoder = [f.name, b];
      else if (f.name.endsWith('replay.safetensors')) got.replay = [f.name, b];
      else if (f.name.endsWith('.onnx')) got.onnx = [f.name, b];
      else if (isGzip(b) || safetensorsFormat(b) === 'dida-samples') got.samples = [f.name, b];
      else if (safetensorsFormat(b) !== null) got.weights = [f.name, b];
      else got.other.push(f.name);
    }
    const what = 'drop PNG or JPEG images, a bundle (config.json and model.safetensors; model.onnx, swap.onnx and decoder.onnx optional) or a sample set';
    if (got.other.length) return notify(`${got.other.join(', ')}: not an image nor a dida file: ${what}`, true);
    if (got.images.length) {
      if (current < 0) return notify('no model is loaded to read your images: pick one first', true);
      await addUserImages(got.images);
      if (!got.config && !got.weights && !got.samples) return;
    }
    if (Boolean(got.config) !== Boolean(got.weights))
      return notify(`${(got.config || got.weights)[0]}: a bundle needs config.json and model.safetensors together: ${what}`, true);
    if (!got.config && !got.samples) return notify(`nothing to load: ${what}`, true);
    const id = `dropped-${++drops}`;
    const keep = (suffix, entry) => { const p = Promise.resolve(entry[1]); files.set(`${id}/${suffix}`, p); return `${id}/${suffix}`; };
    if (got.samples && !got.config) {
      const before = droppedSamples;
      droppedSamples = keep('samples', got.samples);
      await selectModel(Math.max(current, 0));
      const warning = window.dida.state().explorer?.pair_warning;
      if (loadState.startsWith('loaded')) notify(`${got.samples[0]}: sample set loaded` + (warning ? `; ${warning}` : ''));
      else droppedSamples = before;
      return;
    }
    keep('config.json', got.config);
    keep('model.safetensors', got.weights);
    if (got.onnx) keep('model.onnx', got.onnx);
    if (got.swap) keep('swap.onnx', got.swap);
    if (got.decoder) keep('decoder.onnx', got.decoder);
    if (got.replay) keep('replay.safetensors', got.replay);
    const entry = { name: id, label: `dropped: ${got.weights[0]}`, path: id, dropped: true,
                    ownSamples: got.samples ? keep('samples', got.samples) : undefined,
                    samples: index.models[Math.max(current, 0)]?.samples };
    index.models.push(entry);
    try {
      await selectModel(index.models.length - 1);
    } catch (e) {
      loadState = 'error: ' + (e.message || e);
      notify(String(e.message || e), true);
    }
    if (loadState.startsWith('loaded')) notify(`${got.weights[0]}: model loaded and added to the picker`);
    else {  // refused: no entry stays in the picker for a model that is not there
      index.models.pop();
      if (current >= 0) listModels();
    }
  }
  window.addEventListener('dragover', (e) => { e.preventDefault(); e.dataTransfer.dropEffect = 'copy'; });
  window.addEventListener('drop', (e) => {
    e.preventDefault();
    if (!ready || !index.models) return notify('dida is still starting: drop again in a moment', true);
    handleDrop([...e.dataTransfer.files]).catch((err) => notify(String(err.message || err), true));
  });

  // Touch: Emscripten's GLFW takes no coordinates from touch events, so a touch becomes the mouse
  // events it understands, at the touch's position.
  const canvas = document.getElementById('canvas');
  function touchToMouse(e) {
    const t = e.changedTouches[0];
    if (!t) return;
    e.preventDefault();
    e.stopImmediatePropagation();
    const opts = { clientX: t.clientX, clientY: t.clientY, screenX: t.screenX, screenY: t.screenY, button: 0,
                   bubbles: true, cancelable: true, view: window };
    canvas.dispatchEvent(new MouseEvent('mousemove', opts));
    if (e.type === 'touchstart') canvas.dispatchEvent(new MouseEvent('mousedown', { ...opts, buttons: 1 }));
    if (e.type === 'touchend' || e.type === 'touchcancel') canvas.dispatchEvent(new MouseEvent('mouseup', opts));
  }
  for (const type of ['touchstart', 'touchmove', 'touchend', 'touchcancel'])
    window.addEventListener(type, (e) => { if (e.target === canvas) touchToMouse(e); }, { capture: true, passive: false });

  // "choose images..." in the drawing pad's window: a file chooser for your images.
  const chooser = document.createElement('input');
  chooser.type = 'file';
  chooser.accept = 'image/png,image/jpeg,image/gif,image/bmp';
  chooser.multiple = true;
  chooser.hidden = true;
  chooser.addEventListener('change', () => {
    handleDrop([...chooser.files]).catch((err) => notify(String(err.message || err), true));
    chooser.value = '';
  });
  document.body.appendChild(chooser);

  window.dida = {
    ready: () => ready,
    showMethod: (method) => showMethod(method).catch((e) => notify(String(e.message || e), true)),
    loadReplay: () => loadReplay().catch((e) => notify(String(e.message || e), true)),
    compareModel: (i) => compareModel(i).catch((e) => notify(String(e.message || e), true)),
    compareMethod: (method) => compareMethod(method).catch((e) => notify(String(e.message || e), true)),
    openChapter: (k) => M()._dida_open_chapter(k),
    // The style mixer: t in [0, 1]; columns a and b of the swap grid (0-based) as its two styles.
    setMix: (t) => M()._dida_set_mix(t),
    setMixColumns: (a, b) => M()._dida_set_mix_columns(a, b),
    chooseImages: () => chooser.click(),
    ortUser: () => ortUser().catch((e) => notify('ONNX Runtime Web (your images): ' + (e.message || e), true)),
    // The app's state: version, build, frames, frame timings, canvas size, the explorer's state.
    state: () => JSON.parse(M().UTF8ToString(M()._dida_state_json())),
    loadState: () => loadState,
    // The live view: each run's state, the epochs its log holds, the curves drawn, the epoch shown.
    live: () => ({ error: live.error, follow: live.follow, curves: [...liveEl.querySelectorAll('.curve')].map((c) => c.dataset.curve),
                   runs: live.runs.map((r) => ({ id: r.id, name: r.name, state: r.status?.state ?? null, epoch: r.status?.epoch ?? 0,
                                                 epochs: r.status?.epochs ?? 0, logged: r.lines.length, shown_epoch: r.loadedEpoch,
                                                 shown_done: r.loadedDone })) }),
    models: () => index.models,
    current: () => current,
    firstPredictionMs: () => firstPredictionMs,
    notice: () => lastNotice,
    dropFiles: (list) => handleDrop(list),
    selectModel: (i) => selectModel(i).catch((e) => notify(String(e.message || e), true)),
    setEngine,
    ortSwap: () => ortSwap().catch((e) => notify('ONNX Runtime Web (swap.onnx): ' + (e.message || e), true)),
    ortMix: () => ortMix().catch((e) => notify('ONNX Runtime Web (decoder.onnx): ' + (e.message || e), true)),
    setProjection: (name) => M()._dida_set_projection(name === 'tsne' ? 1 : 0),
    thumbnail: (i) => JSON.parse(M().UTF8ToString(M()._dida_thumbnail_json(i))),
    // Benchmarks: mean ms of one forward pass over `batch` images (the samples, tiled), `reps` calls.
    benchCore: (batch, reps) => M()._dida_bench_core(batch, reps),
    benchOrt: async (batch, reps) => {
      const ort = await loadOrt();
      const session = await ortSession(index.models[current]);
      const feeds = { input: inputTensor(ort, batch) };
      await session.run(feeds);  // warm-up
      const start = performance.now();
      for (let r = 0; r < reps; ++r) await session.run(feeds);
      const ms = (performance.now() - start) / reps;
      return { ms, threads: ort.env.wasm.numThreads };
    },
  };
})();
