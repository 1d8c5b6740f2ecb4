// Reference concat: for each index before the join axis, each input's block in turn; byte-wise, so
// every dtype works. Stack is the same walk with a block per input of everything after the new axis.
#include <cstring>

#include "kernels/ref/ref.hpp"

namespace kerasrt::kernels::ref {
namespace {

void run_concat(const KernelCall& c) { concat_rows(c, 0, concat_outer(c)); }

}  // namespace

int64_t concat_outer(const KernelCall& c) {
  const int axis = ir::concat_axis(c.node.as<ir::ConcatAttrs>(), c.in[0].shape.size());
  return element_count(c.out[0].shape.subspan(0, axis));
}

void concat_rows(const KernelCall& c, int64_t begin, int64_t end) {
  const int64_t outer = concat_outer(c);
  if (outer == 0) return;
  const size_t es = dtype_size(c.out[0].dtype);
  const size_t row = static_cast<size_t>(element_count(c.out[0].shape) / outer) * es;
  auto* dst = static_cast<std::byte*>(c.out[0].data) + static_cast<size_t>(begin) * row;
  for (int64_t o = begin; o < end; ++o)
    for (const ConstTensorView& x : c.in) {
      const size_t block = static_cast<size_t>(element_count(x.shape) / outer) * es;
      if (block) std::memcpy(dst, static_cast<const std::byte*>(x.data) + static_cast<size_t>(o) * block, block);
      dst += block;
    }
}

const Kernel kConcat{"ref", ir::OpKind::kConcat, nullptr, nullptr, nullptr, run_concat};

}  // namespace kerasrt::kernels::ref
