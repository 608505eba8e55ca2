#!/usr/bin/env python3
"""What the page must answer for each photo, computed independently: Pillow preprocessing (the
model pipeline's own `center_crop` + `to_input`) and onnxruntime running the same int8 model
(graph optimizations off, as everywhere in webinfer: its optimized int8 kernels vary by CPU).

    python3 tests/e2e/reference.py MANIFEST MODEL PHOTO... > expected.json

Writes {photo file name: {"top5": [{"index", "label", "probability"}]}}.
"""
import json
import pathlib
import sys

import numpy as np
import onnxruntime as ort
from PIL import Image

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools" / "models"))
from quantize import center_crop, to_input  # noqa: E402


def main(manifest_path, model_path, *photos):
    manifest = json.loads(pathlib.Path(manifest_path).read_text())
    spec = manifest["preprocess"]
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
    name = manifest["inputs"][0]["name"]
    out = {}
    for photo in photos:
        logits = session.run(None, {name: to_input(center_crop(Image.open(photo), spec), spec)})[0][0]
        p = np.exp(logits - logits.max())
        p /= p.sum()
        top = np.argsort(-p, kind="stable")[:5]
        out[pathlib.Path(photo).name] = {"top5": [{"index": int(i), "label": manifest["labels"][i],
                                                   "probability": float(p[i])} for i in top]}
    json.dump(out, sys.stdout, indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:])
