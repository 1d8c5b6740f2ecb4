// Channels-last pooling: each output cell reduces its window a channel row at a time, so the inner
// loop runs over contiguous channels and vectorises. Sums are in double and in the reference's
// order (window cells in row-major order), so results are bit-identical to it.
#include <algorithm>
#include <limits>

#include "kernels/pooling_layout.hpp"
#include "kernels/x86/x86.hpp"

namespace kerasrt::kernels::x86 {
namespace {

constexpr int64_t kBlock = 64;  // channels per accumulator block (on the stack)

bool pool_supports(const ir::Node& node, std::span<const TensorType> in, std::span<const TensorType>) {
  const auto& p = node.as<ir::PoolAttrs>();
  // Keras 3.0-3.15's edge-replicated "same" means are left to the reference kernel.
  return !p.channels_first && in.size() == 1 && !p.same_replicates_edges;
}

void run_pool(const KernelCall& c) {
  const auto& p = c.node.as<ir::PoolAttrs>();
  const PoolLayout li = pool_layout(c.in[0].shape, p.spatial, p.channels_first);
  const PoolLayout lo = pool_layout(c.in[0].shape, p.spatial, p.channels_first, &p);
  const float* x = static_cast<const float*>(c.in[0].data);
  float* y = static_cast<float*>(c.out[0].data);
  const int64_t C = li.channels;
  const int s0 = 3 - p.spatial;
  const int64_t per_batch = lo.dims[0] * lo.dims[1] * lo.dims[2];
  // Rough work per output cell, to keep tasks big enough to be worth a thread.
  int64_t window = 1;
  for (int k = s0; k < 3; ++k) {
    auto [b, e] = ir::pool_window(p, k - s0, li.dims[k], 0);
    window *= std::max<int64_t>(e - b, 1);
  }
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, window * C));
  c.ctx.parallel_for(li.batch * per_batch, grain, [&](int64_t begin, int64_t end) {
    for (int64_t cell = begin; cell < end; ++cell) {
      const int64_t b = cell / per_batch, r = cell % per_batch;
      const int64_t o[3] = {r / (lo.dims[1] * lo.dims[2]), r / lo.dims[2] % lo.dims[1], r % lo.dims[2]};
      int64_t lo_[3], hi_[3];
      pool_window_bounds(p, li, o, lo_, hi_);
      const float* xb = x + b * li.batch_stride;
      float* yc = y + b * lo.batch_stride + o[0] * lo.strides[0] + o[1] * lo.strides[1] + o[2] * lo.strides[2];
      const double count = static_cast<double>((hi_[0] - lo_[0]) * (hi_[1] - lo_[1]) * (hi_[2] - lo_[2]));
      for (int64_t c0 = 0; c0 < C; c0 += kBlock) {
        const int64_t n = std::min(kBlock, C - c0);
        if (p.reduce == ir::PoolReduce::kMax) {
          float best[kBlock];
          std::fill_n(best, n, -std::numeric_limits<float>::infinity());
          for (int64_t i0 = lo_[0]; i0 < hi_[0]; ++i0)
            for (int64_t i1 = lo_[1]; i1 < hi_[1]; ++i1)
              for (int64_t i2 = lo_[2]; i2 < hi_[2]; ++i2) {
                const float* row = xb + i0 * li.strides[0] + i1 * li.strides[1] + i2 * li.strides[2] + c0;
                for (int64_t j = 0; j < n; ++j) {
                  const float v = row[j];
                  best[j] = (v > best[j] || v != v) ? v : best[j];  // NaN wins, as in the reference
                }
              }
          std::copy_n(best, n, yc + c0);
        } else {
          double acc[kBlock];
          std::fill_n(acc, n, 0.0);
          for (int64_t i0 = lo_[0]; i0 < hi_[0]; ++i0)
            for (int64_t i1 = lo_[1]; i1 < hi_[1]; ++i1)
              for (int64_t i2 = lo_[2]; i2 < hi_[2]; ++i2) {
                const float* row = xb + i0 * li.strides[0] + i1 * li.strides[1] + i2 * li.strides[2] + c0;
                for (int64_t j = 0; j < n; ++j) acc[j] += row[j];
              }
          for (int64_t j = 0; j < n; ++j) yc[c0 + j] = static_cast<float>(acc[j] / count);
        }
      }
    }
  });
}

}  // namespace

const Kernel kPoolChannelsLast{"channels_last", ir::OpKind::kPool, pool_supports, nullptr, nullptr, run_pool};

}  // namespace kerasrt::kernels::x86
