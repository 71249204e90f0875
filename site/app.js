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
    },
    onAbort: (what) => showError(String(what)),
  };

  window.dida = {
    ready: () => ready,
    // The app's state: version, core check, clicks, button rectangle (CSS pixels), frames.
    state: () => JSON.parse(window.Module.UTF8ToString(window.Module._dida_state_json())),
  };
})();
