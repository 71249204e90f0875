// Starts `dida serve` (the one server of `make demo`, `make serve` and the live view) from node, for
// the browser tests and the benchmarks: the site, and run folders read-only, on a free port.
//   const server = await startServer({ root, runs, isolation }); ... server.origin ...; await server.close();
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
export const DIDA = process.env.DIDA_CLI || join(ROOT, 'build/native/bin/dida');

export function startServer({ root, runs = [], port = 0, isolation = true }) {
  const args = ['serve', '--site', root, '--port', String(port), '--quiet', ...(isolation ? [] : ['--no-isolation']), ...runs];
  const child = spawn(DIDA, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise((r) => child.once('exit', r));
  return new Promise((done, fail) => {
    const onData = (d) => {
      output += d;
      const m = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(output);
      if (!m) return;
      child.stdout.off('data', onData);
      const origin = `http://127.0.0.1:${m[1]}`;
      done({ origin, port: Number(m[1]), output: () => output,
             close: async () => { if (child.exitCode === null) child.kill('SIGTERM'); await exited; } });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d) => { output += d; });
    child.once('error', (e) => fail(new Error(`cannot start ${DIDA} (build it: make native): ${e.message}`)));
    exited.then((code) => fail(new Error(`dida serve exited (${code}): ${output}`)));
  });
}
