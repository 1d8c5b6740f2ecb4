#!/usr/bin/python3
"""An ONNX graph with the structure of a Keras model, for timing ONNX Runtime where shared/ has no
ONNX file (app_densenet121, app_efficientnetb0). Not a converter: the weights are random (seeded,
scaled by 1/sqrt(fan-in) so activations stay near 1 and no denormals appear), so ORT's outputs mean
nothing; only the work per call is the same as the Keras model's.

Usage (Debian's python3 with python3-onnx):
  /usr/bin/python3 bench/ir_to_onnx.py --cli build/kerasrt MODEL.keras OUT.onnx

It reads the model's typed ir (`kerasrt info --ir`) and writes the graph the way torch exports a
channels_last Keras model: one Transpose of the NHWC input to NCHW, then NCHW ops (Conv with group for
depthwise, BatchNormalization after Conv so ORT folds it, Sigmoid*Mul for swish, pooling, Concat, Pad,
Gemm). Only the op kinds of those two applications are covered; anything else is refused by name.
"""
import argparse
import json
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class Builder:
    def __init__(self, seed):
        self.nodes, self.inits, self.rng, self.count = [], [], np.random.default_rng(seed), 0

    def name(self, hint):
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, array, hint="c"):
        n = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(array), n))
        return n

    def op(self, kind, inputs, hint, **attrs):
        out = self.name(hint)
        self.nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    def random(self, shape, fan_in):
        return (self.rng.standard_normal(shape) / np.sqrt(max(fan_in, 1))).astype(np.float32)


def activation(b, x, fn, hint):
    if fn == "identity":
        return x
    if fn == "relu":
        return b.op("Relu", [x], hint)
    if fn == "relu6":
        return b.op("Clip", [x, b.const(np.float32(0)), b.const(np.float32(6))], hint)
    if fn == "sigmoid":
        return b.op("Sigmoid", [x], hint)
    if fn == "silu":
        return b.op("Mul", [x, b.op("Sigmoid", [x], hint)], hint)
    if fn == "softmax":
        return b.op("Softmax", [x], hint, axis=-1)
    raise SystemExit(f"activation '{fn}' is not covered")


def spatial_pads(padding, size, strides, dilations, in_dims):
    """ONNX begin/end pads for Keras 'valid'/'same' (TF SAME: extra padding at the end)."""
    if padding == "valid":
        return [0] * (2 * len(size))
    begin, end = [], []
    for k, s, d, n in zip(size, strides, dilations, in_dims):
        out = -(-n // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
        begin.append(total // 2)
        end.append(total - total // 2)
    return begin + end


def nchw(shape):  # a channels_last value's shape as the ONNX graph holds it
    return [shape[0], shape[-1]] + shape[1:-1] if len(shape) >= 3 else shape


def convert(ir, seed=20261201):
    b = Builder(seed)
    shapes = {v["id"]: v["shape"] for v in ir["values"]}
    names = {}
    graph_inputs = []
    for inp in ir["inputs"]:
        shape = shapes[inp["value"]]
        graph_inputs.append(helper.make_tensor_value_info(inp["name"], TensorProto.FLOAT,
                                                          ["batch"] + shape[1:]))
        names[inp["value"]] = b.op("Transpose", [inp["name"]], "to_nchw", perm=[0, 3, 1, 2]) \
            if len(shape) == 4 else inp["name"]
    for n in ir["nodes"]:
        op, a, layer = n["op"], n["attrs"], n["layer"]
        ins = [names.get(i) for i in n["inputs"]]
        in_shapes = [shapes[i] for i in n["inputs"]]
        out_shape = shapes[n["outputs"][0]]
        w = [x["shape"] for x in n["weights"]]
        if op == "constant":
            shape = w[0]
            value = (0.5 + b.rng.random(shape)).astype(np.float32)
            names[n["outputs"][0]] = b.const(value.transpose(0, 3, 1, 2) if len(shape) == 4 else value, layer)
            continue
        if op == "conv":
            if a["transpose"] or a["channels_first"] or a["rank"] != 2:
                raise SystemExit(f"{layer}: only 2-D channels_last forward convolutions are covered")
            kh, kw, cin_g, cout = w[0]
            weight = b.random((cout, cin_g, kh, kw), kh * kw * cin_g)
            args = [ins[0], b.const(weight, layer + "_w")]
            if a["has_bias"]:
                args.append(b.const(np.zeros(cout, np.float32), layer + "_b"))
            y = b.op("Conv", args, layer, kernel_shape=[kh, kw], strides=a["strides"], dilations=a["dilations"],
                     group=a["groups"],
                     pads=spatial_pads(a["padding"], [kh, kw], a["strides"], a["dilations"], in_shapes[0][1:3]))
            names[n["outputs"][0]] = activation(b, y, a["activation"]["fn"], layer)
        elif op == "batch_norm":
            c = w[0][0]
            scale = (1.0 + 0.1 * b.rng.standard_normal(c)).astype(np.float32)
            shift = (0.1 * b.rng.standard_normal(c)).astype(np.float32)
            names[n["outputs"][0]] = b.op(
                "BatchNormalization",
                [ins[0], b.const(scale), b.const(shift), b.const(np.zeros(c, np.float32)),
                 b.const(np.ones(c, np.float32))], layer, epsilon=0.0)
        elif op == "unary":
            names[n["outputs"][0]] = activation(b, ins[0], a["fn"], layer)
        elif op == "binary":
            kinds = {"add": "Add", "subtract": "Sub", "multiply": "Mul", "divide": "Div"}
            if a["fn"] not in kinds:
                raise SystemExit(f"{layer}: binary '{a['fn']}' is not covered")
            names[n["outputs"][0]] = b.op(kinds[a["fn"]], ins, layer)
        elif op == "pad":
            before, after = a["before"], a["after"]
            pads = [before[0], before[-1]] + before[1:-1] + [after[0], after[-1]] + after[1:-1]
            names[n["outputs"][0]] = b.op("Pad", [ins[0], b.const(np.array(pads, np.int64))], layer)
        elif op == "pool":
            if a["window"] == "global":
                y = b.op("GlobalAveragePool" if a["reduce"] == "mean" else "GlobalMaxPool", [ins[0]], layer)
                if not a.get("keepdims", False):
                    y = b.op("Flatten", [y], layer)
                names[n["outputs"][0]] = y
            else:
                kind = "AveragePool" if a["reduce"] == "mean" else "MaxPool"
                names[n["outputs"][0]] = b.op(
                    kind, [ins[0]], layer, kernel_shape=a["size"], strides=a["strides"],
                    pads=spatial_pads(a["padding"], a["size"], a["strides"], [1, 1], in_shapes[0][1:3]))
        elif op == "concat":
            axis = a["axis"] % len(out_shape)
            onnx_axis = 1 if (len(out_shape) >= 3 and axis == len(out_shape) - 1) else axis
            names[n["outputs"][0]] = b.op("Concat", ins, layer, axis=onnx_axis)
        elif op == "reshape":
            if a.get("keep_shape"):
                names[n["outputs"][0]] = ins[0]
            else:
                target = nchw([0] + list(a["target"]))
                target[0] = 0
                names[n["outputs"][0]] = b.op("Reshape", [ins[0], b.const(np.array(target, np.int64))], layer)
        elif op == "dense":
            weight = b.random((a["in"], a["units"]), a["in"])
            bias = np.zeros(a["units"], np.float32)
            y = b.op("Gemm", [ins[0], b.const(weight, layer + "_w"), b.const(bias, layer + "_b")], layer)
            names[n["outputs"][0]] = activation(b, y, a["activation"]["fn"], layer)
        else:
            raise SystemExit(f"{layer}: op '{op}' is not covered")
    outputs = []
    for out in ir["outputs"]:
        shape = shapes[out["value"]]
        if len(shape) > 2:
            raise SystemExit(f"output '{out['name']}': only outputs of rank <= 2 are covered")
        b.nodes.append(helper.make_node("Identity", [names[out["value"]]], [out["name"]]))
        outputs.append(helper.make_tensor_value_info(out["name"], TensorProto.FLOAT, ["batch"] + shape[1:]))
    graph = helper.make_graph(b.nodes, ir["name"], graph_inputs, outputs, b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="kerasrt-bench")
    onnx.checker.check_model(model)
    return model


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cli", default="build/kerasrt")
    p.add_argument("model")
    p.add_argument("out")
    args = p.parse_args()
    ir = json.loads(subprocess.run([args.cli, "info", "--ir", args.model], check=True, capture_output=True,
                                   text=True).stdout)
    onnx.save(convert(ir), args.out)


if __name__ == "__main__":
    sys.exit(main())
