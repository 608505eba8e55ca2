#!/usr/bin/env python3
"""A classifier that fails inside the engine on some images, for the error and restart tests.

After the demo normalization a pure white picture has max(image) = 1.0. With m = max(image):

- scores = Expand(1 / int32(m + 0.5), [1, 1000]): white divides by 1 (uniform scores); a dark
  picture (m < 0.5) divides an int32 by zero, on which tract 0.23 panics. The engine catches
  that and answers with an Error (onnxruntime reports "Integer division by zero" for the same
  input); the session keeps working.
- ballast = Range(0, n) with n = HUGE when 0.7 < m < 0.9 (a light grey picture), else 1: an
  int32 tensor just under 2 GiB (the most one allocation may ask for in wasm32), which tract
  allocates; copying it out for the caller then needs as much again, and the two leave less than
  8 KB of the 4 GiB a wasm32 instance can address for everything else. That allocation failure
  aborts (it does not unwind), so the instance is lost: what the worker restart exists for.

    python3 tests/e2e/trap_model.py OUT_DIR     -> OUT_DIR/trap.<sha16>.onnx, trap.manifest.json
"""
import hashlib
import json
import pathlib
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


# 4 * HUGE <= 2**31 - 1 (isize::MAX in wasm32); 8 * HUGE = 2**32 - 7,296 bytes.
HUGE = 536_870_000


def model():
    f = lambda name, v: numpy_helper.from_array(np.array(v, np.float32), name)
    nodes = [
        helper.make_node("ReduceMax", ["image"], ["max"], keepdims=0),
        helper.make_node("Add", ["max", "half"], ["rounded"]),
        helper.make_node("Cast", ["rounded"], ["max_i"], to=TensorProto.INT32),
        helper.make_node("Div", ["one", "max_i"], ["q"], name="divide_by_brightness"),
        helper.make_node("Cast", ["q"], ["q_f"], to=TensorProto.FLOAT),
        helper.make_node("Expand", ["q_f", "shape"], ["scores"]),
        helper.make_node("Greater", ["max", "lo"], ["above"]),
        helper.make_node("Less", ["max", "hi"], ["below"]),
        helper.make_node("And", ["above", "below"], ["grey"]),
        helper.make_node("Where", ["grey", "huge", "one"], ["n"]),
        helper.make_node("Range", ["zero", "n", "one"], ["ballast"], name="ballast"),
    ]
    inits = [numpy_helper.from_array(np.array(1, np.int32), "one"),
             numpy_helper.from_array(np.array(0, np.int32), "zero"),
             numpy_helper.from_array(np.array(HUGE, np.int32), "huge"),
             numpy_helper.from_array(np.array([1, 1000], np.int64), "shape"),
             f("half", 0.5), f("lo", 0.7), f("hi", 0.9)]
    graph = helper.make_graph(nodes, "trap", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 1000]),
                               helper.make_tensor_value_info("ballast", TensorProto.INT32, ["n"])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m.SerializeToString()


def main(out):
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = model()
    sha = hashlib.sha256(data).hexdigest()
    name = f"trap.{sha[:16]}.onnx"
    (out / name).write_bytes(data)
    manifest = {
        "schema": "webinfer.manifest/1", "name": "trap",
        "model": {"url": name, "sha256": sha, "bytes": len(data), "format": "onnx"},
        "inputs": [{"name": "image", "type": "float32", "dims": [1, 3, 8, 8], "layout": "NCHW"}],
        "outputs": [{"name": "scores", "type": "float32", "dims": [1, 1000]}],
        "preprocess": {"resize": 8, "crop": 8, "mean": [127.0] * 3, "std": [128.0] * 3, "layout": "NCHW",
                       "channels": "RGB", "interpolation": "bilinear"},
        "labels": [f"class {i}" for i in range(1000)],
    }
    (out / "trap.manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
