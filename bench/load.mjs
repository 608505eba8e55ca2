// Load on the API server (webinfer-server, as the slug runs it): wrk on loopback against the
// static wasm (brotli, the biggest asset) and /api/model, bounded in time. Reports throughput,
// latency percentiles and errors (non-2xx/3xx responses, socket errors).
import { execFile, spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

// Asynchronous on purpose: the server logs every request to its stdout pipe, which this process
// must keep draining while wrk runs, or the server would block on a full pipe.
const run = promisify(execFile);

function parseWrk(text) {
  const num = (re) => {
    const m = text.match(re);
    return m ? Number(m[1]) : 0;
  };
  const ms = (label) => {
    const m = text.match(new RegExp(`^\\s*${label}\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm'));
    if (!m) return null;
    return Number(m[1]) * { us: 1e-3, ms: 1, s: 1e3 }[m[2]];
  };
  const socket = text.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  return {
    requests: num(/(\d+) requests in/),
    requestsPerSec: num(/Requests\/sec:\s+([\d.]+)/),
    p50Ms: ms('50%'),
    p90Ms: ms('90%'),
    p99Ms: ms('99%'),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
    socketErrors: socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

async function startServer(root) {
  const site = path.join(root, 'target/site');
  const proc = spawn(path.join(root, 'target/release/webinfer-server'), [], {
    env: { PORT: '0', WEBINFER_CDN_URL: 'https://cdn.example.com/models/', WEBINFER_SITE_DIR: site,
      WEBINFER_MANIFEST: path.join(root, 'target/demo-model/efficientnet-lite0.manifest.json') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on http:\/\/0\.0\.0\.0:(\d+)/);
      if (m) resolve(Number(m[1]));
    });
    proc.on('exit', (code) => reject(new Error(`webinfer-server exited (${code}) before listening`)));
  });
  proc.stdout.resume(); // one log line per request: keep the pipe drained
  return { proc, base: `http://127.0.0.1:${port}` };
}

/** `seconds` of load per endpoint, `connections` concurrent, 2 wrk threads. */
export async function loadTest(root, { seconds, connections = 32 }) {
  // `wrk --version` prints its banner and exits 1.
  const version = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  const out = { tool: `${version.stdout}${version.stderr}`.split('\n')[0].trim(), seconds, connections, endpoints: {} };
  const build = readdirSync(path.join(root, 'target/site/assets'))[0];
  const server = await startServer(root);
  try {
    for (const [name, url, headers] of [
      ['wasm runtime (brotli)', `/assets/${build}/pkg/webinfer_bg.wasm`, ['-H', 'Accept-Encoding: br']],
      ['/api/model', '/api/model', []],
    ]) {
      const args = ['-t2', `-c${connections}`, `-d${seconds}s`, '--latency', ...headers, server.base + url];
      const { stdout: text } = await run('wrk', args, { encoding: 'utf8' });
      out.endpoints[name] = { command: `wrk ${args.join(' ').replace(server.base, 'http://127.0.0.1:PORT').replace('Accept-Encoding: br', "'Accept-Encoding: br'")}`, ...parseWrk(text) };
      console.log(`load ${name}: ${out.endpoints[name].requestsPerSec} req/s, p99 ${out.endpoints[name].p99Ms} ms, errors ${out.endpoints[name].non2xx + out.endpoints[name].socketErrors}`);
    }
  } finally {
    const exited = new Promise((resolve) => server.proc.on('exit', resolve));
    server.proc.kill('SIGTERM');
    out.exitCodeAfterSigterm = await exited;
  }
  return out;
}
