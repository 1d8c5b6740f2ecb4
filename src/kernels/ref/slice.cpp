// Reference indexing: every output element read through the resolved start and stride of each kept
// input axis, byte-wise so that every dtype works.
#include <array>
#include <cstring>

#include "kernels/ref/ref.hpp"

namespace kerasrt::kernels::ref {
namespace {

void run_slice(const KernelCall& c) {
  const auto& a = c.node.as<ir::SliceAttrs>();
  const auto in_shape = c.in[0].shape, out_shape = c.out[0].shape;
  const size_t es = dtype_size(c.in[0].dtype);
  // Output axis o reads input elements `stride[o]` apart (0 for an inserted axis).
  std::array<int64_t, ir::kMaxSliceRank> stride{}, idx{};
  int64_t base = 0, step = 1;
  std::array<int64_t, ir::kMaxSliceRank> in_stride{};
  for (size_t i = in_shape.size(); i-- > 0;) {
    in_stride[i] = step;
    step *= in_shape[i];
  }
  size_t o = 0, next_new = 0;
  for (size_t i = 0; i < in_shape.size(); ++i) {
    const ir::SliceRange r = ir::slice_range(a.axes[i], in_shape[i]);
    base += r.start * in_stride[i];
    if (a.axes[i].index) continue;
    while (next_new < a.new_axes.size() && a.new_axes[next_new] == static_cast<int>(o)) ++next_new, stride[o++] = 0;
    stride[o++] = r.step * in_stride[i];
  }
  const auto* x = static_cast<const std::byte*>(c.in[0].data);
  auto* y = static_cast<std::byte*>(c.out[0].data);
  const size_t rank = out_shape.size();
  const int64_t n = element_count(out_shape);
  int64_t src = base;
  for (int64_t k = 0; k < n; ++k) {
    std::memcpy(y + k * es, x + src * es, es);
    for (size_t d = rank; d-- > 0;) {  // step the output index, the input offset with it
      src += stride[d];
      if (++idx[d] < out_shape[d]) break;
      src -= stride[d] * out_shape[d];
      idx[d] = 0;
    }
  }
}

}  // namespace

const Kernel kSlice{"ref", ir::OpKind::kSlice, nullptr, nullptr, nullptr, run_slice};

}  // namespace kerasrt::kernels::ref
