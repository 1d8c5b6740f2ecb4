// Reference data movement: reshape (a copy unless the planner aliased output and input), transpose
// and repeat, byte-wise so that every dtype works.
#include <array>
#include <cstring>

#include "kernels/ref/ref.hpp"

namespace kerasrt::kernels::ref {
namespace {

void run_reshape(const KernelCall& c) {
  const size_t bytes = static_cast<size_t>(element_count(c.in[0].shape)) * dtype_size(c.in[0].dtype);
  if (c.out[0].data != c.in[0].data && bytes) std::memmove(c.out[0].data, c.in[0].data, bytes);
}

void run_transpose(const KernelCall& c) {
  const auto& perm = c.node.as<ir::TransposeAttrs>().perm;
  const auto in_shape = c.in[0].shape;
  const size_t rank = in_shape.size(), es = dtype_size(c.in[0].dtype);
  std::array<int64_t, ir::kMaxTransposeRank> in_strides{}, out_dims{}, src_stride{}, idx{};
  int64_t step = 1;
  for (size_t a = rank; a-- > 0;) {
    in_strides[a] = step;
    step *= in_shape[a];
  }
  for (size_t i = 0; i < rank; ++i) {
    out_dims[i] = in_shape[perm[i]];
    src_stride[i] = in_strides[perm[i]];
  }
  const auto* x = static_cast<const std::byte*>(c.in[0].data);
  auto* y = static_cast<std::byte*>(c.out[0].data);
  const int64_t n = element_count(in_shape);
  int64_t src = 0;
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(y + i * es, x + src * es, es);
    // Step the output's row-major index, keeping the input offset in step with it.
    for (size_t a = rank; a-- > 0;) {
      src += src_stride[a];
      if (++idx[a] < out_dims[a]) break;
      src -= src_stride[a] * out_dims[a];
      idx[a] = 0;
    }
  }
}

void run_repeat(const KernelCall& c) {
  const auto& a = c.node.as<ir::RepeatAttrs>();
  const auto s = c.in[0].shape;
  const size_t es = dtype_size(c.in[0].dtype);
  const int64_t outer = element_count(s.subspan(0, a.axis));
  const size_t inner = static_cast<size_t>(element_count(s.subspan(a.axis))) * es;
  const auto* x = static_cast<const std::byte*>(c.in[0].data);
  auto* y = static_cast<std::byte*>(c.out[0].data);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t t = 0; t < a.times; ++t) std::memcpy(y + (o * a.times + t) * inner, x + o * inner, inner);
}

}  // namespace

// In place: the planner gives the output the input's memory when the input dies here, and then
// there is nothing to do.
const Kernel kReshape{"ref", ir::OpKind::kReshape, nullptr, nullptr, nullptr, run_reshape, true};
const Kernel kTranspose{"ref", ir::OpKind::kTranspose, nullptr, nullptr, nullptr, run_transpose};
const Kernel kRepeat{"ref", ir::OpKind::kRepeat, nullptr, nullptr, nullptr, run_repeat};

}  // namespace kerasrt::kernels::ref
