// batch_norm over the last axis (channels_last), the common case after a convolution or dense
// layer: a per-channel affine map over contiguous rows, which vectorises; may run in place.
#include <algorithm>

#include "kernels/x86/x86.hpp"

namespace kerasrt::kernels::x86 {
namespace {

bool batch_norm_supports(const ir::Node& node, std::span<const TensorType> in, std::span<const TensorType>) {
  const auto& a = node.as<ir::BatchNormAttrs>();
  return !a.batch_statistics && a.axes.size() == 1 && a.axes[0] == static_cast<int>(in[0].shape.size()) - 1;
}

void run_batch_norm(const KernelCall& c) {
  const float* x = static_cast<const float*>(c.in[0].data);
  float* y = static_cast<float*>(c.out[0].data);
  const float* scale = c.node.weight(0).values<float>().data();
  const float* shift = c.node.weight(1).values<float>().data();
  const int64_t channels = c.in[0].shape.back();
  const int64_t rows = channels ? element_count(c.in[0].shape) / channels : 0;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(channels, 1));
  c.ctx.parallel_for(rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* xr = x + r * channels;
      float* yr = y + r * channels;
      for (int64_t j = 0; j < channels; ++j) yr[j] = xr[j] * scale[j] + shift[j];
    }
  });
}

}  // namespace

const Kernel kBatchNormChannelsLast{"channels_last", ir::OpKind::kBatchNorm, batch_norm_supports, nullptr, nullptr,
                                    run_batch_norm, true};

}  // namespace kerasrt::kernels::x86
