// Reference convolution: for each output position, the bias, then every kernel tap that lands
// inside the input, channel by channel, then the activation. Forward and transposed, any rank,
// either data format, any groups.
#include <algorithm>

#include "kernels/conv_layout.hpp"
#include "kernels/ref/ref.hpp"

namespace kerasrt::kernels::ref {
namespace {

size_t conv_scratch(const ir::Node& node, std::span<const TensorType>, std::span<const TensorType> out) {
  const auto& a = node.as<ir::ConvAttrs>();
  return static_cast<size_t>(a.filters) * sizeof(float) + activation_scratch_bytes(a.activation, out[0].shape.back());
}

void run_conv(const KernelCall& c) {
  const auto& a = c.node.as<ir::ConvAttrs>();
  float* y = static_cast<float*>(c.out[0].data);
  float* acc = reinterpret_cast<float*>(c.ctx.scratch.data());
  conv_reference(a, static_cast<const float*>(c.in[0].data), c.in[0].shape, c.node.weight(0).values<float>().data(),
                 a.has_bias ? c.node.weight(1).values<float>().data() : nullptr, y, c.out[0].shape, acc);
  const int64_t n = element_count(c.out[0].shape), last = c.out[0].shape.back();
  apply_unary(a.activation, y, y, n, last, acc + a.filters);
}

}  // namespace

void conv_reference(const ir::ConvAttrs& a, const float* x, std::span<const int64_t> x_shape, const float* kernel,
                    const float* bias, float* y, std::span<const int64_t> y_shape, float* acc) {
  const SpatialLayout lx = spatial_layout(x_shape, a.channels_first);
  const SpatialLayout ly = spatial_layout(y_shape, a.channels_first);
  const std::array<ir::ConvAxis, 3> axes = conv_axes(a, lx);
  const int64_t cpg = a.in_channels / a.groups, fpg = a.filters / a.groups;
  for (int64_t b = 0; b < lx.batch; ++b) {
    const float* xb = x + b * lx.batch_stride;
    float* yb = y + b * ly.batch_stride;
    for (int64_t o0 = 0; o0 < ly.dims[0]; ++o0)
      for (int64_t o1 = 0; o1 < ly.dims[1]; ++o1)
        for (int64_t o2 = 0; o2 < ly.dims[2]; ++o2) {
          if (bias) std::copy(bias, bias + a.filters, acc);
          else std::fill(acc, acc + a.filters, 0.f);
          for (int64_t k0 = 0; k0 < axes[0].kernel; ++k0) {
            const int64_t i0 = axes[0].source(o0, k0);
            if (i0 < 0) continue;
            for (int64_t k1 = 0; k1 < axes[1].kernel; ++k1) {
              const int64_t i1 = axes[1].source(o1, k1);
              if (i1 < 0) continue;
              for (int64_t k2 = 0; k2 < axes[2].kernel; ++k2) {
                const int64_t i2 = axes[2].source(o2, k2);
                if (i2 < 0) continue;
                const float* xp = xb + i0 * lx.strides[0] + i1 * lx.strides[1] + i2 * lx.strides[2];
                const int64_t tap = (k0 * axes[1].kernel + k1) * axes[2].kernel + k2;
                const float* w_tap = kernel + tap * cpg * a.filters;
                for (int64_t g = 0; g < a.groups; ++g)
                  for (int64_t ch = 0; ch < cpg; ++ch) {
                    const float xv = xp[(g * cpg + ch) * lx.channel_stride];
                    const float* w = w_tap + ch * a.filters + g * fpg;
                    float* ag = acc + g * fpg;
                    for (int64_t f = 0; f < fpg; ++f) ag[f] += xv * w[f];
                  }
              }
            }
          }
          float* yp = yb + o0 * ly.strides[0] + o1 * ly.strides[1] + o2 * ly.strides[2];
          for (int64_t f = 0; f < a.filters; ++f) yp[f * ly.channel_stride] = acc[f];
        }
  }
}

const Kernel kConv{"ref", ir::OpKind::kConv, nullptr, conv_scratch, nullptr, run_conv};

}  // namespace kerasrt::kernels::ref
