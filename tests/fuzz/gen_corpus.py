#!/usr/bin/python3
"""gen_corpus.py - regenerate the committed seed corpora of the fuzzers.

Run from the repository root with Debian's /usr/bin/python3 (numpy, onnx):
    /usr/bin/python3 tests/fuzz/gen_corpus.py
Writes tiny .npy files into tests/fuzz/corpus_npy/ and tiny ONNX models
(each under 4 KB, opset 13, fixed seeds) into tests/fuzz/corpus_onnx/.
"""
import os

import numpy as np
from numpy.lib import format as npf
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
NPY = os.path.join(HERE, "corpus_npy")
ONNX = os.path.join(HERE, "corpus_onnx")


def npy():
    os.makedirs(NPY, exist_ok=True)

    def save(name, a, version=None):
        with open(os.path.join(NPY, name + ".npy"), "wb") as f:
            npf.write_array(f, a, version=version)

    save("f32_2x3", (np.arange(6, dtype=np.float32) - 2.5).reshape(2, 3))
    save("f64_scalar", np.array(1.5))
    save("i64_rank1", np.array([-1, 0, 7], dtype=np.int64))
    save("i32_fortran", np.asfortranarray(np.arange(6, dtype=np.int32).reshape(2, 3)))
    save("bool_3", np.array([True, False, True]))
    save("u8_empty", np.zeros((0, 2), dtype=np.uint8))
    save("i8_v2", np.arange(-2, 2, dtype=np.int8).reshape(1, 2, 2), (2, 0))
    save("u8_v3", np.arange(3, dtype=np.uint8), (3, 0))


def model(name, nodes, inputs, outputs, inits):
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=inits)
    m = helper.make_model(g, producer_name="lagrange-fuzz",
                          opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.checker.check_model(m)
    data = m.SerializeToString()
    assert len(data) < 4096, (name, len(data))
    with open(os.path.join(ONNX, name + ".onnx"), "wb") as f:
        f.write(data)


def onnx_models():
    os.makedirs(ONNX, exist_ok=True)
    rng = np.random.default_rng(7)
    f32 = TensorProto.FLOAT

    w = numpy_helper.from_array(rng.standard_normal((2, 1, 3, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal(2).astype(np.float32), "b")
    model("conv_relu",
          [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv",
                            kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
           helper.make_node("Relu", ["c"], ["y"], name="relu")],
          [helper.make_tensor_value_info("x", f32, [1, 1, 4, 4])],
          [helper.make_tensor_value_info("y", f32, [1, 2, 4, 4])], [w, b])

    wg = numpy_helper.from_array(rng.standard_normal((3, 4)).astype(np.float32), "W")
    bg = numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "B")
    model("gemm",
          [helper.make_node("Gemm", ["a", "W", "B"], ["y"], name="gemm",
                            alpha=1.0, beta=1.0)],
          [helper.make_tensor_value_info("a", f32, ["batch", 3])],
          [helper.make_tensor_value_info("y", f32, ["batch", 4])], [wg, bg])

    shp = numpy_helper.from_array(np.array([2, -1], dtype=np.int64), "shape")
    k = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(3, 2), "k")
    model("reshape_add",
          [helper.make_node("Reshape", ["x", "shape"], ["r"], name="reshape"),
           helper.make_node("Reshape", ["k", "shape"], ["kr"], name="fold_me"),
           helper.make_node("Add", ["r", "kr"], ["y"], name="add")],
          [helper.make_tensor_value_info("x", f32, [1, 6])],
          [helper.make_tensor_value_info("y", f32, [2, 3])], [shp, k])


if __name__ == "__main__":
    npy()
    onnx_models()
    for d in (NPY, ONNX):
        for n in sorted(os.listdir(d)):
            print("%6d %s" % (os.path.getsize(os.path.join(d, n)), os.path.join(d, n)))
