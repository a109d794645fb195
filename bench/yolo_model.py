"""A YOLOv8n-sized detection model with random weights, as ONNX, for timing camvault's
detector (bench/detector.sh; docs/benchmarks.md, "Video index"). No internet: the
ultralytics weights cannot be fetched here, and timing needs only the architecture.

    python yolo_model.py OUT.onnx [IMGSZ]

The graph follows ultralytics' yolov8.yaml at scale n (depth 0.33, width 0.25): Conv
(conv + SiLU; BatchNorm is folded into the conv at export, as ultralytics does), C2f,
SPPF, the FPN/PAN neck, and the Detect head with DFL and the box decoding, giving the
exported model's output `output0` [1, 84, 8400] at 640x640 — what `yolo export
model=yolov8n.pt format=onnx` writes (opset 17 here), with ~3.2 M parameters.
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(8)
nodes, inits = [], []
counter = [0]


def name(p):
    counter[0] += 1
    return f"{p}{counter[0]}"


def const(arr, p="c"):
    n = name(p)
    inits.append(numpy_helper.from_array(np.asarray(arr), n))
    return n


def node(op, inputs, **attrs):
    out = name(op.lower())
    nodes.append(helper.make_node(op, inputs, [out], **attrs))
    return out


def conv(x, c1, c2, k=1, s=1, act=True):
    w = (rng.standard_normal((c2, c1, k, k)) * np.sqrt(1.0 / (c1 * k * k))).astype(np.float32)
    b = (rng.standard_normal(c2) * 0.01).astype(np.float32)
    p = k // 2
    y = node("Conv", [x, const(w, "w"), const(b, "b")], kernel_shape=[k, k], strides=[s, s], pads=[p, p, p, p])
    if act:
        y = node("Mul", [y, node("Sigmoid", [y])])
    return y


def split(x, sizes, axis=1):
    outs = [name("split") for _ in sizes]
    nodes.append(helper.make_node("Split", [x, const(np.array(sizes, np.int64))], outs, axis=axis))
    return outs


def c2f(x, c1, c2, n, shortcut):
    c = c2 // 2
    y = conv(x, c1, 2 * c, 1)
    a, b = split(y, [c, c])
    ys = [a, b]
    cur = b
    for _ in range(n):
        t = conv(conv(cur, c, c, 3), c, c, 3)
        cur = node("Add", [cur, t]) if shortcut else t
        ys.append(cur)
    return conv(node("Concat", ys, axis=1), (2 + n) * c, c2, 1)


def sppf(x, c1, c2):
    c = c1 // 2
    x = conv(x, c1, c, 1)
    ys = [x]
    for _ in range(3):
        ys.append(node("MaxPool", [ys[-1]], kernel_shape=[5, 5], strides=[1, 1], pads=[2, 2, 2, 2]))
    return conv(node("Concat", ys, axis=1), 4 * c, c2, 1)


def up(x):
    return node("Resize", [x, "", const(np.array([1, 1, 2, 2], np.float32))], mode="nearest")


def main():
    out = sys.argv[1]
    sz = int(sys.argv[2]) if len(sys.argv) > 2 else 640
    nc, reg = 80, 16
    x = "images"
    x = conv(x, 3, 16, 3, 2)
    x = conv(x, 16, 32, 3, 2)
    x = c2f(x, 32, 32, 1, True)
    x = conv(x, 32, 64, 3, 2)
    p3 = c2f(x, 64, 64, 2, True)
    x = conv(p3, 64, 128, 3, 2)
    p4 = c2f(x, 128, 128, 2, True)
    x = conv(p4, 128, 256, 3, 2)
    x = c2f(x, 256, 256, 1, True)
    p5 = sppf(x, 256, 256)
    h4 = c2f(node("Concat", [up(p5), p4], axis=1), 384, 128, 1, False)
    o3 = c2f(node("Concat", [up(h4), p3], axis=1), 192, 64, 1, False)
    o4 = c2f(node("Concat", [conv(o3, 64, 64, 3, 2), h4], axis=1), 192, 128, 1, False)
    o5 = c2f(node("Concat", [conv(o4, 128, 128, 3, 2), p5], axis=1), 384, 256, 1, False)
    c2, c3 = max(16, 64 // 4, reg * 4), max(64, min(nc, 100))
    levels, anchors, strides = [], [], []
    for feat, ch, stride in [(o3, 64, 8), (o4, 128, 16), (o5, 256, 32)]:
        box = conv(conv(conv(feat, ch, c2, 3), c2, c2, 3), c2, 4 * reg, 1, act=False)
        cls = conv(conv(conv(feat, ch, c3, 3), c3, c3, 3), c3, nc, 1, act=False)
        y = node("Concat", [box, cls], axis=1)
        levels.append(node("Reshape", [y, const(np.array([1, 4 * reg + nc, -1], np.int64))]))
        g = sz // stride
        sy, sx = np.meshgrid(np.arange(g) + 0.5, np.arange(g) + 0.5, indexing="ij")
        anchors.append(np.stack([sx.ravel(), sy.ravel()]))
        strides.append(np.full((1, g * g), stride))
    y = node("Concat", levels, axis=2)
    n = sum(a.shape[1] for a in anchors)
    box, cls = split(y, [4 * reg, nc])
    # DFL: a softmax over 16 bins per side, the expected bin.
    b = node("Reshape", [box, const(np.array([1, 4, reg, n], np.int64))])
    b = node("Softmax", [node("Transpose", [b], perm=[0, 2, 1, 3])], axis=1)
    dfl = np.arange(reg, dtype=np.float32).reshape(1, reg, 1, 1)
    b = node("Conv", [b, const(dfl, "dfl")], kernel_shape=[1, 1])
    b = node("Reshape", [b, const(np.array([1, 4, n], np.int64))])
    lt, rb = split(b, [2, 2])
    anc = const(np.concatenate(anchors, 1)[None].astype(np.float32), "anchors")
    x1y1 = node("Sub", [anc, lt])
    x2y2 = node("Add", [anc, rb])
    cxy = node("Div", [node("Add", [x1y1, x2y2]), const(np.array(2.0, np.float32))])
    wh = node("Sub", [x2y2, x1y1])
    st = const(np.concatenate(strides, 1)[None].astype(np.float32), "strides")
    dbox = node("Mul", [node("Concat", [cxy, wh], axis=1), st])
    out_t = node("Concat", [dbox, node("Sigmoid", [cls])], axis=1)
    nodes.append(helper.make_node("Identity", [out_t], ["output0"]))
    g = helper.make_graph(
        nodes,
        "yolov8n-random",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, sz, sz])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 4 + nc, n])],
        inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    meta = m.metadata_props.add()
    meta.key, meta.value = "imgsz", str([sz, sz])
    onnx.checker.check_model(m)
    onnx.save(m, out)
    params = sum(int(np.prod(i.dims)) for i in inits)
    print(f"{out}: output0 [1, {4 + nc}, {n}], {params / 1e6:.2f} M parameters")


if __name__ == "__main__":
    main()
