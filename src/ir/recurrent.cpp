#include "ir/recurrent.hpp"

#include "ir/rules.hpp"

namespace kerasrt::ir {

int64_t rnn_gates(RnnCell c) { return c == RnnCell::kSimple ? 1 : c == RnnCell::kLstm ? 4 : 3; }
int64_t rnn_state_count(RnnCell c) { return c == RnnCell::kLstm ? 2 : 1; }
const char* rnn_cell_name(RnnCell c) { return c == RnnCell::kSimple ? "simple" : c == RnnCell::kLstm ? "lstm" : "gru"; }

namespace {
bool agree(int64_t a, int64_t b) { return a < 0 || b < 0 || a == b; }
}  // namespace

std::vector<TensorType> infer_rnn(const Node& node, std::span<const TensorType> in) {
  const auto& a = node.as<RnnAttrs>();
  const size_t states = a.initial_states ? static_cast<size_t>(rnn_state_count(a.cell)) : 0;
  expect_inputs(in, 1 + states + (a.has_mask ? 1 : 0));
  const std::string name = std::string("rnn (") + rnn_cell_name(a.cell) + ")";
  for (const auto& t : in)
    if (t.dtype != DType::kFloat32) throw Error(name + " takes float32, got " + dtype_name(t.dtype));
  const Shape& x = in[0].shape;
  if (x.size() != 3)
    throw Error(name + " expects inputs of shape (batch, time, features), got " + shape_to_string(x));
  if (x[1] == 0) throw Error(name + " cannot run over a sequence of length 0");
  if (x[2] >= 0 && x[2] != a.in)
    throw Error(name + " expects " + std::to_string(a.in) + " input features, got " + std::to_string(x[2]));
  const int64_t batch = x[0];
  for (size_t k = 0; k < states; ++k) {
    const Shape& s = in[1 + k].shape;
    if (s.size() != 2 || !agree(s[0], batch) || !agree(s[1], a.units))
      throw Error(name + ": initial state " + std::to_string(k) + " has shape " + shape_to_string(s) +
                  ", expected " + shape_to_string(Shape{batch, a.units}));
  }
  if (a.has_mask) {
    const Shape& m = in.back().shape;
    bool ok = m.size() >= 2 && agree(m[0], batch) && agree(m[1], x[1]);
    for (size_t i = 2; ok && i < m.size(); ++i) ok = m[i] == 1 || m[i] < 0;
    if (!ok) throw Error(name + ": the mask " + shape_to_string(m) + " does not match the input " + shape_to_string(x));
  }
  std::vector<TensorType> out;
  out.push_back({a.return_sequences ? Shape{batch, x[1], a.units} : Shape{batch, a.units}, DType::kFloat32});
  if (a.return_state)
    for (int64_t k = 0; k < rnn_state_count(a.cell); ++k) out.push_back({Shape{batch, a.units}, DType::kFloat32});
  return out;
}

}  // namespace kerasrt::ir
