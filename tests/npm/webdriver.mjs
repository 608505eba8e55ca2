// Just enough of the W3C WebDriver protocol to open a page and run a script in it, spoken to
// chromedriver and geckodriver themselves (the drivers the wasm-bindgen browser suite uses), so
// both browsers are driven the same way and nothing is downloaded.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

const BROWSERS = {
  chrome: {
    driver: () => process.env.CHROMEDRIVER || 'chromedriver',
    args: (port) => [`--port=${port}`],
    capabilities: () => ({
      browserName: 'chrome',
      'goog:chromeOptions': {
        binary: process.env.CHROMIUM || '/usr/bin/chromium',
        // No background connections: this machine's closed network refuses them, noisily.
        args: ['--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--disable-background-networking',
          '--disable-component-update', '--disable-sync', '--no-first-run'],
      },
    }),
  },
  firefox: {
    driver: () => process.env.GECKODRIVER || 'geckodriver',
    args: (port) => ['--port', String(port), '--host', '127.0.0.1'],
    capabilities: () => ({ browserName: 'firefox', 'moz:firefoxOptions': { args: ['-headless'] } }),
  },
};

/** A browser session: `open(url)`, `run(fn, arg)` (an async function evaluated in the page,
 *  its result JSON), `close()`. */
export async function launch(name) {
  const browser = BROWSERS[name];
  const port = await freePort();
  const driver = spawn(browser.driver(), browser.args(port), { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  driver.stderr.on('data', (d) => { log += d; });
  driver.on('error', (e) => { log += `could not start ${browser.driver()}: ${e.message}`; });
  const base = `http://127.0.0.1:${port}`;
  const call = async (method, path, body) => {
    const response = await fetch(base + path, { method, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
    const json = await response.json();
    if (!response.ok) throw new Error(`${name} WebDriver ${method} ${path}: ${json.value?.message ?? response.status}`);
    return json.value;
  };
  let sessionPath;
  try {
    for (let i = 0; ; i++) {
      if (driver.exitCode !== null) throw new Error(`${browser.driver()} exited with ${driver.exitCode}`);
      try {
        if ((await call('GET', '/status')).ready !== undefined) break;
      } catch (e) {
        if (i > 100) throw new Error(`${browser.driver()} did not start: ${e.message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const { sessionId } = await call('POST', '/session', { capabilities: { alwaysMatch: browser.capabilities() } });
    sessionPath = `/session/${sessionId}`;
    await call('POST', `${sessionPath}/timeouts`, { script: 300000, pageLoad: 60000 });
  } catch (e) {
    // A driver left running would keep the test process alive: fail, do not hang.
    if (sessionPath) await call('DELETE', sessionPath).catch(() => {});
    driver.kill();
    throw new Error(`${e.message}\n${log}`);
  }
  const session = sessionPath;
  return {
    name,
    open: (url) => call('POST', `${session}/url`, { url }),
    /** Runs `fn(arg)` in the page and resolves to its result; a rejection comes back as one. */
    async run(fn, arg) {
      const script = `const done = arguments[arguments.length - 1];
        (${fn})(${JSON.stringify(arg)}).then((value) => done({ value }), (e) => done({ error: String(e?.stack ?? e) }));`;
      const { value, error } = await call('POST', `${session}/execute/async`, { script, args: [] });
      if (error) throw new Error(`in ${name}: ${error}`);
      return value;
    },
    async close() {
      await call('DELETE', session).catch(() => {});
      driver.kill();
    },
  };
}
