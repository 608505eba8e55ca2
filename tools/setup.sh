#!/usr/bin/env bash
# Installs what building and testing webinfer needs, skipping what is already there:
# the wasm32 target, nightly with rust-src, wasm-pack, wasm-bindgen-cli, cargo-deny, wabt, Chromium + chromedriver, Firefox + geckodriver,
# WebKitGTK + WebKitWebDriver + Xvfb, nginx (the CDN
# stand-in), Node.js, the pinned Python packages of tools/requirements.txt, ONNX's node
# conformance cases (from the onnx 1.17.0 wheel, pinned by digest), and the ONNX models inside
# the silero-vad (tests), rapidocr-onnxruntime and magika (bench zoo) wheels, pinned likewise.
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

# Files from a PyPI wheel, pinned by the wheel's digest; only the named members are extracted:
#   from_wheel DEST WHEEL SHA256 PIP-REQUIREMENT MEMBER[=NAME]...
# Each wheel has its own mark in DEST, so several wheels can fill one folder.
from_wheel() {
  local dest=$1 wheel=$2 sha256=$3 requirement=$4 dir
  shift 4
  [[ -f $dest/.complete-$wheel ]] && return
  say "fetching ${*##*/} from $requirement"
  dir=$(mktemp -d)
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary :all: \
    --python-version 3.11 --platform manylinux_2_28_x86_64 -d "$dir" "$requirement"
  echo "$sha256  $dir/$wheel" | sha256sum --check --quiet
  mkdir -p "$dest"
  python3 - "$dir/$wheel" "$dest" "$@" <<'PY'
import pathlib, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    for member in sys.argv[3:]:
        member, _, name = member.partition("=")
        (pathlib.Path(sys.argv[2]) / (name or pathlib.Path(member).name)).write_bytes(wheel.read(member))
PY
  rm -rf "$dir"
  touch "$dest/.complete-$wheel"
}

# A real recurrent model with branches (tests/fixtures/make_recurrent.py): Silero VAD, the three
# ONNX files the silero-vad 6.2.0 wheel ships (MIT).
from_wheel "${WEBINFER_VAD_MODELS:-$HOME/.cache/webinfer/silero-vad-6.2.0}" silero_vad-6.2.0-py3-none-any.whl \
  8a31f1e58e73cdc20820d842f757e678e0ae1b0ee1cb7b8aa50f20f8fd7f7638 silero-vad==6.2.0 \
  silero_vad/data/silero_vad.onnx silero_vad/data/silero_vad_16k_op15.onnx silero_vad/data/silero_vad_half.onnx

# The bench's zoo (bench/zoo.py): models shipped inside PyPI packages, nothing from a model hub.
# PP-OCRv4 text detection and recognition and the direction classifier (rapidocr-onnxruntime,
# Apache-2.0), and Magika's file-type model (Apache-2.0).
ZOO_MODELS=${WEBINFER_ZOO_MODELS:-$HOME/.cache/webinfer/zoo-1}
from_wheel "$ZOO_MODELS" rapidocr_onnxruntime-1.4.4-py3-none-any.whl 971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf \
  rapidocr-onnxruntime==1.4.4 rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx \
  rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx
from_wheel "$ZOO_MODELS" magika-1.0.3-py3-none-manylinux_2_28_x86_64.whl 3e9b49134e8116ee40b431664dcbed9e199413efddcce1a173c734b4e0521529 \
  magika==1.0.3 magika/models/standard_v3_3/model.onnx=magika-standard_v3_3.onnx
