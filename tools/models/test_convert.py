"""Keras (.keras) and TFLite models through convert.py (tf2onnx) and publish.py: the ONNX agrees
with TensorFlow's own predictions, and the result is published with an NHWC manifest."""
import json
import pathlib
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

import convert
import publish

# Runs in the TensorFlow virtualenv: a small Keras classifier saved as .keras and as .tflite,
# plus its predictions on a fixed input, the reference the converted models are checked against.
MAKE_MODELS = """
import os, sys, pathlib
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import numpy as np, tensorflow as tf, keras
out = pathlib.Path(sys.argv[1])
keras.utils.set_random_seed(1)
inp = keras.Input((32, 32, 3), name="image")
x = keras.layers.Conv2D(8, 3, activation="relu")(inp)
x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu6")(x)
x = keras.layers.GlobalAveragePooling2D()(x)
logits = keras.layers.Dense(5, name="logits")(x)
model = keras.Model(inp, logits)
model.save(out / "model.keras")
(out / "model.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
x = np.random.default_rng(2).uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)
np.save(out / "x.npy", x)
np.save(out / "y.npy", model.predict(x, verbose=0))
"""


@pytest.fixture(scope="module")
def tf_models(tmp_path_factory):
    assert convert.VENV_PYTHON.exists(), f"{convert.VENV_PYTHON} missing: run tools/setup.sh"
    out = tmp_path_factory.mktemp("keras")
    subprocess.run([str(convert.VENV_PYTHON), "-c", MAKE_MODELS, str(out)], check=True, capture_output=True)
    return out


def run_convert(source, out):
    subprocess.run([sys.executable, str(pathlib.Path(convert.__file__)), str(source), str(out)],
                   check=True, capture_output=True)


@pytest.mark.parametrize("source", ["model.keras", "model.tflite"])
def test_converted_model_matches_tensorflow(tf_models, source, tmp_path):
    out = tmp_path / "model.onnx"
    run_convert(tf_models / source, out)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    assert inp.shape == [1, 32, 32, 3], "batch pinned to 1, NHWC kept"
    got = session.run(None, {inp.name: np.load(tf_models / "x.npy")})[0]
    assert np.abs(got - np.load(tf_models / "y.npy")).max() <= 1e-4


def test_keras_to_manifest(tf_models, tmp_path):
    onnx_path = tmp_path / "model.onnx"
    run_convert(tf_models / "model.keras", onnx_path)
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(4)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (40, 36 + i, 3), dtype=np.uint8)).save(images / f"{i}.png")
    spec = {"resize": 36, "crop": 32, "mean": [127.5] * 3, "std": [127.5] * 3, "layout": "NHWC", "channels": "RGB"}
    path, manifest = publish.publish(onnx_path, "keras-demo", images, tmp_path / "dist",
                                     labels=list("abcde"), spec=spec)
    saved = json.loads(path.read_text())
    assert saved["inputs"][0]["dims"] == [1, 32, 32, 3] and saved["inputs"][0]["layout"] == "NHWC"
    assert saved["validation"]["engine_top1_matches"]
    assert (path.parent / saved["model"]["url"]).exists()
