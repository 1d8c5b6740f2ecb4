#include "ir/conv_recurrent.hpp"

#include "ir/attrs.hpp"
#include "ir/rules.hpp"

namespace kerasrt::ir {

ConvAttrs conv_lstm_recurrent(const ConvLstmAttrs& a) {
  ConvAttrs r = a.input;
  r.strides = {1, 1, 1};
  r.dilations = {1, 1, 1};
  r.padding = ConvPadding::kSame;
  r.in_channels = a.input.filters / 4;
  r.has_bias = false;
  r.activation = {};
  return r;
}

Shape conv_lstm_state_shape(const ConvLstmAttrs& a, std::span<const int64_t> step_in) {
  const ConvAttrs& c = a.input;
  const std::string name = "conv_lstm" + std::to_string(c.rank) + "d";
  if (step_in.size() != static_cast<size_t>(c.rank + 1))
    throw Error(name + " expects inputs of rank " + std::to_string(c.rank + 3) + " (batch, time, spatial..., channels)");
  const size_t ch = c.channels_first ? 0 : step_in.size() - 1, first = c.channels_first ? 1 : 0;
  if (step_in[ch] >= 0 && step_in[ch] != c.in_channels)
    throw Error(name + " expects " + std::to_string(c.in_channels) + " input channels, got " + std::to_string(step_in[ch]));
  Shape out(step_in.begin(), step_in.end());
  out[ch] = c.filters / 4;
  for (int d = 0; d < c.rank; ++d) {
    const int64_t n = step_in[first + d];
    if (n < 0) continue;
    const int64_t len = conv_axis(c, d, n).out;
    if (len <= 0) throw Error(name + ": the input is too small for the kernel");
    out[first + d] = len;
  }
  return out;
}

namespace {
bool agree(int64_t a, int64_t b) { return a < 0 || b < 0 || a == b; }
}  // namespace

std::vector<TensorType> infer_conv_lstm(const Node& node, std::span<const TensorType> in) {
  const auto& a = node.as<ConvLstmAttrs>();
  expect_inputs(in, 1 + (a.initial_states ? 2 : 0) + (a.has_mask ? 1 : 0));
  const std::string name = "conv_lstm" + std::to_string(a.input.rank) + "d";
  for (const auto& t : in)
    if (t.dtype != DType::kFloat32) throw Error(name + " takes float32, got " + dtype_name(t.dtype));
  const Shape& x = in[0].shape;
  if (x.size() != static_cast<size_t>(a.input.rank + 3))
    throw Error(name + " expects inputs of rank " + std::to_string(a.input.rank + 3) + ", got " + shape_to_string(x));
  if (x[1] == 0) throw Error(name + " cannot run over a sequence of length 0");
  Shape state{x[0]};
  for (int64_t d : conv_lstm_state_shape(a, std::span(x).subspan(2))) state.push_back(d);
  for (size_t k = 0; a.initial_states && k < 2; ++k) {
    const Shape& s = in[1 + k].shape;
    bool ok = s.size() == state.size();
    for (size_t i = 0; ok && i < s.size(); ++i) ok = agree(s[i], state[i]);
    if (!ok)
      throw Error(name + ": initial state " + std::to_string(k) + " has shape " + shape_to_string(s) + ", expected " +
                  shape_to_string(state));
  }
  if (a.has_mask) {
    const Shape& m = in.back().shape;
    bool ok = m.size() >= 2 && agree(m[0], x[0]) && agree(m[1], x[1]);
    for (size_t i = 2; ok && i < m.size(); ++i) ok = m[i] == 1 || m[i] < 0;
    if (!ok) throw Error(name + ": the mask " + shape_to_string(m) + " does not match the input " + shape_to_string(x));
  }
  std::vector<TensorType> out;
  Shape y = state;
  if (a.return_sequences) y.insert(y.begin() + 1, x[1]);
  out.push_back({y, DType::kFloat32});
  if (a.return_state) out.insert(out.end(), 2, TensorType{state, DType::kFloat32});
  return out;
}

}  // namespace kerasrt::ir
