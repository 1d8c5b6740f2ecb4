// Reference pad and nearest upsampling, byte-wise so that every dtype works: for each output row
// (an index of every axis but the last), the input row it reads (or none, for padding), then the
// row's elements.
#include <array>
#include <cstring>

#include "kernels/ref/ref.hpp"

namespace kerasrt::kernels::ref {
namespace {

constexpr size_t kMaxRank = ir::kMaxTransposeRank;

// Walks the output rows; `source(d, o)` gives the input index along axis d for output index o, or -1.
template <class Source, class Row>
void for_each_row(std::span<const int64_t> in_shape, std::span<const int64_t> out_shape, Source source, Row row) {
  const size_t rank = out_shape.size();
  if (rank == 0) return row(0, true);
  std::array<int64_t, kMaxRank> in_strides{}, idx{};
  int64_t step = 1;
  for (size_t d = rank; d-- > 0;) {
    in_strides[d] = step;
    step *= in_shape[d];
  }
  const int64_t rows = element_count(out_shape.subspan(0, rank - 1));
  if (out_shape[rank - 1] == 0) return;
  for (int64_t r = 0; r < rows; ++r) {
    int64_t src = 0;
    bool inside = true;
    for (size_t d = 0; d + 1 < rank; ++d) {
      const int64_t i = source(d, idx[d]);
      if (i < 0) inside = false;
      src += i * in_strides[d];
    }
    row(inside ? src : 0, inside);
    for (size_t d = rank - 1; d-- > 0;) {
      if (++idx[d] < out_shape[d]) break;
      idx[d] = 0;
    }
  }
}

void run_pad(const KernelCall& c) {
  const auto& a = c.node.as<ir::PadAttrs>();
  const auto in_shape = c.in[0].shape, out_shape = c.out[0].shape;
  const size_t es = dtype_size(c.in[0].dtype), rank = out_shape.size();
  const auto* x = static_cast<const std::byte*>(c.in[0].data);
  auto* y = static_cast<std::byte*>(c.out[0].data);
  if (rank == 0) return std::memcpy(y, x, es), void();
  auto source = [&](size_t d, int64_t o) {
    const int64_t i = o - a.before[d];
    return i >= 0 && i < in_shape[d] ? i : -1;
  };
  const int64_t len = out_shape[rank - 1];
  for_each_row(in_shape, out_shape, source, [&](int64_t src, bool inside) {
    for (int64_t o = 0; o < len; ++o) {
      const int64_t i = source(rank - 1, o);
      if (inside && i >= 0) std::memcpy(y, x + (src + i) * es, es);
      else std::memset(y, 0, es);
      y += es;
    }
  });
}

void run_upsample(const KernelCall& c) {
  const auto& f = c.node.as<ir::UpsampleAttrs>().factors;
  const auto in_shape = c.in[0].shape, out_shape = c.out[0].shape;
  const size_t es = dtype_size(c.in[0].dtype), rank = out_shape.size();
  const auto* x = static_cast<const std::byte*>(c.in[0].data);
  auto* y = static_cast<std::byte*>(c.out[0].data);
  if (rank == 0) return std::memcpy(y, x, es), void();
  const int64_t len = out_shape[rank - 1];
  for_each_row(in_shape, out_shape, [&](size_t d, int64_t o) { return o / f[d]; }, [&](int64_t src, bool) {
    for (int64_t o = 0; o < len; ++o, y += es) std::memcpy(y, x + (src + o / f[rank - 1]) * es, es);
  });
}

}  // namespace

const Kernel kPad{"ref", ir::OpKind::kPad, nullptr, nullptr, nullptr, run_pad};
const Kernel kUpsample{"ref", ir::OpKind::kUpsample, nullptr, nullptr, nullptr, run_upsample};

}  // namespace kerasrt::kernels::ref
