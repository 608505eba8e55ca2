#!/usr/bin/env python3
"""The bench's model zoo: models webinfer was not tuned on, from pinned packages only.

    python3 bench/zoo.py OUT_DIR [--packaged-only]

Writes OUT_DIR/zoo.json (what bench/run.mjs benchmarks: file, input, size) and the models:
- from the `rapidocr-onnxruntime==1.4.4` wheel: PP-OCRv4 text detection and recognition and the
  mobile v2.0 direction classifier (PaddlePaddle exports, dynamic axes), each at two sizes;
- from the `magika==1.0.3` wheel: Google's file-type model (int32 bytes in);
- three Keras models with seeded random weights (bench/zoo_keras.py), converted by
  tools/models/convert.py and quantized to int8 QDQ by tools/models/publish.py, as a user of
  this project would: MobileNetV3Small, MobileNetV2 and a DeepLabV3+-style segmenter;
- the YOLOv8 export with dynamic axes that the tests use (tests/fixtures/make_exports.py).
tools/setup.sh fetches the two wheels (pinned by sha256) into WEBINFER_ZOO_MODELS. Files already
built are kept: delete OUT_DIR to rebuild. Needs the CLI (publish.py validates with it) and the
calibration photos of `./build.sh model`. --packaged-only: the wheels' models alone (no TensorFlow,
seconds; the bench's smoke run uses it).
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys

import onnx

ROOT = pathlib.Path(__file__).resolve().parents[1]
WHEELS = pathlib.Path(os.environ.get("WEBINFER_ZOO_MODELS", pathlib.Path.home() / ".cache/webinfer/zoo-1"))
PHOTOS = ROOT / "target/demo-model/work/photos"
CONVERT_PYTHON = pathlib.Path(os.environ.get("WEBINFER_CONVERT_VENV", pathlib.Path.home() / ".cache/webinfer/venv-convert")) / "bin/python"

# name -> (file, { input: dims at which it is benchmarked }, how its input is made)
PACKAGED = {
    "ppocr-det-480x640": ("ch_PP-OCRv4_det_infer.onnx", [1, 3, 480, 640], "random"),
    "ppocr-det-320x480": ("ch_PP-OCRv4_det_infer.onnx", [1, 3, 320, 480], "random"),
    "ppocr-rec-48x320": ("ch_PP-OCRv4_rec_infer.onnx", [1, 3, 48, 320], "random"),
    "ppocr-rec-48x640": ("ch_PP-OCRv4_rec_infer.onnx", [1, 3, 48, 640], "random"),
    "ppocr-cls-48x192": ("ch_ppocr_mobile_v2.0_cls_infer.onnx", [1, 3, 48, 192], "random"),
    "ppocr-cls-48x320": ("ch_ppocr_mobile_v2.0_cls_infer.onnx", [1, 3, 48, 320], "random"),
    # Token ids: bytes 0-255, 256 for padding.
    "magika": ("magika-standard_v3_3.onnx", [1, 2048], "bytes"),
}
# Keras name -> (input size, publish.py's preprocessing for calibration)
KERAS = {
    "mobilenet-v3-small": (224, ["--resize", "256", "--crop", "224", "--mean", "0", "--std", "1"]),
    "mobilenet-v2": (224, ["--resize", "256", "--crop", "224", "--mean", "127.5", "--std", "127.5"]),
    "deeplab-lite": (256, ["--resize", "292", "--crop", "256", "--mean", "127.5", "--std", "127.5"]),
}
DTYPES = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.INT32: "int32"}


def entry(name, file, dims, kind="random", family=None, quantization=None):
    """What run.mjs needs of one model. `inputShapes` pins dynamic dims so that webinfer plans
    at create, as onnxruntime-web does (without it, planning moves into the first run)."""
    model = onnx.load(str(file), load_external_data=False)
    initializers = {t.name for t in model.graph.initializer}
    [value] = [v for v in model.graph.input if v.name not in initializers]
    tensor = value.type.tensor_type
    fixed = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in tensor.shape.dim]
    if len(fixed) != len(dims) or any(f is not None and f != d for f, d in zip(fixed, dims)):
        raise SystemExit(f"{name}: {value.name} has dims {fixed}, cannot run at {dims}")
    out = {"name": name, "file": str(file), "family": family or name, "inputName": value.name,
           "outputName": model.graph.output[0].name, "dtype": DTYPES[tensor.elem_type], "dims": dims,
           "input": kind}
    if None in fixed:
        out["inputShapes"] = {value.name: dims}
    if quantization:
        out["quantization"] = quantization
    return out


def run(*args):
    print("zoo:", " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], check=True)


def keras_models(out):
    keras_dir = out / "keras"
    if not all((keras_dir / f"{n}.keras").exists() for n in KERAS):
        run(CONVERT_PYTHON, ROOT / "bench/zoo_keras.py", keras_dir)
    entries = []
    for name, (size, preprocess) in KERAS.items():
        fp32 = out / f"{name}-fp32.onnx"
        if not fp32.exists():
            run(sys.executable, ROOT / "tools/models/convert.py", keras_dir / f"{name}.keras", fp32)
        manifest = out / "int8" / f"{name}.manifest.json"
        if not manifest.exists():
            run(sys.executable, ROOT / "tools/models/publish.py", fp32, "--name", name, "--images", PHOTOS,
                "--out", out / "int8", "--layout", "NHWC", *preprocess)
        published = json.loads(manifest.read_text())
        dims = [1, size, size, 3]
        entries.append(entry(f"{name}-fp32", fp32, dims, family=name))
        # int8 agrees with onnxruntime-web when top-1 matches or the difference stays within what
        # publish.py measured between int8 and fp32.
        entries.append(entry(f"{name}-int8", out / "int8" / published["model"]["url"], dims, family=name,
                             quantization={"maxAbsDiff": published["validation"]["max_abs_diff"]}))
    return entries


def main(out, packaged_only=False):
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    missing = sorted({file for file, _, _ in PACKAGED.values() if not (WHEELS / file).exists()})
    if missing:
        raise SystemExit(f"{WHEELS}: {', '.join(missing)} missing: run tools/setup.sh (it fetches the zoo's wheels)")
    entries = [entry(name, WHEELS / file, dims, kind, family=file.removesuffix(".onnx"))
               for name, (file, dims, kind) in PACKAGED.items()]
    if not packaged_only:
        entries += keras_models(out)
        entries.append(entry("yolov8-export-320", ROOT / "tests/fixtures/models/yolov8_dynamic.onnx", [1, 3, 320, 320]))
    (out / "zoo.json").write_text(json.dumps(entries, indent=1) + "\n")
    print(f"zoo: {len(entries)} models in {out / 'zoo.json'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--packaged-only", action="store_true", help="the wheels' models only (no TensorFlow)")
    args = parser.parse_args()
    main(args.out, args.packaged_only)
