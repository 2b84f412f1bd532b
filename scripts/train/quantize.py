"""Dynamic int8 quantization of an exported model's linear layers, for the CPU.

A decoder step reads every weight of the decoder once per token: 6.7 MB of float32,
more than a core's L2 cache, so on a CPU a step costs what moving the weights costs,
not what the arithmetic does. Stored as int8 (a scale per output column) the weights
take a quarter of that, and onnxruntime multiplies them with int8 kernels.

Each Gemm or MatMul whose weight is a constant becomes the pattern onnxruntime fuses
into one DynamicQuantizeMatMul kernel:

    DynamicQuantizeLinear(x) -> x_q, x_scale, x_zero
    MatMulInteger(x_q, W_q, x_zero) -> Cast(float) -> Mul(x_scale * W_scale) [-> Add(bias)]

Weights are symmetric and use 7 bits (-63..63): onnxruntime's AVX2 kernel multiplies
uint8 activations by int8 weights in pairs summed into int16, which 8-bit weights can
overflow (the same "reduce_range" onnxruntime's own quantizer applies on such CPUs).
Activations are quantized per tensor at run time, from their own range.

  python3 scripts/train/quantize.py models/texmesh-v1/decoder.onnx [OUT.onnx] [--min-size N]
"""
import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

BITS = 7


def _attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def quantize(model, min_size=4096):
    """Quantize in place every linear layer whose weight has at least min_size elements;
    returns how many were quantized."""
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    uses = {}
    for n in g.node:
        for name in n.input:
            uses[name] = uses.get(name, 0) + 1
    qmax = 2 ** (BITS - 1) - 1
    nodes, dropped, count = [], set(), 0
    for n in g.node:
        w_name = n.input[1] if len(n.input) > 1 else None
        if n.op_type not in ("Gemm", "MatMul") or w_name not in inits:
            nodes.append(n)
            continue
        w = numpy_helper.to_array(inits[w_name]).astype(np.float32)
        a = _attrs(n)
        if n.op_type == "Gemm":
            if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
                nodes.append(n)
                continue
            if a.get("transB", 0):
                w = w.T
        if w.ndim != 2 or w.size < min_size:
            nodes.append(n)
            continue
        bias = n.input[2] if n.op_type == "Gemm" and len(n.input) > 2 and n.input[2] else None
        scale = np.abs(w).max(axis=0) / qmax
        scale[scale == 0] = 1.0
        w_q = np.clip(np.round(w / scale), -qmax, qmax).astype(np.int8)
        base = f"{n.name or w_name}_q"
        g.initializer.append(numpy_helper.from_array(w_q, f"{base}_weight"))
        g.initializer.append(numpy_helper.from_array(scale.astype(np.float32), f"{base}_weight_scale"))
        x = n.input[0]
        y = n.output[0]
        nodes += [
            helper.make_node("DynamicQuantizeLinear", [x], [f"{base}_x", f"{base}_x_scale", f"{base}_x_zero"], name=f"{base}_dql"),
            helper.make_node("MatMulInteger", [f"{base}_x", f"{base}_weight", f"{base}_x_zero"], [f"{base}_int"], name=f"{base}_mmi"),
            helper.make_node("Cast", [f"{base}_int"], [f"{base}_float"], to=TensorProto.FLOAT, name=f"{base}_cast"),
            helper.make_node("Mul", [f"{base}_x_scale", f"{base}_weight_scale"], [f"{base}_scale"], name=f"{base}_scale_mul"),
            helper.make_node("Mul", [f"{base}_float", f"{base}_scale"], [f"{base}_scaled" if bias else y], name=f"{base}_mul"),
        ]
        if bias:
            nodes.append(helper.make_node("Add", [f"{base}_scaled", bias], [y], name=f"{base}_bias"))
        uses[w_name] -= 1
        if uses[w_name] == 0:
            dropped.add(w_name)
        count += 1
    del g.node[:]
    g.node.extend(nodes)
    keep = [i for i in g.initializer if i.name not in dropped]
    del g.initializer[:]
    g.initializer.extend(keep)
    return count


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("out", nargs="?", help="default: overwrite the model")
    ap.add_argument("--min-size", type=int, default=4096, help="leave smaller weights in float32")
    args = ap.parse_args()
    m = onnx.load(args.model)
    n = quantize(m, args.min_size)
    onnx.checker.check_model(m)
    onnx.save(m, args.out or args.model)
    print(f"{args.out or args.model}: {n} linear layers in int8")


if __name__ == "__main__":
    main()
