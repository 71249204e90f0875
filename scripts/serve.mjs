#!/usr/bin/env node
// A small static server for the built site, on 127.0.0.1 only.
// It sets COOP/COEP so ONNX Runtime Web may use threads locally; the site also works on any plain
// static host without them (single-threaded). Usage: node scripts/serve.mjs [DIR] [--port N] [--no-isolation]
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const MIME = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json', '.wasm': 'application/wasm', '.png': 'image/png',
  '.jpg': 'image/jpeg', '.svg': 'image/svg+xml', '.onnx': 'application/octet-stream',
  '.safetensors': 'application/octet-stream', '.md': 'text/markdown; charset=utf-8',
  '.ico': 'image/x-icon', '.txt': 'text/plain; charset=utf-8',
};

export function startServer({ root, port = 8080, host = '127.0.0.1', isolation = true, quiet = true }) {
  const base = resolve(root);
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
    let file = normalize(join(base, path));
    if (file !== base && !file.startsWith(base + sep)) {
      res.writeHead(403).end('forbidden');
      return;
    }
    try {
      if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
      const body = await readFile(file);
      const headers = { 'Content-Type': MIME[extname(file)] || 'application/octet-stream',
                        'Cache-Control': 'no-cache' };
      if (isolation) {
        headers['Cross-Origin-Opener-Policy'] = 'same-origin';
        headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
      }
      res.writeHead(200, headers).end(req.method === 'HEAD' ? undefined : body);
      if (!quiet) console.log(`200 ${path}`);
    } catch {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      if (!quiet) console.log(`404 ${path}`);
    }
  });
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolvePromise(server));
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    console.log('usage: node scripts/serve.mjs [DIR] [--port N] [--no-isolation]\n' +
                'Serves DIR (default build/wasm/site) on http://127.0.0.1:PORT (default $PORT or 8080).');
    process.exit(0);
  }
  const portIndex = args.indexOf('--port');
  const port = Number(portIndex >= 0 ? args[portIndex + 1] : process.env.PORT || 8080);
  const positional = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--port');
  const root = positional[0] || 'build/wasm/site';
  try {
    await stat(join(root, 'index.html'));
  } catch {
    console.error(`serve: ${root}/index.html not found: build the site first (make site)`);
    process.exit(1);
  }
  try {
    const server = await startServer({ root, port, isolation: !args.includes('--no-isolation') });
    console.log(`dida demo: serving ${root} on http://127.0.0.1:${port}/  (Ctrl-C stops)`);
    const stop = () => { server.close(() => process.exit(0)); setTimeout(() => process.exit(0), 500); };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  } catch (e) {
    console.error(`serve: cannot listen on 127.0.0.1:${port}: ${e.code || e.message}` +
                  (e.code === 'EADDRINUSE' ? ' (port in use: set PORT=...)' : ''));
    process.exit(1);
  }
}
