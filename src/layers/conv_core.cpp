#include "layers/conv_core.hpp"

#include <algorithm>

namespace kerasrt::layers {

// How one spatial axis maps output positions and kernel taps to input positions.
struct ConvCore::AxisMap {
  int64_t in = 1, out = 1, kernel = 1, stride = 1, dilation = 1;
  // Forward conv: input = o*stride - offset + k*dilation.
  // Transposed conv: the full (uncropped) output position o + offset receives input i from tap k
  // when it equals i*stride + k*dilation.
  int64_t offset = 0;
  bool transposed = false;

  // The input index for output index `o` and tap `k`, or -1 when the tap reads padding.
  int64_t source(int64_t o, int64_t k) const {
    if (!transposed) {
      int64_t i = o * stride - offset + k * dilation;
      return i >= 0 && i < in ? i : -1;
    }
    int64_t q = o + offset - k * dilation;
    if (q < 0 || q % stride != 0) return -1;
    int64_t i = q / stride;
    return i < in ? i : -1;
  }
};

Shape ConvCore::output_shape(const Shape& in, const char* layer) const {
  const int rank = window_.rank;
  if (in.size() != static_cast<size_t>(rank + 2))
    throw Error(std::string(layer) + " expects a rank-" + std::to_string(rank + 2) + " input, got " +
                shape_to_string(in));
  int64_t channels = window_.channels_first ? in[1] : in.back();
  if (channels >= 0 && channels != in_channels_)
    throw Error(std::string(layer) + " expects " + std::to_string(in_channels_) + " input channels, got input " +
                shape_to_string(in));
  int first_spatial = window_.channels_first ? 2 : 1;
  Shape out = in;
  out[window_.channels_first ? 1 : in.size() - 1] = filters_;
  for (int d = 0; d < rank; ++d) {
    int64_t n = in[first_spatial + d];
    if (n < 0) continue;
    int64_t len = axis_map(d, n).out;
    if (len <= 0)
      throw Error(std::string(layer) + ": input " + shape_to_string(in) +
                  " is too small for the kernel (output size would be " + std::to_string(len) + ")");
    out[first_spatial + d] = len;
  }
  return out;
}

void ConvCore::run(const ConstView& x, const MutView& y, bool accumulate) const {
  // The layouts put the spatial axes in the last `rank` of three slots; the leading slots have
  // size 1, and so does the kernel along them.
  const int rank = window_.rank, first_slot = kMaxRank - rank;
  const SpatialLayout lx = spatial_layout(x.shape, window_.channels_first);
  const SpatialLayout ly = spatial_layout(y.shape, window_.channels_first);
  std::array<AxisMap, kMaxRank> axes;
  Dims k{1, 1, 1};
  for (int d = 0; d < rank; ++d) {
    axes[first_slot + d] = axis_map(d, lx.dims[first_slot + d]);
    k[first_slot + d] = window_.kernel[d];
  }
  const int64_t batch = x.shape[0];
  const int64_t cpg = in_channels_ / groups_, fpg = filters_ / groups_;
  std::vector<float> acc(static_cast<size_t>(filters_));
  for (int64_t b = 0; b < batch; ++b) {
    const float* xb = x.data + b * lx.batch_stride;
    float* yb = y.data + b * ly.batch_stride;
    for (int64_t o0 = 0; o0 < ly.dims[0]; ++o0)
      for (int64_t o1 = 0; o1 < ly.dims[1]; ++o1)
        for (int64_t o2 = 0; o2 < ly.dims[2]; ++o2) {
          float* yp = yb + o0 * ly.strides[0] + o1 * ly.strides[1] + o2 * ly.strides[2];
          if (accumulate) {
            for (int64_t f = 0; f < filters_; ++f) acc[f] = yp[f * ly.channel_stride];
            for (size_t f = 0; f < bias_.size(); ++f) acc[f] += bias_[f];
          } else if (bias_.empty()) {
            std::fill(acc.begin(), acc.end(), 0.f);
          } else {
            std::copy(bias_.begin(), bias_.end(), acc.begin());
          }
          for (int64_t k0 = 0; k0 < k[0]; ++k0) {
            int64_t i0 = axes[0].source(o0, k0);
            if (i0 < 0) continue;
            for (int64_t k1 = 0; k1 < k[1]; ++k1) {
              int64_t i1 = axes[1].source(o1, k1);
              if (i1 < 0) continue;
              for (int64_t k2 = 0; k2 < k[2]; ++k2) {
                int64_t i2 = axes[2].source(o2, k2);
                if (i2 < 0) continue;
                const float* xp = xb + i0 * lx.strides[0] + i1 * lx.strides[1] + i2 * lx.strides[2];
                const float* w_tap = kernel_.data() + ((k0 * k[1] + k1) * k[2] + k2) * cpg * filters_;
                for (int64_t g = 0; g < groups_; ++g)
                  for (int64_t c = 0; c < cpg; ++c) {
                    const float xv = xp[(g * cpg + c) * lx.channel_stride];
                    const float* w = w_tap + c * filters_ + g * fpg;
                    float* a = acc.data() + g * fpg;
                    for (int64_t f = 0; f < fpg; ++f) a[f] += xv * w[f];
                  }
              }
            }
          }
          for (int64_t f = 0; f < filters_; ++f) yp[f * ly.channel_stride] = acc[f];
        }
  }
}

// Geometry of spatial axis `d` for an input of length `in`.
ConvCore::AxisMap ConvCore::axis_map(int d, int64_t in) const {
  AxisMap m;
  m.in = in;
  m.kernel = window_.kernel[d];
  m.stride = window_.stride[d];
  m.dilation = window_.dilation[d];
  const int64_t effective = (m.kernel - 1) * m.dilation + 1;
  if (!transposed_) {
    m.out = conv_output_length(in, m.kernel, m.stride, m.dilation,
                               window_.padding == Padding::kValid ? "valid" : "same");
    if (window_.padding == Padding::kSame) m.offset = same_pad_front(in, m.kernel, m.stride, m.dilation);
    if (window_.padding == Padding::kCausal) m.offset = effective - 1;
    return m;
  }
  // Keras pads the stride-dilated input by (left, right) and correlates with the flipped kernel;
  // equivalently the full transposed output, (in-1)*stride + effective long, is cropped by
  // effective-1-left at the front (a negative crop pads with zeros).
  m.transposed = true;
  const int64_t s = m.stride, op = output_padding_[d];
  int64_t left = 0, right = 0;
  if (window_.padding == Padding::kValid) {
    left = effective - 1;
    right = effective - 1 + (op < 0 ? std::max(effective, s) - effective : op);
  } else {
    int64_t total = op < 0 ? s + effective - 2 : effective + effective % 2 - 2 + op;
    left = std::min(total / 2 + total % 2, effective - 1);
    right = total - left;
  }
  m.out = (in - 1) * s + left + right - effective + 2;
  m.offset = effective - 1 - left;
  return m;
}

}  // namespace kerasrt::layers
