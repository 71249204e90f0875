// `dida serve`: the site and the files a page reads from run folders, read-only, and nothing else.
// Each request is sent as raw HTTP, so its target reaches the server exactly as written here (a
// client library would normalise "..", which an attacker's does not).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(new URL('.', import.meta.url).pathname, '../..');
const DIDA = process.env.DIDA_CLI || join(ROOT, 'build/native/bin/dida');

// One request on its own connection; resolves to { status, headers, body }.
function request(port, method, target, body = '') {
  return new Promise((done, fail) => {
    const socket = net.connect(port, '127.0.0.1', () => {  // written, not ended: the server closes
      socket.write(`${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n` +
                 `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    });
    const chunks = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', fail);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const head = text.slice(0, text.indexOf('\r\n\r\n')).split('\r\n');
      const headers = Object.fromEntries(head.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      done({ status: Number(head[0].split(' ')[1]), headers, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
  });
}

// Starts `dida serve` on a free port; resolves to { port, child, output() }.
function startServe(args) {
  return new Promise((done, fail) => {
    const child = spawn(DIDA, ['serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      if (m) done({ port: Number(m[1]), child, output: () => out + err });
    });
    child.stderr.on('data', (d) => { err += d; });
    child.on('exit', (code) => fail(new Error(`dida serve exited ${code}: ${out}${err}`)));
  });
}

function fixture() {
  const dir = mkdtempSync(join(os.tmpdir(), 'dida-serve-'));
  const site = join(dir, 'site'), runA = join(dir, 'run-a'), runB = join(dir, 'run-b');
  mkdirSync(join(site, 'models'), { recursive: true });
  writeFileSync(join(site, 'index.html'), '<!doctype html><title>page</title>');
  writeFileSync(join(site, 'models', 'index.json'), '{"models":[]}');
  writeFileSync(join(dir, 'secret.txt'), 'SECRET outside the roots');
  symlinkSync(join(dir, 'secret.txt'), join(site, 'escape.txt'));           // a link out of the site
  for (const run of [runA, runB]) {
    mkdirSync(join(run, 'latest'), { recursive: true });
    mkdirSync(join(run, 'bundle'), { recursive: true });
    writeFileSync(join(run, 'log.jsonl'), `{"epoch":1,"run":"${run}"}\n`);
    writeFileSync(join(run, 'status.json'), '{"state":"training","epoch":1}');
    writeFileSync(join(run, 'checkpoint.pt'), 'weights and optimiser state');
    writeFileSync(join(run, 'latest', 'model.safetensors'), 'tensors');
  }
  symlinkSync(join(dir, 'secret.txt'), join(runA, 'replay.jsonl'));        // an allowed name, but a link
  symlinkSync(join(runB, 'bundle'), join(runA, 'bundle', 'config.json'));  // a link to another run's folder
  return { dir, site, runA, runB };
}

function snapshot(dir) {  // every file's name, size and bytes under dir
  const out = {};
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[p] = e.isSymbolicLink() ? 'link' : `${statSync(p).size}:${readFileSync(p, 'latin1')}`;
    }
  };
  walk(dir);
  return out;
}

test('dida serve: the site and a run\'s page files, read-only; traversal, links, other files and other methods refused', async () => {
  const f = fixture();
  const before = snapshot(f.dir);
  const { port, child, output } = await startServe(['--site', f.site, '--quiet', f.runA, f.runB]);
  try {
    const ok = async (target, contains, type) => {
      const r = await request(port, 'GET', target);
      assert.equal(r.status, 200, `${target}: ${r.body}`);
      assert.ok(r.body.includes(contains), `${target}: ${r.body}`);
      if (type) assert.match(r.headers['content-type'], type);
      assert.equal(r.headers['cross-origin-embedder-policy'], 'require-corp');
      return r;
    };
    await ok('/', 'page', /text\/html/);
    await ok('/models/index.json', 'models', /application\/json/);
    await ok('/runs/0/log.jsonl', 'run-a');
    await ok('/runs/1/log.jsonl?t=5', 'run-b');  // a query (the page's cache-buster) is ignored
    await ok('/runs/0/status.json', 'training');
    await ok('/runs/1/latest/model.safetensors', 'tensors');
    const runs = JSON.parse((await ok('/runs.json', 'runs')).body).runs;
    assert.deepEqual(runs.map((r) => r.name), ['run-a', 'run-b']);
    // HEAD: the headers of GET, no body.
    const head = await request(port, 'HEAD', '/runs/0/log.jsonl');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');

    const refused = {
      '/../secret.txt': 400, '/%2e%2e/secret.txt': 400, '/models/..%2f..%2fsecret.txt': 400,
      '/runs/0/..%2fcheckpoint.pt': 400, '/runs/0%2flog.jsonl': 400, '/runs/0/%2e%2e/%2e%2e/secret.txt': 400,
      '/models\\..\\..\\secret.txt': 400, '/runs/0/log.jsonl%00.png': 400, '/a%zz': 400, 'runs/0/log.jsonl': 400,
      '/escape.txt': 403,                // a link in the site, out of it
      '/runs/0/replay.jsonl': 403,       // a name a page reads, but a link
      '/runs/0/bundle/config.json': 403, // a link to another run's folder
      '/runs/0/checkpoint.pt': 404,      // a run's file a page does not read
      '/runs/0/latest': 404, '/runs/0/': 404, '/runs/0': 404,
      '/runs/2/log.jsonl': 404, '/runs/00/log.jsonl': 404, '/runs/-1/log.jsonl': 404, '/runs/x/log.jsonl': 404,
      '/nothing.html': 404,
    };
    for (const [target, status] of Object.entries(refused)) {
      const r = await request(port, 'GET', target);
      assert.equal(r.status, status, `${target}: ${r.status} ${r.body}`);
      assert.ok(!r.body.includes('SECRET') && !r.body.includes('weights'), `${target} leaked: ${r.body}`);
    }
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const r = await request(port, method, '/runs/0/log.jsonl', 'x');
      assert.equal(r.status, 405, `${method}: ${r.status}`);
      assert.equal(r.headers.allow, 'GET, HEAD');
    }
  } finally {
    child.kill('SIGINT');
    await new Promise((r) => child.once('exit', r));
  }
  assert.equal(child.exitCode, 0, output());
  assert.deepEqual(snapshot(f.dir), before, 'serving and stopping changed nothing of the site or the runs');
  rmSync(f.dir, { recursive: true, force: true });
});

test('dida serve: a missing site, a run that is not a folder and a port in use are refused with one line', async () => {
  const f = fixture();
  const run = (args) => new Promise((done) => {
    const child = spawn(DIDA, ['serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d) => { text += d; });
    child.stderr.on('data', (d) => { text += d; });
    child.on('exit', (code) => done({ code, text }));
  });
  let r = await run(['--site', join(f.dir, 'nowhere'), '--port', '0']);
  assert.equal(r.code, 1);
  assert.match(r.text, /no built site at .*nowhere \(build it with `make site`, or give --site DIR\)/);
  r = await run(['--site', f.site, '--port', '0', join(f.runA, 'log.jsonl')]);
  assert.equal(r.code, 1);
  assert.match(r.text, /log\.jsonl: not a run folder/);
  const { port, child } = await startServe(['--site', f.site, '--quiet']);
  try {
    r = await run(['--site', f.site, '--port', String(port)]);
    assert.equal(r.code, 1);
    assert.match(r.text, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}`));
  } finally {
    child.kill('SIGTERM');
    await new Promise((res) => child.once('exit', res));
  }
  r = await run(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.text, /--host/);
  rmSync(f.dir, { recursive: true, force: true });
});
