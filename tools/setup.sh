#!/usr/bin/env bash
# Installs what building and testing webinfer needs, skipping what is already there:
# the wasm32 target, nightly with rust-src, wasm-pack, wasm-bindgen-cli, cargo-deny, wabt, Chromium + chromedriver, Firefox + geckodriver,
# WebKitGTK + WebKitWebDriver + Xvfb, nginx (the CDN
# stand-in), Node.js, the pinned Python packages of tools/requirements.txt, and ONNX's node
# conformance cases (from the onnx 1.17.0 wheel, pinned by digest).
# Safe to re-run; build.sh calls it before every build and test.
set -euo pipefail

WASM_PACK_VERSION=0.15.1
GECKODRIVER_VERSION=0.37.1
CARGO_DENY_VERSION=0.20.2
CARGO_FUZZ_VERSION=0.13.1

say() { printf '[setup] %s\n' "$*" >&2; }
# Host tools are built for a quick install, not peak speed: at opt-level 1 cargo-deny builds in
# 125 s instead of 170 s here (a warm registry), and every tool still does its job in seconds.
cargo_install() {
  CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_PROFILE_RELEASE_DEBUG=false cargo install --quiet "$@"
}
# `tool --version | grep -q` would fail under pipefail when grep exits early; compare a capture.
has_version() { [[ "$("$1" --version 2>/dev/null)" == *"$2"* ]]; }

export PATH="$HOME/.cargo/bin:$PATH"

if [[ "$(rustup target list --installed)" != *wasm32-unknown-unknown* ]]; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# The threaded wasm build (and cargo-fuzz) need nightly; the former rebuilds std from rust-src.
if ! rustup toolchain list | grep -q '^nightly'; then
  say "installing the nightly toolchain"
  rustup toolchain install nightly --profile minimal
fi
if [[ "$(rustup component list --toolchain nightly --installed)" != *rust-src* ]]; then
  rustup component add rust-src --toolchain nightly
fi
if [[ "$(rustup target list --toolchain nightly --installed)" != *wasm32-unknown-unknown* ]]; then
  rustup target add wasm32-unknown-unknown --toolchain nightly  # wasm-pack checks for it
fi

if ! has_version wasm-pack "$WASM_PACK_VERSION"; then
  say "installing wasm-pack $WASM_PACK_VERSION"
  cargo_install --locked wasm-pack --version "$WASM_PACK_VERSION"
fi

# wasm-pack would otherwise install it itself mid-build, with that build's RUSTFLAGS and
# -Z build-std (wasm target features, unwinding) applied to a host tool. The version must be
# the wasm-bindgen crate's in Cargo.lock. Not --locked: its lock file pins a webpki-roots the
# registry no longer serves (wasm-pack installs it unlocked too).
WASM_BINDGEN_VERSION=$(sed -n '/^name = "wasm-bindgen"$/{n;s/^version = "\(.*\)"$/\1/p}' "$(dirname "$0")/../Cargo.lock")
if ! has_version wasm-bindgen "$WASM_BINDGEN_VERSION"; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  cargo_install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

# The test command's bounded fuzz run (build.sh fuzz_check), on nightly.
if [[ "$(cargo fuzz --version 2>/dev/null)" != *"$CARGO_FUZZ_VERSION"* ]]; then
  say "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo_install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

if ! has_version cargo-deny "$CARGO_DENY_VERSION"; then
  say "installing cargo-deny $CARGO_DENY_VERSION"
  cargo_install --locked cargo-deny --version "$CARGO_DENY_VERSION"
fi

need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
command -v firefox >/dev/null || need_apt+=(firefox-esr)
command -v WebKitWebDriver >/dev/null || need_apt+=(webkit2gtk-driver)  # WebKit: its MiniBrowser, driven
command -v xvfb-run >/dev/null || need_apt+=(xvfb xauth)  # ... on a virtual display
command -v brotli >/dev/null || need_apt+=(brotli)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need_apt+=(nginx-light)  # the CDN stand-in
command -v node >/dev/null || need_apt+=(nodejs npm)  # the end-to-end tests (Playwright)
command -v wrk >/dev/null || need_apt+=(wrk)  # the server load test (bench/load.mjs)
command -v wasm-strip >/dev/null || need_apt+=(wabt)  # strips the threaded wasm's name section
if ((${#need_apt[@]})); then
  say "installing ${need_apt[*]} from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! has_version geckodriver "$GECKODRIVER_VERSION"; then
  say "installing geckodriver $GECKODRIVER_VERSION"
  cargo_install --locked geckodriver --version "$GECKODRIVER_VERSION"
fi

# Pinned versions already present are "already satisfied": no download, about a second.
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
  -r "$(dirname "$0")/requirements.txt"

# TensorFlow for Keras/SavedModel/TFLite conversion, in its own virtualenv.
CONVERT_VENV=${WEBINFER_CONVERT_VENV:-$HOME/.cache/webinfer/venv-convert}
if ! cmp -s "$(dirname "$0")/requirements-convert.txt" "$CONVERT_VENV/requirements.txt" 2>/dev/null; then
  say "installing TensorFlow + tf2onnx into $CONVERT_VENV (600 MB, a few minutes)"
  rm -rf "$CONVERT_VENV"
  python3 -m venv "$CONVERT_VENV"
  "$CONVERT_VENV/bin/pip" install --quiet --disable-pip-version-check -r "$(dirname "$0")/requirements-convert.txt"
  cp "$(dirname "$0")/requirements-convert.txt" "$CONVERT_VENV/requirements.txt"
fi

# ONNX's operator conformance cases (tests/conformance.rs): the node tests shipped inside the
# onnx 1.17.0 wheel, pinned by digest. Only the data is extracted (the tools use onnx 1.23.2);
# the wheel is the CPython 3.11 Linux one whatever this machine runs, so the digest is fixed.
ONNX_CASES=${WEBINFER_ONNX_CASES:-$HOME/.cache/webinfer/onnx-node-tests-1.17.0}
ONNX_WHEEL=onnx-1.17.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
ONNX_WHEEL_SHA256=4a183c6178be001bf398260e5ac2c927dc43e7746e8638d6c05c20e321f8c949
if [[ ! -f $ONNX_CASES/.complete ]]; then
  say "fetching ONNX's node conformance cases (onnx 1.17.0 wheel, 16 MB)"
  wheel_dir=$(mktemp -d)
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary :all: \
    --python-version 3.11 --implementation cp --abi cp311 --platform manylinux_2_17_x86_64 \
    -d "$wheel_dir" onnx==1.17.0
  echo "$ONNX_WHEEL_SHA256  $wheel_dir/$ONNX_WHEEL" | sha256sum --check --quiet
  rm -rf "$ONNX_CASES" && mkdir -p "$ONNX_CASES"
  python3 - "$wheel_dir/$ONNX_WHEEL" "$ONNX_CASES" <<'PY'
import sys, zipfile
prefix = "onnx/backend/test/data/node/"
with zipfile.ZipFile(sys.argv[1]) as wheel:
    for name in wheel.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            wheel.extract(name, sys.argv[2] + "/.x")
PY
  mv "$ONNX_CASES/.x/onnx/backend/test/data/node/"* "$ONNX_CASES/"
  rm -rf "$ONNX_CASES/.x" "$wheel_dir"
  touch "$ONNX_CASES/.complete"
fi

# A real recurrent model with branches (tests/fixtures/make_recurrent.py): Silero VAD, the three
# ONNX files the silero-vad 6.2.0 wheel ships (MIT), pinned by digest; only they are extracted.
VAD_MODELS=${WEBINFER_VAD_MODELS:-$HOME/.cache/webinfer/silero-vad-6.2.0}
VAD_WHEEL=silero_vad-6.2.0-py3-none-any.whl
VAD_WHEEL_SHA256=8a31f1e58e73cdc20820d842f757e678e0ae1b0ee1cb7b8aa50f20f8fd7f7638
if [[ ! -f $VAD_MODELS/.complete ]]; then
  say "fetching Silero VAD's ONNX models (silero-vad 6.2.0 wheel, 6 MB)"
  wheel_dir=$(mktemp -d)
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary :all: \
    -d "$wheel_dir" silero-vad==6.2.0
  echo "$VAD_WHEEL_SHA256  $wheel_dir/$VAD_WHEEL" | sha256sum --check --quiet
  rm -rf "$VAD_MODELS" && mkdir -p "$VAD_MODELS"
  python3 - "$wheel_dir/$VAD_WHEEL" "$VAD_MODELS" <<'PY'
import pathlib, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    for name in wheel.namelist():
        if name.startswith("silero_vad/data/") and name.endswith(".onnx"):
            (pathlib.Path(sys.argv[2]) / pathlib.Path(name).name).write_bytes(wheel.read(name))
PY
  rm -rf "$wheel_dir"
  touch "$VAD_MODELS/.complete"
fi
