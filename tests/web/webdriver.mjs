// Just enough of the W3C WebDriver protocol to open a page, run a script in it and pick a file,
// spoken to each browser's own driver (chromedriver, geckodriver, WebKitWebDriver: the drivers
// the wasm-bindgen browser suite uses), so every browser is driven the same way and nothing is
// downloaded. Playwright drives only its own patched WebKit, which no registry here serves.
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
  // WebKitGTK: WebKitWebDriver starts its MiniBrowser (`--automation`), a GTK window, so it runs
  // on a virtual X display of its own (xvfb-run -a picks a free one).
  webkit: {
    driver: () => 'xvfb-run',
    args: (port) => ['-a', '-s', '-screen 0 1280x1024x24', process.env.WEBKITWEBDRIVER || 'WebKitWebDriver', `--port=${port}`],
    capabilities: () => ({}),
  },
};

/** A browser session ('chrome', 'firefox' or 'webkit'; options: `env`): `open(url)`, `reload()`, `run(fn, arg)`
 *  (an async function evaluated in the page, its result JSON), `type(selector, text)`,
 *  `click(selector)`, `close()`. */
export async function launch(name, { env = {} } = {}) {
  const browser = BROWSERS[name];
  const port = await freePort();
  // Its own process group, so that stopping it also stops what it started (xvfb-run's Xvfb).
  // `env` reaches the driver and the browser it starts (JSC_* options, for WebKit).
  const driver = spawn(browser.driver(), browser.args(port), { stdio: ['ignore', 'ignore', 'pipe'], detached: true, env: { ...process.env, ...env } });
  const stop = () => { try { process.kill(-driver.pid, 'SIGTERM'); } catch { /* already gone */ } };
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
  let sessionPath, sessionId, capabilities;
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
    ({ sessionId, capabilities } = await call('POST', '/session', { capabilities: { alwaysMatch: browser.capabilities() } }));
    sessionPath = `/session/${sessionId}`;
    await call('POST', `${sessionPath}/timeouts`, { script: 300000, pageLoad: 60000 });
  } catch (e) {
    // A driver left running would keep the test process alive: fail, do not hang.
    if (sessionPath) await call('DELETE', sessionPath).catch(() => {});
    stop();
    throw new Error(`${e.message}\n${log}`);
  }
  const session = sessionPath;
  const element = async (selector) => Object.values(await call('POST', `${session}/element`, { using: 'css selector', value: selector }))[0];
  return {
    name,
    /** What the browser says it is (browserName, browserVersion, ...). */
    capabilities,
    open: (url) => call('POST', `${session}/url`, { url }),
    reload: () => call('POST', `${session}/refresh`, {}),
    /** Types `text` into the element: for a file input, the path of the file to pick. */
    type: async (selector, text) => call('POST', `${session}/element/${await element(selector)}/value`, { text }),
    click: async (selector) => call('POST', `${session}/element/${await element(selector)}/click`, {}),
    /** Runs `fn(arg)` in the page and resolves to its result; a rejection comes back as one.
     *  (The message is sent apart from the stack: JavaScriptCore's stack leaves it out.) */
    async run(fn, arg) {
      const script = `const done = arguments[arguments.length - 1];
        Promise.resolve(${JSON.stringify(arg)}).then(${fn}).then((value) => done({ value }), (e) => done({ error: e instanceof Error ? e.name + ': ' + e.message + '\\n' + e.stack : String(e) }));`;
      const { value, error } = await call('POST', `${session}/execute/async`, { script, args: [] });
      if (error) throw new Error(`in ${name}: ${error}`);
      return value;
    },
    async close() {
      await call('DELETE', session).catch(() => {});
      stop();
    },
  };
}
