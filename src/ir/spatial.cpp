#include "ir/spatial.hpp"

#include "ir/attrs.hpp"
#include "ir/rules.hpp"

namespace kerasrt::ir {

std::vector<TensorType> infer_pad(const Node& node, std::span<const TensorType> in) {
  expect_inputs(in, 1);
  const auto& a = node.as<PadAttrs>();
  Shape out = in[0].shape;
  if (a.before.size() != out.size() || a.after.size() != out.size())
    throw Error("expected an input of rank " + std::to_string(a.before.size()) + ", got " + shape_to_string(out));
  for (size_t d = 0; d < out.size(); ++d) {
    if (out[d] < 0) continue;
    out[d] += a.before[d] + a.after[d];
    // Cropping everything away is refused, as Keras does.
    if (out[d] < 1 && (a.before[d] < 0 || a.after[d] < 0))
      throw Error("cropping leaves nothing of axis " + std::to_string(d) + " of input " + shape_to_string(in[0].shape));
  }
  return {{out, in[0].dtype}};
}

std::vector<TensorType> infer_upsample(const Node& node, std::span<const TensorType> in) {
  expect_inputs(in, 1);
  const auto& a = node.as<UpsampleAttrs>();
  Shape out = in[0].shape;
  if (a.factors.size() != out.size())
    throw Error("expected an input of rank " + std::to_string(a.factors.size()) + ", got " + shape_to_string(out));
  for (size_t d = 0; d < out.size(); ++d) {
    if (a.factors[d] < 1) throw Error("upsampling factors must be positive");
    if (out[d] >= 0) out[d] *= a.factors[d];
  }
  return {{out, in[0].dtype}};
}

}  // namespace kerasrt::ir
