#include "ir/softmax.hpp"

#include "ir/attrs.hpp"
#include "ir/rules.hpp"

namespace kerasrt::ir {

std::vector<TensorType> infer_softmax(const Node& node, std::span<const TensorType> in) {
  expect_inputs(in, 1);
  const auto& a = node.as<SoftmaxAttrs>();
  if (in[0].dtype != DType::kFloat32)
    throw Error(std::string("softmax takes float32, got ") + dtype_name(in[0].dtype));
  const int rank = static_cast<int>(in[0].shape.size());
  if (rank > static_cast<int>(kMaxTransposeRank)) throw Error("softmax takes at most rank " + std::to_string(kMaxTransposeRank));
  for (size_t i = 0; i < a.axes.size(); ++i)
    if (a.axes[i] < 0 || a.axes[i] >= rank || (i > 0 && a.axes[i] <= a.axes[i - 1]))
      throw Error("softmax axes must be distinct, ascending and within rank " + std::to_string(rank));
  return {in[0]};
}

}  // namespace kerasrt::ir
