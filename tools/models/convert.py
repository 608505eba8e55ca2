#!/usr/bin/env python3
"""Convert a TensorFlow model to ONNX with tf2onnx, ready for publish.py.

    python3 tools/models/convert.py MODEL OUT.onnx [--opset 13]

MODEL is a Keras file (`.keras`, `.h5`), a SavedModel directory, or a `.tflite` file. Keras
files are exported to a SavedModel first (tf2onnx's Keras 3 path is unreliable; SavedModel is
its best-tested input). A dynamic batch dim is pinned to 1: a page classifies one image at a
time, and a fixed shape lets the engine plan fully. Runs in the TensorFlow virtualenv made by
tools/setup.sh (it re-executes itself there).
"""
import argparse
import os
import pathlib
import subprocess
import sys
import tempfile

VENV_PYTHON = pathlib.Path(os.environ.get("WEBINFER_CONVERT_VENV",
                                          pathlib.Path.home() / ".cache" / "webinfer" / "venv-convert")) / "bin" / "python"


def in_tf_venv():
    try:
        import tensorflow  # noqa: F401
        import tf2onnx  # noqa: F401
        return True
    except ImportError:
        return False


def pin_batch(path, batch=1):
    import onnx
    model = onnx.load(str(path))
    for value in list(model.graph.input) + list(model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].Clear()
            dims[0].dim_value = batch
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def convert(source, out, opset=13):
    source, out = pathlib.Path(source), pathlib.Path(out)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with tempfile.TemporaryDirectory() as tmp:
        if source.suffix == ".tflite":
            args = ["--tflite", str(source)]
        elif source.is_dir():
            args = ["--saved-model", str(source)]
        elif source.suffix in (".keras", ".h5"):
            import keras
            saved = pathlib.Path(tmp) / "saved_model"
            keras.models.load_model(source, compile=False).export(str(saved), verbose=False)
            args = ["--saved-model", str(saved)]
        else:
            raise SystemExit(f"{source}: expected a .keras/.h5 file, a SavedModel directory or a .tflite file")
        result = subprocess.run([sys.executable, "-m", "tf2onnx.convert", *args, "--output", str(out),
                                 "--opset", str(opset)], capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"tf2onnx failed on {source}:\n{result.stderr[-2000:]}")
    pin_batch(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("out")
    parser.add_argument("--opset", type=int, default=13)
    args = parser.parse_args()
    if not in_tf_venv():
        if not VENV_PYTHON.exists():
            raise SystemExit(f"{VENV_PYTHON} missing: run tools/setup.sh (it installs tools/requirements-convert.txt)")
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), __file__, *sys.argv[1:]])
    convert(args.model, args.out, args.opset)


if __name__ == "__main__":
    main()
