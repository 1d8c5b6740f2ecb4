#include "ir/pooling.hpp"

#include "ir/attrs.hpp"
#include "ir/rules.hpp"

namespace kerasrt::ir {

const char* pool_reduce_name(PoolReduce r) { return r == PoolReduce::kMax ? "max" : "mean"; }

const char* pool_window_name(PoolWindow w) {
  switch (w) {
    case PoolWindow::kSliding: return "sliding";
    case PoolWindow::kAdaptive: return "adaptive";
    case PoolWindow::kGlobal: return "global";
  }
  return "?";
}

int64_t pool_output_length(const PoolAttrs& p, int a, int64_t len) {
  switch (p.window) {
    case PoolWindow::kSliding:
      if (len < 0) return -1;
      if (p.same_padding) return (len + p.strides[a] - 1) / p.strides[a];
      return len >= p.size[a] ? (len - p.size[a]) / p.strides[a] + 1 : 0;
    case PoolWindow::kAdaptive: return p.size[a];
    case PoolWindow::kGlobal: return 1;
  }
  return -1;
}

std::vector<TensorType> infer_pool(const Node& node, std::span<const TensorType> in) {
  const auto& p = node.as<PoolAttrs>();
  const bool masked = in.size() == 2;
  if (masked && !(p.window == PoolWindow::kGlobal && p.reduce == PoolReduce::kMean && p.spatial == 1))
    throw Error("only a global mean over one axis takes a mask");
  if (!masked) expect_inputs(in, 1);
  const Shape& x = in[0].shape;
  if (in[0].dtype != DType::kFloat32) throw Error(std::string("pool takes float32, got ") + dtype_name(in[0].dtype));
  if (x.size() != static_cast<size_t>(p.spatial) + 2)
    throw Error("pool expects an input of rank " + std::to_string(p.spatial + 2) + ", got " + shape_to_string(x));
  const size_t first = p.channels_first ? 2 : 1;
  Shape out = x;
  for (int a = 0; a < p.spatial; ++a) {
    const int64_t len = x[first + a];
    if (len == 0 && p.window != PoolWindow::kSliding && (p.window == PoolWindow::kAdaptive || p.reduce == PoolReduce::kMax))
      throw Error("cannot pool an empty axis of input " + shape_to_string(x));
    const int64_t n = pool_output_length(p, a, len);
    if (len >= 0 && n < 1)
      throw Error("pool size " + std::to_string(p.size[a]) + " does not fit the input " + shape_to_string(x) +
                  " with padding '" + (p.same_padding ? "same" : "valid") + "'");
    out[first + a] = n;
  }
  if (masked) {
    const Shape& m = in[1].shape;
    auto agree = [](int64_t a, int64_t b) { return a < 0 || b < 0 || a == b; };
    if (in[1].dtype != DType::kFloat32) throw Error("pool takes a float32 mask");
    if (!(m.size() == 2 && agree(m[0], x[0]) && agree(m[1], x[first])))
      throw Error("mask " + shape_to_string(m) + " does not match input " + shape_to_string(x));
  }
  if (p.window == PoolWindow::kGlobal && !p.keepdims) out = {x[0], p.channels_first ? x[1] : x.back()};
  return {{out, DType::kFloat32}};
}

}  // namespace kerasrt::ir
