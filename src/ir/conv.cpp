#include "ir/conv.hpp"

#include <algorithm>

#include "ir/rules.hpp"

namespace kerasrt::ir {

const char* conv_padding_name(ConvPadding p) {
  switch (p) {
    case ConvPadding::kValid: return "valid";
    case ConvPadding::kSame: return "same";
    case ConvPadding::kCausal: return "causal";
    case ConvPadding::kExplicit: return "explicit";
  }
  return "?";
}

ConvAxis conv_axis(const ConvAttrs& a, int d, int64_t in) {
  ConvAxis m;
  m.in = in;
  m.kernel = a.kernel[d];
  m.stride = a.strides[d];
  m.dilation = a.dilations[d];
  const int64_t s = m.stride, effective = (m.kernel - 1) * m.dilation + 1;
  if (!a.transpose) {
    if (a.padding == ConvPadding::kValid || a.padding == ConvPadding::kExplicit) {
      const int64_t padded = in + (a.padding == ConvPadding::kExplicit ? a.pad_before[d] + a.pad_after[d] : 0);
      m.out = padded >= effective ? (padded - effective) / s + 1 : 0;
      if (a.padding == ConvPadding::kExplicit) m.offset = a.pad_before[d];
      return m;
    }
    m.out = (in + s - 1) / s;
    if (a.padding == ConvPadding::kCausal) {
      m.offset = effective - 1;
    } else {  // Keras (and TF) put the smaller half of the "same" padding in front
      const int64_t total = std::max<int64_t>((m.out - 1) * s + effective - in, 0);
      m.offset = total / 2;
    }
    return m;
  }
  // Keras pads the stride-dilated input by (left, right) and correlates with the flipped kernel;
  // equivalently the full transposed output, (in-1)*stride + effective long, is cropped by
  // effective-1-left at the front (a negative crop pads with zeros).
  m.transpose = true;
  const int64_t op = a.output_padding[d];
  int64_t left = 0, right = 0;
  if (a.padding == ConvPadding::kValid) {
    left = effective - 1;
    right = effective - 1 + (op < 0 ? std::max(effective, s) - effective : op);
  } else {
    const int64_t total = op < 0 ? s + effective - 2 : effective + effective % 2 - 2 + op;
    left = std::min(total / 2 + total % 2, effective - 1);
    right = total - left;
  }
  m.out = (in - 1) * s + left + right - effective + 2;
  m.offset = effective - 1 - left;
  return m;
}

std::vector<TensorType> infer_conv(const Node& node, std::span<const TensorType> in) {
  expect_inputs(in, 1);
  const auto& a = node.as<ConvAttrs>();
  const Shape& x = in[0].shape;
  if (in[0].dtype != DType::kFloat32) throw Error(std::string("conv takes float32, got ") + dtype_name(in[0].dtype));
  if (x.size() != static_cast<size_t>(a.rank + 2))
    throw Error("conv expects a rank-" + std::to_string(a.rank + 2) + " input, got " + shape_to_string(x));
  if (a.transpose && a.padding == ConvPadding::kExplicit)
    throw Error("conv: explicit padding is for forward convolutions only");
  const size_t channel_axis = a.channels_first ? 1 : x.size() - 1;
  if (x[channel_axis] >= 0 && x[channel_axis] != a.in_channels)
    throw Error("conv expects " + std::to_string(a.in_channels) + " input channels, got input " + shape_to_string(x));
  const size_t first_spatial = a.channels_first ? 2 : 1;
  TensorType out = in[0];
  out.shape[channel_axis] = a.filters;
  for (int d = 0; d < a.rank; ++d) {
    const int64_t n = x[first_spatial + d];
    if (n < 0) continue;
    const int64_t len = conv_axis(a, d, n).out;
    if (len <= 0)
      throw Error("conv: input " + shape_to_string(x) + " is too small for the kernel (output size would be " +
                  std::to_string(len) + ")");
    out.shape[first_spatial + d] = len;
  }
  return {out};
}

}  // namespace kerasrt::ir
