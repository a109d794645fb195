"""Small ONNX models whose output is known, for tests/detector.rs (issue 15, item 2).

    python detector_model.py OUT KIND

KIND:
  v8        input images [1,3,640,640] -> output0 [1, 4+3, 8] (YOLOv8 layout, 3 classes,
            ultralytics-style `names` metadata {0: 'person', 1: 'car', 2: 'dog'}):
            candidate 0: person, box centre (200,300) size 100x200, score 0.9
            candidate 1: person, centre (210,305) size 100x200, score 0.8 (overlaps 0: NMS drops it)
            candidate 2: car, centre (450,320) size 80x60, score 0.85
            candidate 3: dog, centre (500,400) size 50x50, score = mean of the input's
                         first (red) channel, so it depends on the pre-processing
  v5        the same objects in the YOLOv5 layout [1, 8, 5+3] with objectness 1
  badshape  a valid ONNX model whose output is the input itself [1,3,640,640]
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

N = 8
NC = 3
CANDS = [
    (200.0, 300.0, 100.0, 200.0, 0, 0.9),
    (210.0, 305.0, 100.0, 200.0, 0, 0.8),
    (450.0, 320.0, 80.0, 60.0, 1, 0.85),
    (500.0, 400.0, 50.0, 50.0, 2, 0.0),  # score from the input
]


def v8_const():
    c = np.zeros((1, 4 + NC, N), np.float32)
    m = np.zeros((1, 4 + NC, N), np.float32)
    for i, (cx, cy, w, h, k, s) in enumerate(CANDS):
        c[0, 0:4, i] = [cx, cy, w, h]
        c[0, 4 + k, i] = s
    m[0, 4 + 2, 3] = 1.0
    return c, m


def v5_const():
    c = np.zeros((1, N, 5 + NC), np.float32)
    m = np.zeros((1, N, 5 + NC), np.float32)
    for i, (cx, cy, w, h, k, s) in enumerate(CANDS):
        c[0, i, 0:5] = [cx, cy, w, h, 1.0]
        c[0, i, 5 + k] = s
    m[0, 3, 5 + 2] = 1.0
    return c, m


def main():
    out, kind = sys.argv[1], sys.argv[2]
    images = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 640, 640])
    if kind == "badshape":
        y = helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 3, 640, 640])
        g = helper.make_graph([helper.make_node("Identity", ["images"], ["output0"])], "bad", [images], [y])
    else:
        c, m = v8_const() if kind == "v8" else v5_const()
        inits = [
            numpy_helper.from_array(c, "C"),
            numpy_helper.from_array(m, "M"),
            numpy_helper.from_array(np.array([0], np.int64), "s0"),
            numpy_helper.from_array(np.array([1], np.int64), "s1"),
            numpy_helper.from_array(np.array([1], np.int64), "ax"),
        ]
        nodes = [
            # red = images[:, 0:1]; mean over it -> [1]
            helper.make_node("Slice", ["images", "s0", "s1", "ax"], ["red"]),
            helper.make_node("ReduceMean", ["red"], ["mr"], axes=[1, 2, 3], keepdims=0),
            helper.make_node("Mul", ["M", "mr"], ["scaled"]),
            helper.make_node("Add", ["C", "scaled"], ["output0"]),
        ]
        y = helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(c.shape))
        g = helper.make_graph(nodes, "yolo-test", [images], [y], inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    if kind != "badshape":
        meta = model.metadata_props.add()
        meta.key, meta.value = "names", str({0: "person", 1: "car", 2: "dog"})
    onnx.checker.check_model(model)
    onnx.save(model, out)


if __name__ == "__main__":
    main()
