// Reference pooling: every output cell reduces its box of input cells, one channel at a time.
#include <cmath>
#include <limits>

#include "kernels/pooling_layout.hpp"
#include "kernels/ref/ref.hpp"

namespace kerasrt::kernels::ref {
namespace {

void run_pool(const KernelCall& c) {
  const auto& p = c.node.as<ir::PoolAttrs>();
  const PoolLayout li = pool_layout(c.in[0].shape, p.spatial, p.channels_first);
  const PoolLayout lo = pool_layout(c.in[0].shape, p.spatial, p.channels_first, &p);
  const float* x = static_cast<const float*>(c.in[0].data);
  float* y = static_cast<float*>(c.out[0].data);
  const float* mask = c.in.size() > 1 ? static_cast<const float*>(c.in[1].data) : nullptr;
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
