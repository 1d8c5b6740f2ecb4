// SimpleRNN, LSTM, GRU, RNN(cells), ConvLSTM: hand-computed sequences and naive per-unit references.
#include "harness.hpp"

namespace kerasrt::testing {
namespace {

using nlohmann::json;

float sigm(float x) { return 1.f / (1.f + std::exp(-x)); }

// ---- naive references: one sample, one unit at a time, straight from the gate equations ----------
struct Dense3 {  // kernel (in, g*u), recurrent (u, g*u), bias
  int in, units;
  std::vector<float> k, r, b;
  // (x·K + h·R + bias)[col]
  float pre(const float* x, const std::vector<float>& h, int col, int g, const float* bias) const {
    float s = bias ? bias[col] : 0.f;
    for (int i = 0; i < in; ++i) s += x[i] * k[i * g * units + col];
    for (int m = 0; m < units; ++m) s += h[m] * r[m * g * units + col];
    return s;
  }
};

// LSTM over one sample's sequence (gate order i, f, c, o); returns every h, updates h and c.
std::vector<std::vector<float>> naive_lstm(const Dense3& w, const float* xs, int steps, std::vector<float>& h,
                                           std::vector<float>& c, bool backwards) {
  std::vector<std::vector<float>> outs;
  const int u = w.units;
  for (int s = 0; s < steps; ++s) {
    const float* x = xs + (backwards ? steps - 1 - s : s) * w.in;
    std::vector<float> nh(u), nc(u);
    for (int j = 0; j < u; ++j) {
      const float* b = w.b.empty() ? nullptr : w.b.data();
      float i = sigm(w.pre(x, h, j, 4, b));
      float f = sigm(w.pre(x, h, u + j, 4, b));
      float g = std::tanh(w.pre(x, h, 2 * u + j, 4, b));
      float o = sigm(w.pre(x, h, 3 * u + j, 4, b));
      nc[j] = f * c[j] + i * g;
      nh[j] = o * std::tanh(nc[j]);
    }
    h = nh, c = nc;
    outs.push_back(h);
  }
  return outs;
}

// GRU (gate order z, r, h); bias is (2, 3u) for reset_after, (3u) otherwise.
std::vector<std::vector<float>> naive_gru(const Dense3& w, const float* xs, int steps, std::vector<float>& h,
                                          bool reset_after) {
  std::vector<std::vector<float>> outs;
  const int u = w.units;
  for (int s = 0; s < steps; ++s) {
    const float* x = xs + s * w.in;
    std::vector<float> nh(u);
    for (int j = 0; j < u; ++j) {
      auto xpart = [&](int col) {
        float v = w.b.empty() ? 0.f : w.b[col];
        for (int i = 0; i < w.in; ++i) v += x[i] * w.k[i * 3 * u + col];
        return v;
      };
      auto hpart = [&](int col, const std::vector<float>& hv) {
        float v = reset_after && !w.b.empty() ? w.b[3 * u + col] : 0.f;
        for (int m = 0; m < u; ++m) v += hv[m] * w.r[m * 3 * u + col];
        return v;
      };
      float z = sigm(xpart(j) + hpart(j, h));
      float cand;
      if (reset_after) {
        float r = sigm(xpart(u + j) + hpart(u + j, h));
        cand = std::tanh(xpart(2 * u + j) + r * hpart(2 * u + j, h));
      } else {
        std::vector<float> rh(u);
        for (int m = 0; m < u; ++m) rh[m] = sigm(xpart(u + m) + hpart(u + m, h)) * h[m];
        cand = std::tanh(xpart(2 * u + j) + hpart(2 * u + j, rh));
      }
      nh[j] = z * h[j] + (1.f - z) * cand;
    }
    h = nh;
    outs.push_back(h);
  }
  return outs;
}

Dense3 random_weights(int in, int units, int gates, std::mt19937& rng, Shape bias_shape) {
  Dense3 w{in, units, {}, {}, {}};
  w.k = random_tensor({in, gates * units}, rng).to_floats();
  w.r = random_tensor({units, gates * units}, rng).to_floats();
  if (!bias_shape.empty()) w.b = random_tensor(bias_shape, rng).to_floats();
  return w;
}

std::vector<Weights::Entry> entries(const Dense3& w, int gates, Shape bias_shape) {
  std::vector<Weights::Entry> e{{"kernel", {w.in, gates * w.units}, w.k}, {"recurrent_kernel", {w.units, gates * w.units}, w.r}};
  if (!bias_shape.empty()) e.push_back({"bias", bias_shape, w.b});
  return e;
}

// ---- SimpleRNN, by hand ----------------------------------------------------------------------------
// units=1, linear: h_t = 2 x_t + 0.5 h_{t-1} + 1
std::vector<Weights::Entry> scalar_rnn_weights() {
  return {{"kernel", {1, 1}, {2}}, {"recurrent_kernel", {1, 1}, {0.5f}}, {"bias", {1}, {1}}};
}

TEST(SimpleRNN, LinearSequenceByHand) {
  auto op = make_op(layer("SimpleRNN", {{"units", 1}, {"activation", "linear"}, {"return_sequences", true}}),
                    scalar_rnn_weights());
  auto out = run_op(*op, {Tensor({1, 3, 1}, {1, 2, 3})});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].shape, (Shape{1, 3, 1}));
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{3, 6.5f, 10.25f}));
}

TEST(SimpleRNN, LastOutputAndDefaultTanh) {
  auto op = make_op(layer("SimpleRNN", {{"units", 1}}), scalar_rnn_weights());  // activation defaults to tanh
  auto out = run_op(*op, {Tensor({1, 2, 1}, {1, -1})});
  float h1 = std::tanh(3.f), h2 = std::tanh(-2.f + 0.5f * h1 + 1.f);
  EXPECT_EQ(out[0].shape, (Shape{1, 1}));
  EXPECT_NEAR(out[0].floats()[0], h2, 1e-6);
}

TEST(SimpleRNN, GoBackwardsReturnsStepsInWalkingOrder) {
  auto op = make_op(layer("SimpleRNN", {{"units", 1}, {"activation", "linear"}, {"return_sequences", true},
                                        {"go_backwards", true}}),
                    scalar_rnn_weights());
  auto out = run_op(*op, {Tensor({1, 3, 1}, {1, 2, 3})});
  // walks 3, 2, 1: 7, then 4+1+3.5, then 2+1+4.25
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{7, 8.5f, 7.25f}));
}

TEST(SimpleRNN, MaskedStepsRepeatPreviousOutputAndKeepState) {
  auto op = make_op(layer("SimpleRNN", {{"units", 1}, {"activation", "linear"}, {"return_sequences", true}}),
                    scalar_rnn_weights(), keyword_call(0, true));
  auto out = run_op(*op, {Tensor({2, 3, 1}, {1, 2, 3, 1, 2, 3}), Tensor({2, 3}, {1, 0, 1, 0, 1, 1})});
  // sample 0: 3, masked (3, state 3), 6+1+1.5; sample 1: masked first (0, state 0), 5, 6+1+2.5
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{3, 3, 8.5f, 0, 5, 9.5f}));
}

TEST(SimpleRNN, ZeroOutputForMask) {
  auto op = make_op(layer("SimpleRNN", {{"units", 1}, {"activation", "linear"}, {"return_sequences", true},
                                        {"zero_output_for_mask", true}, {"return_state", true}}),
                    scalar_rnn_weights(), keyword_call(0, true));
  auto out = run_op(*op, {Tensor({1, 3, 1}, {1, 2, 3}), Tensor({1, 3}, {1, 1, 0})});
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{3, 6.5f, 0}));
  EXPECT_EQ(out[1].to_floats(), (std::vector<float>{6.5f}));  // the state skips the masked step
}

TEST(SimpleRNN, MaskWithGoBackwardsFollowsInputPositions) {
  auto op = make_op(layer("SimpleRNN", {{"units", 1}, {"activation", "linear"}, {"return_sequences", true},
                                        {"go_backwards", true}}),
                    scalar_rnn_weights(), keyword_call(0, true));
  // input position 2 (walked first) is masked: 0, then 4+1=5, then 2+1+2.5
  auto out = run_op(*op, {Tensor({1, 3, 1}, {1, 2, 3}), Tensor({1, 3}, {1, 1, 0})});
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{0, 5, 5.5f}));
}

TEST(SimpleRNN, MaskedLastStepGivesLastUnmaskedOutput) {
  auto op = make_op(layer("SimpleRNN", {{"units", 1}, {"activation", "linear"}}), scalar_rnn_weights(),
                    keyword_call(0, true));
  auto out = run_op(*op, {Tensor({1, 3, 1}, {1, 2, 3}), Tensor({1, 3}, {1, 1, 0})});
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{6.5f}));
}

TEST(SimpleRNN, InitialStateByKeyword) {
  auto op = make_op(layer("SimpleRNN", {{"units", 1}, {"activation", "linear"}}), scalar_rnn_weights(),
                    keyword_call(1, false));
  auto out = run_op(*op, {Tensor({1, 1, 1}, {1}), Tensor({1, 1}, {4})});
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{2 + 2 + 1}));
}

TEST(SimpleRNN, Keras2StyleStatesAfterTheSequence) {
  Call c;
  c.where = "test";
  c.roles = {"", ""};
  c.args = json::array({json::array({tensor_arg(0), tensor_arg(1)})});
  auto op = make_op(layer("SimpleRNN", {{"units", 1}, {"activation", "linear"}}), scalar_rnn_weights(), c);
  auto out = run_op(*op, {Tensor({1, 1, 1}, {1}), Tensor({1, 1}, {-2})});
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{2 - 1 + 1}));
}

TEST(SimpleRNN, RefusesATensorIndexTheCallDoesNotPass) {
  // A model file can hold any {"__tensor__": i}; one past the call's tensors must not be read.
  json rnn = layer("SimpleRNN", {{"units", 1}, {"activation", "linear"}});
  Call c = keyword_call(0, false);
  c.kwargs["mask"] = tensor_arg(1);
  EXPECT_THROW(make_op(rnn, scalar_rnn_weights(), c), Error);
  c = keyword_call(0, false);
  c.kwargs["initial_state"] = json::array({tensor_arg(-2)});
  EXPECT_THROW(make_op(rnn, scalar_rnn_weights(), c), Error);
}

TEST(SimpleRNN, NoBias) {
  auto op = make_op(layer("SimpleRNN", {{"units", 1}, {"activation", "linear"}, {"use_bias", false}}),
                    {{"kernel", {1, 1}, {2}}, {"recurrent_kernel", {1, 1}, {0.5f}}});
  auto out = run_op(*op, {Tensor({1, 2, 1}, {1, 1})});
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{2 + 1}));
}

// ---- LSTM --------------------------------------------------------------------------------------------
TEST(LSTM, MatchesNaiveReferenceWithStates) {
  std::mt19937 rng(1);
  const int batch = 2, steps = 4, in = 3, u = 2;
  Dense3 w = random_weights(in, u, 4, rng, {4 * u});
  for (bool backwards : {false, true}) {
    auto op = make_op(layer("LSTM", {{"units", u}, {"return_sequences", true}, {"return_state", true},
                                     {"go_backwards", backwards}, {"implementation", 1}}),
                      entries(w, 4, {4 * u}));
    Tensor x = random_tensor({batch, steps, in}, rng);
    auto out = run_op(*op, {x});
    ASSERT_EQ(out.size(), 3u);
    Tensor seq({batch, steps, u}), h_all({batch, u}), c_all({batch, u});
    for (int b = 0; b < batch; ++b) {
      std::vector<float> h(u, 0.f), c(u, 0.f);
      auto hs = naive_lstm(w, x.floats().data() + b * steps * in, steps, h, c, backwards);
      for (int t = 0; t < steps; ++t)
        for (int j = 0; j < u; ++j) seq.floats()[(b * steps + t) * u + j] = hs[t][j];
      for (int j = 0; j < u; ++j) h_all.floats()[b * u + j] = h[j], c_all.floats()[b * u + j] = c[j];
    }
    expect_close(out[0], seq);
    expect_close(out[1], h_all);
    expect_close(out[2], c_all);
  }
}

TEST(LSTM, InitialStatesAndNoBias) {
  std::mt19937 rng(2);
  const int steps = 3, in = 2, u = 3;
  Dense3 w = random_weights(in, u, 4, rng, {});
  auto op = make_op(layer("LSTM", {{"units", u}, {"use_bias", false}}), entries(w, 4, {}), keyword_call(2, false));
  Tensor x = random_tensor({1, steps, in}, rng), h0 = random_tensor({1, u}, rng), c0 = random_tensor({1, u}, rng);
  auto out = run_op(*op, {x, h0, c0});
  std::vector<float> h = h0.to_floats(), c = c0.to_floats();
  naive_lstm(w, x.floats().data(), steps, h, c, false);
  expect_close(out[0], Tensor({1, u}, h));
}

TEST(LSTM, ActivationsFromConfig) {
  // units=1, zero recurrent kernel: i=f=o=hard_sigmoid(x*k), g=relu(x*k), c=i*g, h=o*relu(c)
  auto op = make_op(layer("LSTM", {{"units", 1}, {"activation", "relu"}, {"recurrent_activation", "hard_sigmoid"},
                                   {"use_bias", false}}),
                    {{"kernel", {1, 4}, {1, 1, 1, 1}}, {"recurrent_kernel", {1, 4}, {0, 0, 0, 0}}});
  auto out = run_op(*op, {Tensor({1, 1, 1}, {1.5f})});
  float hs = std::min(std::max(1.5f / 6.f + 0.5f, 0.f), 1.f);  // Keras 3 hard_sigmoid
  float c = hs * 1.5f;
  EXPECT_NEAR(out[0].floats()[0], hs * c, 1e-6);
}

TEST(LSTM, CuDNNLSTMSumsItsTwoBiases) {
  std::mt19937 rng(3);
  const int in = 2, u = 2;
  Dense3 w = random_weights(in, u, 4, rng, {4 * u});
  std::vector<float> split(8 * u);
  for (int i = 0; i < 4 * u; ++i) split[i] = 0.25f * w.b[i], split[4 * u + i] = 0.75f * w.b[i];
  auto op = make_op(layer("CuDNNLSTM", {{"units", u}}),
                    {{"kernel", {in, 4 * u}, w.k}, {"recurrent_kernel", {u, 4 * u}, w.r}, {"bias", {8 * u}, split}});
  Tensor x = random_tensor({1, 3, in}, rng);
  std::vector<float> h(u, 0.f), c(u, 0.f);
  naive_lstm(w, x.floats().data(), 3, h, c, false);
  expect_close(run_op(*op, {x})[0], Tensor({1, u}, h));
}

TEST(LSTM, OutputShapesWithUnknownDims) {
  std::mt19937 rng(4);
  Dense3 w = random_weights(3, 5, 4, rng, {20});
  auto op = make_op(layer("LSTM", {{"units", 5}, {"return_sequences", true}, {"return_state", true}}),
                    entries(w, 4, {20}));
  std::vector<Shape> in{{-1, -1, 3}};
  auto shapes = op->output_shapes(in);
  ASSERT_EQ(shapes.size(), 3u);
  EXPECT_EQ(shapes[0], (Shape{-1, -1, 5}));
  EXPECT_EQ(shapes[1], (Shape{-1, 5}));
  EXPECT_EQ(shapes[2], (Shape{-1, 5}));
  std::vector<Shape> bad{{-1, 4, 2}};
  EXPECT_THROW(op->output_shapes(bad), Error);
  std::vector<Shape> rank2{{-1, 3}};
  EXPECT_THROW(op->output_shapes(rank2), Error);
}

TEST(LSTM, RejectsBadConfigAndWeights) {
  std::mt19937 rng(5);
  Dense3 w = random_weights(3, 2, 4, rng, {8});
  EXPECT_THROW(make_op(layer("LSTM", {{"units", 3}}), entries(w, 4, {8})), Error);  // kernel is for 2 units
  EXPECT_THROW(make_op(layer("LSTM", {{"units", 0}}), entries(w, 4, {8})), Error);
  EXPECT_THROW(make_op(layer("LSTM", {{"units", 2}, {"activation", "glu"}}), entries(w, 4, {8})), Error);
  EXPECT_THROW(make_op(layer("LSTM", {{"units", 2}}), {}), Error);
  EXPECT_THROW(make_op(layer("LSTM", {{"units", 2}, {"time_major", true}}), entries(w, 4, {8})), Error);
  // three initial states for a two-state cell
  EXPECT_THROW(make_op(layer("LSTM", {{"units", 2}}), entries(w, 4, {8}), keyword_call(3, false)), Error);
}

TEST(LSTM, RejectsMismatchedStateAndMaskShapes) {
  std::mt19937 rng(6);
  Dense3 w = random_weights(3, 2, 4, rng, {8});
  auto op = make_op(layer("LSTM", {{"units", 2}}), entries(w, 4, {8}), keyword_call(2, true));
  std::vector<Shape> ok{{2, 4, 3}, {2, 2}, {2, 2}, {2, 4}};
  EXPECT_EQ(op->output_shapes(ok)[0], (Shape{2, 2}));
  std::vector<Shape> bad_state{{2, 4, 3}, {2, 3}, {2, 2}, {2, 4}};
  EXPECT_THROW(op->output_shapes(bad_state), Error);
  std::vector<Shape> bad_mask{{2, 4, 3}, {2, 2}, {2, 2}, {2, 5}};
  EXPECT_THROW(op->output_shapes(bad_mask), Error);
  std::vector<Shape> zero_steps{{2, 0, 3}, {2, 2}, {2, 2}, {2, 0}};
  EXPECT_THROW(op->output_shapes(zero_steps), Error);
}

// ---- GRU ---------------------------------------------------------------------------------------------
TEST(GRU, ResetAfterAndBeforeMatchNaiveReference) {
  std::mt19937 rng(7);
  const int batch = 2, steps = 5, in = 3, u = 4;
  for (bool reset_after : {true, false}) {
    Shape bias_shape = reset_after ? Shape{2, 3 * u} : Shape{3 * u};
    Dense3 w = random_weights(in, u, 3, rng, bias_shape);
    auto op = make_op(layer("GRU", {{"units", u}, {"reset_after", reset_after}, {"return_sequences", true}}),
                      entries(w, 3, bias_shape));
    Tensor x = random_tensor({batch, steps, in}, rng);
    auto out = run_op(*op, {x});
    Tensor want({batch, steps, u});
    for (int b = 0; b < batch; ++b) {
      std::vector<float> h(u, 0.f);
      auto hs = naive_gru(w, x.floats().data() + b * steps * in, steps, h, reset_after);
      for (int t = 0; t < steps; ++t)
        for (int j = 0; j < u; ++j) want.floats()[(b * steps + t) * u + j] = hs[t][j];
    }
    expect_close(out[0], want);
  }
}

TEST(GRU, LegacyConfigWithoutResetAfterFollowsBiasShape) {
  std::mt19937 rng(8);
  const int in = 2, u = 2;
  Dense3 w = random_weights(in, u, 3, rng, {3 * u});
  auto op = make_op(layer("GRU", {{"units", u}}), entries(w, 3, {3 * u}));
  Tensor x = random_tensor({1, 3, in}, rng);
  std::vector<float> h(u, 0.f);
  naive_gru(w, x.floats().data(), 3, h, false);
  expect_close(run_op(*op, {x})[0], Tensor({1, u}, h));
}

TEST(GRU, ReturnStateAndWrongBiasShape) {
  std::mt19937 rng(9);
  Dense3 w = random_weights(2, 3, 3, rng, {2, 9});
  auto op = make_op(layer("GRU", {{"units", 3}, {"return_state", true}}), entries(w, 3, {2, 9}));
  auto out = run_op(*op, {random_tensor({2, 3, 2}, rng)});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].to_floats(), out[1].to_floats());  // the output is the state
  // reset_after=True wants a (2, 3u) bias
  EXPECT_THROW(make_op(layer("GRU", {{"units", 3}, {"reset_after", true}}),
                       {{"kernel", {2, 9}, w.k}, {"recurrent_kernel", {3, 9}, w.r}, {"bias", {9}, std::vector<float>(9)}}),
               Error);
}

// ---- RNN over cells ------------------------------------------------------------------------------------
TEST(RNN, StackedCellsChainAndFlattenStates) {
  std::mt19937 rng(10);
  const int steps = 3, in = 3, u1 = 4, u2 = 2;
  Dense3 w1 = random_weights(in, u1, 4, rng, {4 * u1});
  Dense3 w2 = random_weights(u1, u2, 3, rng, {2, 3 * u2});
  json cells = {{"class_name", "StackedRNNCells"},
                {"config", {{"cells", {layer("LSTMCell", {{"units", u1}}), layer("GRUCell", {{"units", u2}, {"reset_after", true}})}}}}};
  auto w = entries(w1, 4, {4 * u1});
  for (auto& e : entries(w2, 3, {2, 3 * u2})) w.push_back(e);
  auto op = make_op(layer("RNN", {{"cell", cells}, {"return_sequences", true}, {"return_state", true}}), w);
  Tensor x = random_tensor({1, steps, in}, rng);
  auto out = run_op(*op, {x});
  ASSERT_EQ(out.size(), 4u);  // output, lstm h, lstm c, gru h
  std::vector<float> h1(u1, 0.f), c1(u1, 0.f), h2(u2, 0.f);
  auto hs1 = naive_lstm(w1, x.floats().data(), steps, h1, c1, false);
  std::vector<float> mid;
  for (auto& v : hs1) mid.insert(mid.end(), v.begin(), v.end());
  auto hs2 = naive_gru(w2, mid.data(), steps, h2, true);
  std::vector<float> seq;
  for (auto& v : hs2) seq.insert(seq.end(), v.begin(), v.end());
  expect_close(out[0], Tensor({1, steps, u2}, seq));
  expect_close(out[1], Tensor({1, u1}, h1));
  expect_close(out[2], Tensor({1, u1}, c1));
  expect_close(out[3], Tensor({1, u2}, h2));
}

TEST(RNN, Keras3StackedCellGroupsAreTakenInListOrder) {
  // .keras files list the cell groups by name: gru_cell, lstm_cell, lstm_cell_1 for [LSTM, GRU, LSTM].
  std::mt19937 rng(13);
  const int in = 2, u1 = 3, u2 = 2, u3 = 1;
  Dense3 w1 = random_weights(in, u1, 4, rng, {4 * u1});
  Dense3 w2 = random_weights(u1, u2, 3, rng, {2, 3 * u2});
  Dense3 w3 = random_weights(u2, u3, 4, rng, {4 * u3});
  auto named = [](std::vector<Weights::Entry> e, const std::string& group) {
    for (size_t i = 0; i < e.size(); ++i) e[i].name = "layers/rnn/cell/cells/" + group + "/vars/" + std::to_string(i);
    return e;
  };
  std::vector<Weights::Entry> w;
  for (auto& e : named(entries(w2, 3, {2, 3 * u2}), "gru_cell")) w.push_back(e);
  for (auto& e : named(entries(w1, 4, {4 * u1}), "lstm_cell")) w.push_back(e);
  for (auto& e : named(entries(w3, 4, {4 * u3}), "lstm_cell_1")) w.push_back(e);
  json cells = {{"class_name", "StackedRNNCells"},
                {"config", {{"cells", {layer("LSTMCell", {{"units", u1}}), layer("GRUCell", {{"units", u2}}),
                                       layer("LSTMCell", {{"units", u3}})}}}}};
  auto op = make_op(layer("RNN", {{"cell", cells}}), w);
  Tensor x = random_tensor({1, 2, in}, rng);
  std::vector<float> h1(u1, 0.f), c1(u1, 0.f), h2(u2, 0.f), h3(u3, 0.f), c3(u3, 0.f);
  auto hs1 = naive_lstm(w1, x.floats().data(), 2, h1, c1, false);
  std::vector<float> mid1, mid2;
  for (auto& v : hs1) mid1.insert(mid1.end(), v.begin(), v.end());
  auto hs2 = naive_gru(w2, mid1.data(), 2, h2, true);
  for (auto& v : hs2) mid2.insert(mid2.end(), v.begin(), v.end());
  naive_lstm(w3, mid2.data(), 2, h3, c3, false);
  expect_close(run_op(*op, {x})[0], Tensor({1, u3}, h3));

  w.push_back({"layers/rnn/cell/cells/simple_rnn_cell/vars/0", {1, 1}, {1}});  // a group no cell claims
  EXPECT_THROW(make_op(layer("RNN", {{"cell", cells}}), w), Error);
}

TEST(RNN, SingleCellAndUnknownCell) {
  auto op = make_op(layer("RNN", {{"cell", layer("SimpleRNNCell", {{"units", 1}, {"activation", "linear"}})}}),
                    scalar_rnn_weights());
  EXPECT_EQ(run_op(*op, {Tensor({1, 3, 1}, {1, 2, 3})})[0].to_floats(), (std::vector<float>{10.25f}));
  EXPECT_THROW(make_op(layer("RNN", {{"cell", layer("MyCell", {{"units", 1}})}}), scalar_rnn_weights()), Error);
  EXPECT_THROW(make_op(layer("RNN", json::object()), {}), Error);
}

TEST(RNN, StackedCellsWalkingBackwardsWithAMask) {
  // Both cells h = 2x + 0.5h + 1. Walking 3, (masked), 1: the first cell gives 7, keeps 7, 6.5; the
  // second 15, keeps 15, 2*6.5 + 0.5*15 + 1 = 21.5. Sequences come in walking order.
  json scalar = layer("SimpleRNNCell", {{"units", 1}, {"activation", "linear"}});
  json cells = {{"class_name", "StackedRNNCells"}, {"config", {{"cells", {scalar, scalar}}}}};
  auto w = scalar_rnn_weights();
  for (auto& e : scalar_rnn_weights()) w.push_back(e);
  auto op = make_op(layer("RNN", {{"cell", cells}, {"return_sequences", true}, {"return_state", true}, {"go_backwards", true}}),
                    w, keyword_call(0, true));
  auto out = run_op(*op, {Tensor({1, 3, 1}, {1, 2, 3}), Tensor({1, 3}, {1, 0, 1})});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{15, 15, 21.5f}));
  EXPECT_EQ(out[1].to_floats(), (std::vector<float>{6.5f}));
  EXPECT_EQ(out[2].to_floats(), (std::vector<float>{21.5f}));
}

TEST(RNN, ConvLSTMCellMatchesConvLSTM1D) {
  std::mt19937 rng(14);
  const int f = 2, cin = 3;
  Tensor kernel = random_tensor({3, cin, 4 * f}, rng), rec = random_tensor({3, f, 4 * f}, rng), bias = random_tensor({4 * f}, rng);
  auto weights = [&] {
    return std::vector<Weights::Entry>{{"kernel", kernel.shape, kernel.to_floats()}, {"recurrent_kernel", rec.shape, rec.to_floats()},
                                       {"bias", bias.shape, bias.to_floats()}};
  };
  json cfg = {{"filters", f}, {"kernel_size", {3}}, {"padding", "same"}, {"return_sequences", true}};
  auto direct = make_op(layer("ConvLSTM1D", cfg), weights());
  json cell = cfg;
  cell["rank"] = 1;
  auto via_rnn = make_op(layer("RNN", {{"cell", layer("ConvLSTMCell", cell)}, {"return_sequences", true}}), weights());
  Tensor x = random_tensor({2, 3, 5, cin}, rng);
  EXPECT_EQ(run_op(*direct, {x})[0].to_floats(), run_op(*via_rnn, {x})[0].to_floats());
}

// ---- ConvLSTM -------------------------------------------------------------------------------------------
// Naive ConvLSTM2D step input conv for one sample, channels_last: z[oy][ox][col].
TEST(ConvLSTM, Conv2DSameMatchesNaiveReference) {
  std::mt19937 rng(11);
  const int steps = 2, H = 3, W = 4, cin = 2, f = 2, k = 3;
  Tensor kernel = random_tensor({k, k, cin, 4 * f}, rng), rec = random_tensor({k, k, f, 4 * f}, rng),
         bias = random_tensor({4 * f}, rng);
  auto op = make_op(layer("ConvLSTM2D", {{"filters", f}, {"kernel_size", {k, k}}, {"padding", "same"},
                                         {"return_sequences", true}}),
                    {{"kernel", kernel.shape, kernel.to_floats()}, {"recurrent_kernel", rec.shape, rec.to_floats()},
                     {"bias", bias.shape, bias.to_floats()}});
  Tensor x = random_tensor({1, steps, H, W, cin}, rng);
  auto out = run_op(*op, {x});
  EXPECT_EQ(out[0].shape, (Shape{1, steps, H, W, f}));

  auto conv_at = [&](const float* img, int chans, const Tensor& w, int oy, int ox, int col) {
    float s = 0.f;
    for (int dy = 0; dy < k; ++dy)
      for (int dx = 0; dx < k; ++dx) {
        int y = oy + dy - 1, xx = ox + dx - 1;
        if (y < 0 || y >= H || xx < 0 || xx >= W) continue;
        for (int c = 0; c < chans; ++c)
          s += img[(y * W + xx) * chans + c] * w.floats()[((dy * k + dx) * chans + c) * 4 * f + col];
      }
    return s;
  };
  std::vector<float> h(H * W * f, 0.f), c(H * W * f, 0.f), want;
  for (int t = 0; t < steps; ++t) {
    const float* xt = x.floats().data() + t * H * W * cin;
    std::vector<float> nh(h.size()), nc(c.size());
    for (int oy = 0; oy < H; ++oy)
      for (int ox = 0; ox < W; ++ox)
        for (int j = 0; j < f; ++j) {
          auto z = [&](int g) {
            return bias.floats()[g * f + j] + conv_at(xt, cin, kernel, oy, ox, g * f + j) + conv_at(h.data(), f, rec, oy, ox, g * f + j);
          };
          int p = (oy * W + ox) * f + j;
          nc[p] = sigm(z(1)) * c[p] + sigm(z(0)) * std::tanh(z(2));
          nh[p] = sigm(z(3)) * std::tanh(nc[p]);
        }
    h = nh, c = nc;
    want.insert(want.end(), h.begin(), h.end());
  }
  expect_close(out[0], Tensor({1, steps, H, W, f}, want));
}

TEST(ConvLSTM, Conv1DValidStridedShapesAndChannelsFirstAgrees) {
  std::mt19937 rng(12);
  const int steps = 3, L = 8, cin = 2, f = 3;
  Tensor kernel = random_tensor({3, cin, 4 * f}, rng), rec = random_tensor({3, f, 4 * f}, rng),
         bias = random_tensor({4 * f}, rng);
  auto weights = [&] {
    return std::vector<Weights::Entry>{{"kernel", kernel.shape, kernel.to_floats()}, {"recurrent_kernel", rec.shape, rec.to_floats()},
                                       {"bias", bias.shape, bias.to_floats()}};
  };
  json cfg = {{"filters", f}, {"kernel_size", {3}}, {"strides", {2}}, {"padding", "valid"}, {"return_state", true}};
  auto last = make_op(layer("ConvLSTM1D", cfg), weights());
  std::vector<Shape> unknown{{-1, -1, L, cin}};
  EXPECT_EQ(last->output_shapes(unknown)[0], (Shape{-1, 3, f}));  // (8-3)/2+1
  Tensor x = random_tensor({2, steps, L, cin}, rng);
  auto a = run_op(*last, {x});

  cfg["data_format"] = "channels_first";
  auto first = make_op(layer("ConvLSTM1D", cfg), weights());
  Tensor xt({2, steps, cin, L});
  for (int b = 0; b < 2 * steps; ++b)
    for (int p = 0; p < L; ++p)
      for (int c = 0; c < cin; ++c) xt.floats()[(b * cin + c) * L + p] = x.floats()[(b * L + p) * cin + c];
  auto bo = run_op(*first, {xt});
  ASSERT_EQ(bo[0].shape, (Shape{2, f, 3}));
  Tensor back({2, 3, f});
  for (int b = 0; b < 2; ++b)
    for (int c = 0; c < f; ++c)
      for (int p = 0; p < 3; ++p) back.floats()[(b * 3 + p) * f + c] = bo[0].floats()[(b * f + c) * 3 + p];
  expect_close(back, a[0]);
  std::vector<Shape> wrong_channels{{-1, -1, L, cin + 1}};
  EXPECT_THROW(last->output_shapes(wrong_channels), Error);
}

}  // namespace
}  // namespace kerasrt::testing
