#!/usr/bin/env python3
"""A classifier that crashes the engine on dark images, for the worker-restart test.

scores = Expand(1 / int32(max(image)), [1, 1000]): a picture with a pure white pixel has max 1.0
after the demo normalization and divides by 1; a darker one divides an int32 by zero, which
tract 0.23 does with Rust's `/` (a panic, so a wasm trap under panic=abort). onnxruntime reports
"Integer division by zero" as an error for the same input; the crash is the engine's.

    python3 tests/e2e/trap_model.py OUT_DIR     -> OUT_DIR/trap.<sha16>.onnx, trap.manifest.json
"""
import hashlib
import json
import pathlib
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def model():
    nodes = [
        helper.make_node("ReduceMax", ["image"], ["max"], keepdims=0),
        helper.make_node("Cast", ["max"], ["max_i"], to=TensorProto.INT32),
        helper.make_node("Div", ["one", "max_i"], ["q"]),
        helper.make_node("Cast", ["q"], ["q_f"], to=TensorProto.FLOAT),
        helper.make_node("Expand", ["q_f", "shape"], ["scores"]),
    ]
    inits = [numpy_helper.from_array(np.array(1, np.int32), "one"),
             numpy_helper.from_array(np.array([1, 1000], np.int64), "shape")]
    graph = helper.make_graph(nodes, "trap", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 1000])], inits)
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
