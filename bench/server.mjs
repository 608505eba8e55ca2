// The benchmark's HTTP server: the bench page, webinfer's package, onnxruntime-web's dist and
// the models, all same-origin, with COOP/COEP so the page is cross-origin isolated (what
// onnxruntime-web's multi-threaded mode needs). Models and runtimes are served with long-lived
// caching, as a CDN would, so the warm start-up measures what a returning visitor gets.
import { createServer } from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import path from 'node:path';

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

/** `mounts` maps URL prefixes ('/pkg/') to directories. Resolves to { server, url, requests }. */
export function serve(mounts) {
  const requests = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    requests.push(url.pathname);
    const prefix = Object.keys(mounts).find((p) => url.pathname.startsWith(p));
    const file = prefix && path.join(mounts[prefix], decodeURIComponent(url.pathname.slice(prefix.length)));
    let stat;
    try {
      if (!file || !file.startsWith(mounts[prefix])) throw new Error('outside');
      stat = statSync(file);
      if (!stat.isFile()) throw new Error('not a file');
    } catch {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'Content-Length': stat.size,
      'Cache-Control': prefix === '/page/' ? 'no-cache' : 'public, max-age=31536000, immutable',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
    });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, requests, url: `http://127.0.0.1:${server.address().port}` })));
}
