// A stock Vite production build: nothing webinfer-specific beyond the headers that make the
// page cross-origin isolated (the threads build needs them), which the test turns on or off.
import { defineConfig } from 'vite';

const isolated = process.env.WEBINFER_ISOLATED === '1';

export default defineConfig({
  preview: {
    host: '127.0.0.1',
    headers: isolated
      ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' }
      : {},
  },
});
