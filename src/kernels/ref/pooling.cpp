// Reference pooling: every output cell reduces its box of input cells, one channel at a time.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/pooling_layout.hpp"
#include "kernels/ref/ref.hpp"

namespace kerasrt::kernels::ref {
namespace {

// The mean of output cell `o`'s whole window, cells outside the input taking the nearest edge
// cell's value (Keras 3.0-3.15's torch "same" average pooling with uneven padding).
float replicated_mean(const ir::PoolAttrs& p, const PoolLayout& li, const float* xc, const int64_t o[3]) {
  const int s0 = 3 - p.spatial;
  int64_t begin[3] = {0, 0, 0}, size[3] = {1, 1, 1};
  for (int k = s0; k < 3; ++k) {
    begin[k] = o[k] * p.strides[k - s0] - ir::same_padding_total(p, k - s0, li.dims[k]) / 2;
    size[k] = p.size[k - s0];
  }
  auto clamp = [&](int k, int64_t i) { return std::min(std::max<int64_t>(begin[k] + i, 0), li.dims[k] - 1); };
  double sum = 0;
  for (int64_t i0 = 0; i0 < size[0]; ++i0)
    for (int64_t i1 = 0; i1 < size[1]; ++i1)
      for (int64_t i2 = 0; i2 < size[2]; ++i2)
        sum += xc[clamp(0, i0) * li.strides[0] + clamp(1, i1) * li.strides[1] + clamp(2, i2) * li.strides[2]];
  return static_cast<float>(sum / static_cast<double>(size[0] * size[1] * size[2]));
}

void run_pool(const KernelCall& c) {
  const auto& p = c.node.as<ir::PoolAttrs>();
  const PoolLayout li = pool_layout(c.in[0].shape, p.spatial, p.channels_first);
  const PoolLayout lo = pool_layout(c.in[0].shape, p.spatial, p.channels_first, &p);
  const float* x = static_cast<const float*>(c.in[0].data);
  float* y = static_cast<float*>(c.out[0].data);
  const float* mask = c.in.size() > 1 ? static_cast<const float*>(c.in[1].data) : nullptr;
  const int s0 = 3 - p.spatial;
  const bool replicate = ir::pool_replicates_edges(p, std::span<const int64_t>(li.dims.data() + s0, p.spatial));
  for (int64_t b = 0; b < li.batch; ++b)
    for (int64_t ch = 0; ch < li.channels; ++ch) {
      const float* xc = x + b * li.batch_stride + ch * li.channel_stride;
      float* yc = y + b * lo.batch_stride + ch * lo.channel_stride;
      for (int64_t o0 = 0; o0 < lo.dims[0]; ++o0)
        for (int64_t o1 = 0; o1 < lo.dims[1]; ++o1)
          for (int64_t o2 = 0; o2 < lo.dims[2]; ++o2) {
            const int64_t o[3] = {o0, o1, o2};
            int64_t lo_[3], hi_[3];
            pool_window_bounds(p, li, o, lo_, hi_);
            if (replicate) {
              yc[o0 * lo.strides[0] + o1 * lo.strides[1] + o2 * lo.strides[2]] = replicated_mean(p, li, xc, o);
              continue;
            }
            float best = -std::numeric_limits<float>::infinity();
            double sum = 0, count = 0;
            for (int64_t i0 = lo_[0]; i0 < hi_[0]; ++i0)
              for (int64_t i1 = lo_[1]; i1 < hi_[1]; ++i1)
                for (int64_t i2 = lo_[2]; i2 < hi_[2]; ++i2) {
                  if (mask && mask[b * li.dims[2] + i2] == 0.f) continue;
                  const float v = xc[i0 * li.strides[0] + i1 * li.strides[1] + i2 * li.strides[2]];
                  if (v > best || std::isnan(v)) best = v;  // NaN wins, as in torch
                  sum += v;
                  count += 1;
                }
            yc[o0 * lo.strides[0] + o1 * lo.strides[1] + o2 * lo.strides[2]] =
                p.reduce == ir::PoolReduce::kMax ? best : static_cast<float>(sum / count);
          }
    }
}

}  // namespace

const Kernel kPool{"ref", ir::OpKind::kPool, nullptr, nullptr, nullptr, run_pool};

}  // namespace kerasrt::kernels::ref
