// A stock Vite production build: nothing webinfer-specific beyond the headers that make the
// page cross-origin isolated (the threads build needs them), which the test turns on or off.
import { defineConfig } from 'vite';

const isolated = process.env.WEBINFER_ISOLATED === '1';

const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  preview: { host: '127.0.0.1' },
  plugins: [{
    // On every response, 304s included: `preview.headers` leaves them off a 304, and WebKit
    // checks a revalidated worker script against the 304's headers, so the session's second
    // worker would be refused on an isolated page.
    name: 'cross-origin-isolation',
    configurePreviewServer(server) {
      if (isolated) {
        server.middlewares.use((req, res, next) => {
          for (const [name, value] of Object.entries(ISOLATION)) res.setHeader(name, value);
          next();
        });
      }
    },
  }],
});
