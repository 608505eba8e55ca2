"""onnxruntime on ONNX's node conformance cases, judged by the rule webinfer's runner uses
(tests/common/conformance.rs): same count, element types and shapes; integers, booleans and
strings equal; floats within 1e-5 + 1e-3 * |expected|, NaN for NaN.

    python3 tests/conformance/onnxruntime_baseline.py target/onnx-node-tests \
        > tests/conformance/onnxruntime-1.32.0.txt

Writes one line per case, as the engine's list does (`pass NAME`, `fail NAME reason`,
`skip NAME reason`), so the two lists compare line by line. The README's counts come from it.
"""
import pathlib
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

RTOL, ATOL = 1e-3, 1e-5


def read_tensor(path):
    proto = onnx.TensorProto()
    proto.ParseFromString(path.read_bytes())
    return numpy_helper.to_array(proto)


def judge(expected, got):
    if len(expected) != len(got):
        return f"{len(got)} outputs, expected {len(expected)}"
    for ix, (want, have) in enumerate(zip(expected, got)):
        have = np.asarray(have)
        if want.dtype != have.dtype:
            return f"output {ix} is {have.dtype}, expected {want.dtype}"
        if want.shape != have.shape:
            return f"output {ix} has dims {list(have.shape)}, expected {list(want.shape)}"
        if want.dtype.kind == "f":
            w, h = want.astype(np.float64), have.astype(np.float64)
            nan = np.isnan(w)
            inf = np.isinf(w)
            finite = ~(nan | inf)
            ok = (np.isnan(h) == nan).all() and (h[inf] == w[inf]).all() and (
                np.abs(h[finite] - w[finite]) <= ATOL + RTOL * np.abs(w[finite])
            ).all()
        else:
            ok = np.array_equal(want, have)
        if not ok:
            return f"output {ix} differs"
    return None


def verdict(case):
    model = onnx.load(case / "model.onnx")
    for value in list(model.graph.input) + list(model.graph.output):
        if not value.type.HasField("tensor_type"):
            return "skip", f"`{value.name}` is not a tensor (sequence, optional or map)"
    data = case / "test_data_set_0"
    initializers = {t.name for t in model.graph.initializer}
    inputs = [i.name for i in model.graph.input if i.name not in initializers]
    try:
        feeds = {name: read_tensor(data / f"input_{i}.pb") for i, name in enumerate(inputs)}
        expected = [read_tensor(data / f"output_{i}.pb") for i in range(len(model.graph.output))]
    except Exception as e:  # an element type numpy_helper cannot decode
        return "skip", str(e)
    try:
        options = ort.SessionOptions()
        options.log_severity_level = 4
        session = ort.InferenceSession(str(case / "model.onnx"), options, providers=["CPUExecutionProvider"])
        got = session.run(None, feeds)
    except Exception as e:
        return "fail", str(e)
    reason = judge(expected, got)
    return ("pass", None) if reason is None else ("fail", reason)


def main(root):
    counts = {"pass": 0, "fail": 0, "skip": 0}
    for case in sorted(p for p in pathlib.Path(root).iterdir() if p.name.startswith("test_")):
        word, reason = verdict(case)
        counts[word] += 1
        line = f"{word} {case.name}" if reason is None else f"{word} {case.name} {' '.join(reason.split())[:160]}"
        print(line)
    print(f"onnxruntime {ort.__version__}: {counts}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])
