// The demo page: wires the file picker, drag and drop, paste and camera to a Classifier, and
// shows download progress, timings, the top 5 and any error. `body[data-state]` says where the
// page is (loading, ready, classifying, done, error) for people and for the end-to-end tests.
import { Classifier, wasmBuild } from './classifier.js';

const $ = (id) => document.getElementById(id);
let classifier = null;

function setState(state) {
  document.body.dataset.state = state;
}

function showError(message, retry = false) {
  $('error-text').textContent = message;
  $('retry').hidden = !retry;
  $('error').hidden = false;
  setState('error');
}

function clearError() {
  $('error').hidden = true;
}

function fill(list, rows) {
  list.replaceChildren(...rows.flatMap(([name, value]) => {
    const dt = document.createElement('dt');
    const dd = document.createElement('dd');
    dt.textContent = name;
    dd.textContent = value;
    return [dt, dd];
  }));
}

const ms = (v) => `${v.toFixed(1)} ms`;
const mb = (bytes) => `${(bytes / 1e6).toFixed(2)} MB`;

async function loadModel() {
  clearError();
  setState('loading');
  $('status').textContent = 'Downloading the model…';
  $('download').value = 0;
  $('download-text').textContent = '';
  classifier?.dispose();
  classifier = null;
  try {
    classifier = await Classifier.load('/api/model', {
      onProgress(loaded, total) {
        $('download').value = total ? loaded / total : 0;
        $('download-text').textContent = total
          ? `${mb(loaded)} of ${mb(total)} (${Math.floor((100 * loaded) / total)}%)`
          : `${mb(loaded)}`;
      },
    });
  } catch (e) {
    $('status').textContent = 'The model could not be loaded.';
    showError(e.message, true);
    return;
  }
  const { name, quantization, timings: t } = classifier.info;
  keepOffline(classifier.build.wasm);
  showBuild(classifier.build, classifier.info.buildFallback);
  $('download').value = 1;
  $('model-name').textContent = `model: ${name}${quantization ? ` (${quantization})` : ''}`;
  $('status').textContent = t.source === 'cache'
    ? `Ready. ${mb(t.bytes)} model loaded from this browser's cache: no download.`
    : `Ready. ${mb(t.bytes)} model downloaded and verified.`;
  $('download-text').textContent = `sha256 ${t.sha256.slice(0, 16)}…`;
  fill($('load-timings'), [
    ['compile wasm', ms(t.compileMs)],
    ['fetch manifest', ms(t.manifestMs)],
    [t.source === 'cache' ? 'read from cache' : 'download', ms(t.fetchMs)],
    [`verify sha256 (${t.digestWith})`, ms(t.verifyMs)],
    ['parse model', ms(t.parseMs)],
    ['plan', ms(t.planMs)],
  ]);
  setState('ready');
}

/** Shows the picture as the model sees it (centre square) and classifies it. */
async function classify(source) {
  if (!classifier) {
    showError('The model is not loaded yet.', !classifier);
    return;
  }
  clearError();
  setState('classifying');
  try {
    // Decoded once, as the classifier wants it (no colour conversion), drawn, then handed over.
    const bitmap = await createImageBitmap(source, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
    drawPreview(bitmap);
    const top = await classifier.classify(bitmap);
    renderTop(top);
    const t = classifier.lastTimings;
    fill($('run-timings'), [['preprocess (wasm)', ms(t.preprocessMs)], ['inference (wasm)', ms(t.runMs)]]);
    setState('done');
  } catch (e) {
    showError(`Could not classify this picture: ${e.message}`);
  }
}

function drawPreview(bitmap) {
  // The centre square, as the model crops it.
  const canvas = $('preview');
  const side = Math.min(bitmap.width, bitmap.height);
  canvas.getContext('2d').drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side, 0, 0, canvas.width, canvas.height);
}

function renderTop(top) {
  $('top5').replaceChildren(...top.map(({ label, probability }) => {
    const li = document.createElement('li');
    const text = document.createElement('div');
    text.className = 'label';
    const name = document.createElement('span');
    name.textContent = label.split(',')[0];
    name.title = label;
    const pct = document.createElement('span');
    pct.textContent = `${(100 * probability).toFixed(1)}%`;
    text.append(name, pct);
    const bar = document.createElement('div');
    bar.className = 'bar';
    const fillBar = document.createElement('div');
    fillBar.className = 'fill';
    fillBar.style.width = `${(100 * probability).toFixed(1)}%`;
    bar.append(fillBar);
    li.append(text, bar);
    return li;
  }));
}

function imageFrom(items) {
  return [...(items ?? [])].find((f) => f.type?.startsWith('image/'));
}

async function startCamera() {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
    const video = $('video');
    video.srcObject = stream;
    video.hidden = false;
    $('snap').hidden = false;
    await video.play();
  } catch (e) {
    showError(`The camera is not available: ${e.message}`);
  }
}

function wire() {
  $('file').addEventListener('change', (e) => { const f = imageFrom(e.target.files); if (f) classify(f); });
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = imageFrom(e.dataTransfer.files);
    f ? classify(f) : showError('That is not an image file.');
  });
  document.addEventListener('paste', (e) => {
    const item = [...e.clipboardData.items].find((i) => i.type.startsWith('image/'));
    if (item) classify(item.getAsFile());
  });
  $('camera').addEventListener('click', startCamera);
  $('snap').addEventListener('click', () => classify($('video')));
  $('retry').addEventListener('click', loadModel);
}

/** The service worker precaches the page's shell but not the wasm builds (only one of them is
 *  used here): it keeps the one this browser runs, from the HTTP cache. */
function keepOffline(url) {
  navigator.serviceWorker?.ready.then((registration) => registration.active?.postMessage({ keep: url }));
}

function showBuild(build, fallback) {
  $('build').textContent = build
    ? `wasm: ${build.name}, ${build.threads} thread${build.threads > 1 ? 's' : ''}${fallback ? ' (threads unavailable)' : ''}`
    : 'wasm: no SIMD';
  // Hovering says why this build: the threads build failed to start, or the faster builds this
  // browser or page cannot run.
  $('build').title = fallback ?? build?.why ?? '';
}

async function main() {
  wire();
  showBuild(wasmBuild());
  if ('serviceWorker' in navigator) {
    // Keeps the page, the wasm and the manifest for offline visits; the model has its own cache.
    navigator.serviceWorker.register('/sw.js').catch((e) => console.warn('service worker not registered:', e));
  }
  if (!navigator.mediaDevices?.getUserMedia) $('camera').hidden = true;
  await loadModel();
}

main();
