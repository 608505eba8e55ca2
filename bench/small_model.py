#!/usr/bin/env python3
"""The benchmark's small model, where per-call overhead dominates: the conv net of the test
fixtures (Conv, Relu, Clip, depthwise Conv, Add, pooling, Gemm on a 16x16 image), saved with ONNX
IR version 8 because onnxruntime-web 1.30 reads IR versions up to 13 and onnx 1.23 writes 14.

    python3 bench/small_model.py OUT.onnx
"""
import pathlib
import sys

import onnx

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "fixtures"))
from make_fixtures import conv_f32  # noqa: E402

model = conv_f32()
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, sys.argv[1])
