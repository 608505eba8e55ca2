"""The quantizer: QDQ output the engine runs and matches, Softmax left in float. The demo
model's int8 agreement is checked through publish.py (test_publish.py)."""
import json
import pathlib
import subprocess

import numpy as np
import onnx

import quantize

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "models"
CLI = ROOT / "target" / "release" / "webinfer"


def engine_run(model, name, x, tmp_path):
    """webinfer's own engine (the native build of the code the browser runs) on one input."""
    assert CLI.exists(), f"{CLI} missing: cargo build --release -p webinfer-cli"
    raw = tmp_path / "input.f32"
    raw.write_bytes(x.astype("<f4").tobytes())
    out = subprocess.run([str(CLI), "run", str(model), "--input", f"{name}={raw}", "--json"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["outputs"]


def test_round_trip_on_a_small_model(tmp_path):
    rng = np.random.default_rng(3)
    inputs = [rng.uniform(-1, 1, (1, 3, 16, 16)).astype(np.float32) for _ in range(16)]
    out = tmp_path / "int8.onnx"
    float_nodes = quantize.quantize(FIXTURES / "conv_f32.onnx", out, inputs)
    assert float_nodes == ["probs_softmax"]
    ops = [n.op_type for n in onnx.load(str(out)).graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    softmax = next(n for n in onnx.load(str(out)).graph.node if n.op_type == "Softmax")
    assert softmax.output == ["probs"], "Softmax output must not be re-quantized"

    figures = quantize.validate(FIXTURES / "conv_f32.onnx", out, inputs)
    assert figures["samples"] == 16 and figures["max_abs_diff"] < 0.5

    # The engine runs the quantized model and agrees with onnxruntime on it.
    reference = quantize._session(out).run(None, {"image": inputs[0]})
    ours = engine_run(out, "image", inputs[0], tmp_path)
    for name, want in zip(["logits", "probs"], reference):
        assert np.abs(np.array(ours[name]["data"]) - want.ravel()).max() <= 0.05, name
