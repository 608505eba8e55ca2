#!/usr/bin/env python3
"""Quantize an fp32 ONNX model to int8 QDQ the way webinfer's engine runs it best, and measure
what quantization cost.

    python3 tools/models/quantize.py FP32.onnx OUT.onnx --images DIR [--crops-per-image 8]

- onnxruntime `quant_pre_process`, then `quantize_static`: QDQ format, per-channel symmetric
  int8 weights, uint8 activations, MinMax calibration on crops of the images in DIR, preprocessed
  as the manifest will say (shorter side to 256, centre/random crop 224, (x - 127) / 128, NCHW RGB).
- Softmax and LogSoftmax stay in float: tract 0.23 miscomputes them quantized (and webinfer
  refuses such models).
- Validation: top-1 agreement and max logit difference, int8 vs fp32, over the calibration crops,
  both run by onnxruntime with graph optimizations off (its optimized int8 kernels vary by CPU).
Prints the validation figures as JSON.
"""
import argparse
import json
import pathlib
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process
from PIL import Image

PREPROCESS = {"resize": 256, "crop": 224, "mean": [127.0] * 3, "std": [128.0] * 3,
              "layout": "NCHW", "channels": "RGB"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
FLOAT_ONLY_OPS = {"Softmax", "LogSoftmax"}


def to_input(pixels, spec=PREPROCESS):
    """HWC uint8 RGB crop -> [1, 3, H, W] (NCHW) or [1, H, W, 3] (NHWC) float32, (x - mean) / std."""
    x = (pixels.astype(np.float32) - np.float32(spec["mean"])) / np.float32(spec["std"])
    x = x if spec["layout"] == "NHWC" else x.transpose(2, 0, 1)
    return np.ascontiguousarray(x[None], dtype=np.float32)


def center_crop(image, spec=PREPROCESS):
    """Shorter side to `resize` (PIL bilinear), centre crop `crop`: HWC uint8 RGB."""
    image = image.convert("RGB")
    w, h = image.size
    scale = spec["resize"] / min(w, h)
    image = image.resize((round(w * scale), round(h * scale)), Image.BILINEAR)
    c = spec["crop"]
    left, top = (image.width - c) // 2, (image.height - c) // 2
    return np.asarray(image.crop((left, top, left + c, top + c)), dtype=np.uint8)


def crops(image, count, rng, spec=PREPROCESS):
    """The centre crop, then `count - 1` random crops (scale and position jitter, mirror)."""
    image = image.convert("RGB")
    w, h = image.size
    c = spec["crop"]
    out = [to_input(center_crop(image, spec), spec)]
    for _ in range(count - 1):
        s = spec["resize"] * rng.uniform(0.9, 1.6) / min(w, h)
        img = image.resize((max(c, round(w * s)), max(c, round(h * s))), Image.BILINEAR)
        left, top = rng.integers(0, img.width - c + 1), rng.integers(0, img.height - c + 1)
        crop = np.asarray(img.crop((left, top, left + c, top + c)), dtype=np.uint8)
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        out.append(to_input(crop, spec))
    return out


def calibration_inputs(folder, crops_per_image=8, seed=0, spec=PREPROCESS):
    rng = np.random.default_rng(seed)
    files = sorted(p for p in pathlib.Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SystemExit(f"{folder}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return [x for f in files for x in crops(Image.open(f), crops_per_image, rng, spec)]


class _Reader(CalibrationDataReader):
    def __init__(self, name, inputs):
        self.feeds = iter([{name: x} for x in inputs])

    def get_next(self):
        return next(self.feeds, None)


def input_name(path):
    model = onnx.load(str(path))
    initializers = {t.name for t in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in initializers]
    if len(names) != 1:
        raise SystemExit(f"{path}: expected one input, found {names}")
    return names[0]


def quantize(fp32_path, out_path, inputs):
    """Writes the int8 QDQ model; returns the names of the nodes left in float."""
    name = input_name(fp32_path)
    with tempfile.TemporaryDirectory() as tmp:
        prepared = pathlib.Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32_path), str(prepared))
        float_nodes = [n.name for n in onnx.load(str(prepared)).graph.node if n.op_type in FLOAT_ONLY_OPS]
        quantize_static(str(prepared), str(out_path), _Reader(name, inputs), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        nodes_to_exclude=float_nodes)
    return float_nodes


def _session(path):
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def validate(fp32_path, int8_path, inputs):
    """int8 vs fp32 on the same inputs: first outputs compared."""
    name = input_name(fp32_path)
    fp32, int8 = _session(fp32_path), _session(int8_path)
    agree, max_diff = 0, 0.0
    for x in inputs:
        a, b = fp32.run(None, {name: x})[0], int8.run(None, {name: x})[0]
        agree += int(a.argmax() == b.argmax())
        max_diff = max(max_diff, float(np.abs(a - b).max()))
    return {"samples": len(inputs), "top1_agreement": agree / len(inputs), "max_abs_diff": max_diff}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fp32")
    parser.add_argument("out")
    parser.add_argument("--images", required=True, help="folder of sample images for calibration")
    parser.add_argument("--crops-per-image", type=int, default=8)
    args = parser.parse_args()
    inputs = calibration_inputs(args.images, args.crops_per_image)
    float_nodes = quantize(args.fp32, args.out, inputs)
    print(json.dumps({"float_nodes": float_nodes, **validate(args.fp32, args.out, inputs)}))


if __name__ == "__main__":
    main()
