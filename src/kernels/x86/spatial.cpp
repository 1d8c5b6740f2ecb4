// Pad (zeros) and crop as whole runs of memory: the axes after the last padded one are contiguous in
// both tensors, so each output row along that axis is one zero run, one copied run and one zero run,
// instead of the reference's element-by-element copy.
#include <array>
#include <cstring>

#include "kernels/x86/x86.hpp"

namespace kerasrt::kernels::x86 {
namespace {

constexpr size_t kMaxRank = ir::kMaxTransposeRank;

bool pad_supports(const ir::Node&, std::span<const TensorType> in, std::span<const TensorType>) {
  return !in[0].shape.empty() && in[0].shape.size() <= kMaxRank;
}

void run_pad(const KernelCall& c) {
  const auto& a = c.node.as<ir::PadAttrs>();
  const auto in_shape = c.in[0].shape, out_shape = c.out[0].shape;
  const size_t rank = out_shape.size();
  if (element_count(out_shape) == 0) return;  // no bytes to write (and possibly no buffers)
  // p: the last axis with padding or cropping; everything after it moves as one block of bytes.
  size_t p = 0;
  for (size_t d = 0; d < rank; ++d)
    if (a.before[d] != 0 || a.after[d] != 0) p = d;
  size_t block = dtype_size(c.in[0].dtype);
  for (size_t d = p + 1; d < rank; ++d) block *= static_cast<size_t>(out_shape[d]);
  // Along axis p: output [lo, hi) reads input from `first`; the rest is zeros.
  // (Padding on one side and cropping on the other can leave fewer outputs than the padding.)
  const int64_t lo = std::min(std::max<int64_t>(a.before[p], 0), out_shape[p]);
  const int64_t first = std::max<int64_t>(-a.before[p], 0);
  const int64_t hi = std::max<int64_t>(lo, std::min(out_shape[p], a.before[p] + in_shape[p]));
  const size_t head = static_cast<size_t>(lo) * block, copy = static_cast<size_t>(hi - lo) * block;
  const size_t row_out = static_cast<size_t>(out_shape[p]) * block, tail = row_out - head - copy;
  const size_t row_in = static_cast<size_t>(in_shape[p]) * block;

  int64_t rows = 1;
  for (size_t d = 0; d < p; ++d) rows *= out_shape[d];
  const auto* x = static_cast<const std::byte*>(c.in[0].data);
  auto* y = static_cast<std::byte*>(c.out[0].data);
  const int64_t grain = std::max<int64_t>(1, static_cast<int64_t>((64 << 10) / std::max<size_t>(row_out, 1)));
  c.ctx.parallel_for(rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      // Output row r as indices of axes [0, p); the input row it reads, unless one of them is padding.
      int64_t rest = r, src = 0, stride = 1;
      bool inside = true;
      for (size_t d = p; d-- > 0;) {
        const int64_t o = rest % out_shape[d];
        rest /= out_shape[d];
        const int64_t i = o - a.before[d];
        inside = inside && i >= 0 && i < in_shape[d];
        src += i * stride;
        stride *= in_shape[d];
      }
      std::byte* dst = y + static_cast<size_t>(r) * row_out;
      if (!inside) {
        std::memset(dst, 0, row_out);
        continue;
      }
      std::memset(dst, 0, head);
      if (copy) std::memcpy(dst + head, x + static_cast<size_t>(src) * row_in + static_cast<size_t>(first) * block, copy);
      std::memset(dst + head + copy, 0, tail);
    }
  });
}

}  // namespace

const Kernel kPadRuns{"runs", ir::OpKind::kPad, pad_supports, nullptr, nullptr, run_pad};

}  // namespace kerasrt::kernels::x86
