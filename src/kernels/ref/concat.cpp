// Reference concat: for each index before the join axis, each input's block in turn; byte-wise, so
// every dtype works. Stack is the same walk with a block per input of everything after the new axis.
#include <cstring>

#include "kernels/ref/ref.hpp"

namespace kerasrt::kernels::ref {
namespace {

void run_concat(const KernelCall& c) {
  const auto& a = c.node.as<ir::ConcatAttrs>();
  const int axis = ir::concat_axis(a, c.in[0].shape.size());
  const int64_t outer = element_count(c.out[0].shape.subspan(0, axis));
  if (outer == 0) return;
  const size_t es = dtype_size(c.out[0].dtype);
  auto* dst = static_cast<std::byte*>(c.out[0].data);
  for (int64_t o = 0; o < outer; ++o)
    for (const ConstTensorView& x : c.in) {
      const size_t block = static_cast<size_t>(element_count(x.shape) / outer) * es;
      if (block) std::memcpy(dst, static_cast<const std::byte*>(x.data) + o * block, block);
      dst += block;
    }
}

}  // namespace

const Kernel kConcat{"ref", ir::OpKind::kConcat, nullptr, nullptr, nullptr, run_concat};

}  // namespace kerasrt::kernels::ref
