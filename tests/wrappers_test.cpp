// Bidirectional and TimeDistributed, on small layers whose outputs are computed by hand.
#include "harness.hpp"

namespace kerasrt::testing {
namespace {

using nlohmann::json;

// Linear SimpleRNN with one unit. Forward weights: h = 2x + 0.5h + 1; backward: h = x + h.
json scalar_rnn(bool return_sequences, bool return_state = false) {
  return layer("SimpleRNN", {{"units", 1}, {"activation", "linear"}, {"return_sequences", return_sequences},
                             {"return_state", return_state}});
}
std::vector<Weights::Entry> both_directions() {
  return {{"kernel", {1, 1}, {2}}, {"recurrent_kernel", {1, 1}, {0.5f}}, {"bias", {1}, {1}},
          {"kernel", {1, 1}, {1}}, {"recurrent_kernel", {1, 1}, {1}}, {"bias", {1}, {0}}};
}
json bidirectional(json inner, json merge_mode) {
  return layer("Bidirectional", {{"layer", inner}, {"merge_mode", merge_mode}});
}

const Tensor kSeq({1, 3, 1}, {1, 2, 3});
// forward over 1,2,3: 3, 6.5, 10.25; backward walks 3,2,1: 3, 5, 6, i.e. 6, 5, 3 in input order.

TEST(Bidirectional, ConcatPutsBackwardSequenceInInputOrder) {
  auto op = make_op(bidirectional(scalar_rnn(true), "concat"), both_directions());
  auto out = run_op(*op, {kSeq});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].shape, (Shape{1, 3, 2}));
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{3, 6, 6.5f, 5, 10.25f, 3}));
}

TEST(Bidirectional, ElementwiseMergeModes) {
  auto run = [](const char* mode) { return run_op(*make_op(bidirectional(scalar_rnn(true), mode), both_directions()), {kSeq})[0]; };
  EXPECT_EQ(run("sum").to_floats(), (std::vector<float>{9, 11.5f, 13.25f}));
  EXPECT_EQ(run("mul").to_floats(), (std::vector<float>{18, 32.5f, 30.75f}));
  EXPECT_EQ(run("ave").to_floats(), (std::vector<float>{4.5f, 5.75f, 6.625f}));
  EXPECT_EQ(run("ave").shape, (Shape{1, 3, 1}));
}

TEST(Bidirectional, MergeNoneGivesTwoOutputs) {
  auto op = make_op(bidirectional(scalar_rnn(true), nullptr), both_directions());
  auto out = run_op(*op, {kSeq});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{3, 6.5f, 10.25f}));
  EXPECT_EQ(out[1].to_floats(), (std::vector<float>{6, 5, 3}));
}

TEST(Bidirectional, DefaultMergeIsConcatOfLastOutputs) {
  auto op = make_op(layer("Bidirectional", {{"layer", scalar_rnn(false)}}), both_directions());
  auto out = run_op(*op, {kSeq});
  EXPECT_EQ(out[0].shape, (Shape{1, 2}));
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{10.25f, 6}));
}

TEST(Bidirectional, ReturnStateListsForwardThenBackwardStates) {
  auto op = make_op(bidirectional(scalar_rnn(false, true), "sum"), both_directions());
  auto out = run_op(*op, {kSeq});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{16.25f}));
  EXPECT_EQ(out[1].to_floats(), (std::vector<float>{10.25f}));
  EXPECT_EQ(out[2].to_floats(), (std::vector<float>{6}));

  auto none = make_op(bidirectional(scalar_rnn(false, true), nullptr), both_directions());
  std::vector<Shape> in{{-1, -1, 1}};
  EXPECT_EQ(none->output_shapes(in).size(), 4u);  // y, y_rev, forward h, backward h
}

TEST(Bidirectional, MaskZeroesMaskedStepsOfSequences) {
  auto op = make_op(bidirectional(scalar_rnn(true), "concat"), both_directions(), keyword_call(0, true));
  auto out = run_op(*op, {kSeq, Tensor({1, 3}, {1, 1, 0})});
  // forward: 3, 6.5, 0 (zeroed, not repeated); backward walks masked 3 (0), 2, 1+2 -> 3, 2, 0
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{3, 3, 6.5f, 2, 0, 0}));
}

TEST(Bidirectional, InitialStatesSplitInHalves) {
  auto op = make_op(bidirectional(scalar_rnn(false), "concat"), both_directions(), keyword_call(2, false));
  auto out = run_op(*op, {Tensor({1, 1, 1}, {1}), Tensor({1, 1}, {4}), Tensor({1, 1}, {-2})});
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{2 + 2 + 1, 1 - 2}));
  EXPECT_THROW(make_op(bidirectional(scalar_rnn(false), "concat"), both_directions(), keyword_call(1, false)), Error);
}

TEST(Bidirectional, CustomBackwardLayerOfOtherWidth) {
  // backward: two units, h = [x, -x] (zero recurrent kernel, no bias)
  json backward = layer("SimpleRNN", {{"units", 2}, {"activation", "linear"}, {"use_bias", false},
                                      {"return_sequences", true}, {"go_backwards", true}});
  auto op = make_op(layer("Bidirectional", {{"layer", scalar_rnn(true)}, {"backward_layer", backward}}),
                    {{"kernel", {1, 1}, {2}}, {"recurrent_kernel", {1, 1}, {0.5f}}, {"bias", {1}, {1}},
                     {"kernel", {1, 2}, {1, -1}}, {"recurrent_kernel", {2, 2}, {0, 0, 0, 0}}});
  std::vector<Shape> in{{-1, 3, 1}};
  EXPECT_EQ(op->output_shapes(in)[0], (Shape{-1, 3, 3}));
  auto out = run_op(*op, {kSeq});
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{3, 1, -1, 6.5f, 2, -2, 10.25f, 3, -3}));
}

TEST(Bidirectional, RejectsInconsistentLayers) {
  EXPECT_THROW(make_op(bidirectional(scalar_rnn(true), "max"), both_directions()), Error);
  json same_direction = scalar_rnn(true);  // backward layer that does not go backwards
  EXPECT_THROW(make_op(layer("Bidirectional", {{"layer", scalar_rnn(true)}, {"backward_layer", same_direction}}),
                       both_directions()),
               Error);
  json other_sequences = scalar_rnn(false);
  other_sequences["config"]["go_backwards"] = true;
  EXPECT_THROW(make_op(layer("Bidirectional", {{"layer", scalar_rnn(true)}, {"backward_layer", other_sequences}}),
                       both_directions()),
               Error);
  // element-wise merge of different widths
  json wide = layer("SimpleRNN", {{"units", 2}, {"activation", "linear"}, {"go_backwards", true}});
  auto op = make_op(layer("Bidirectional", {{"layer", scalar_rnn(false)}, {"backward_layer", wide}, {"merge_mode", "sum"}}),
                    {{"kernel", {1, 1}, {2}}, {"recurrent_kernel", {1, 1}, {0.5f}}, {"bias", {1}, {1}},
                     {"kernel", {1, 2}, {1, 1}}, {"recurrent_kernel", {2, 2}, {0, 0, 0, 0}}, {"bias", {2}, {0, 0}}});
  std::vector<Shape> in{{-1, 3, 1}};
  EXPECT_THROW(op->output_shapes(in), Error);
  EXPECT_THROW(make_op(bidirectional(scalar_rnn(true), "concat"), {}), Error);  // no weights
}

TEST(Bidirectional, ConvLSTMHalvesAreTheLayerBothWays) {
  std::mt19937 rng(3);
  const int f = 2, cin = 2;
  Tensor kernel = random_tensor({3, cin, 4 * f}, rng), rec = random_tensor({3, f, 4 * f}, rng), bias = random_tensor({4 * f}, rng);
  auto weights = [&](int copies) {
    std::vector<Weights::Entry> w;
    for (int k = 0; k < copies; ++k)
      for (const Tensor* t : {&kernel, &rec, &bias}) w.push_back({"w", t->shape, t->to_floats()});
    return w;
  };
  json conv = layer("ConvLSTM1D", {{"filters", f}, {"kernel_size", {3}}, {"padding", "same"}, {"return_sequences", true}});
  auto both = make_op(bidirectional(conv, nullptr), weights(2));
  auto forward = make_op(conv, weights(1));
  json backwards = conv;
  backwards["config"]["go_backwards"] = true;
  auto backward = make_op(backwards, weights(1));
  const int64_t steps = 3, len = 4;
  Tensor x = random_tensor({1, steps, len, cin}, rng);
  auto out = run_op(*both, {x});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].to_floats(), run_op(*forward, {x})[0].to_floats());
  // The backward half walks from the end; Bidirectional turns its sequence back into input order.
  std::vector<float> walked = run_op(*backward, {x})[0].to_floats(), want;
  for (int64_t t = steps - 1; t >= 0; --t) want.insert(want.end(), walked.begin() + t * len * f, walked.begin() + (t + 1) * len * f);
  EXPECT_EQ(out[1].to_floats(), want);
}

// ---- TimeDistributed ----------------------------------------------------------------------------------
TEST(TimeDistributed, DenseOnEveryStep) {
  auto op = make_op(layer("TimeDistributed", {{"layer", layer("Dense", {{"units", 2}})}}),
                    {{"kernel", {2, 2}, {1, -1, 2, 0}}, {"bias", {2}, {0.5f, -0.5f}}});
  std::mt19937 rng(1);
  Tensor x = random_tensor({2, 3, 2}, rng);
  auto out = run_op(*op, {x});
  ASSERT_EQ(out[0].shape, (Shape{2, 3, 2}));
  for (int s = 0; s < 6; ++s) {
    float a = x.floats()[s * 2], b = x.floats()[s * 2 + 1];
    EXPECT_NEAR(out[0].floats()[s * 2], a + 2 * b + 0.5f, 1e-6);
    EXPECT_NEAR(out[0].floats()[s * 2 + 1], -a - 0.5f, 1e-6);
  }
  std::vector<Shape> unknown_batch{{-1, 5, 2}};
  EXPECT_EQ(op->output_shapes(unknown_batch)[0], (Shape{-1, 5, 2}));
  std::vector<Shape> unknown_time{{4, -1, 2}};
  EXPECT_EQ(op->output_shapes(unknown_time)[0], (Shape{4, -1, 2}));
  std::vector<Shape> rank2{{4, 2}};
  EXPECT_THROW(op->output_shapes(rank2), Error);
  std::vector<Shape> wrong_features{{4, 3, 5}};
  EXPECT_THROW(op->output_shapes(wrong_features), Error);
}

TEST(TimeDistributed, FlattenChangesTheStepShape) {
  auto op = make_op(layer("TimeDistributed", {{"layer", layer("Flatten", json::object())}}));
  Tensor x({1, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  auto out = run_op(*op, {x});
  EXPECT_EQ(out[0].shape, (Shape{1, 2, 4}));
  EXPECT_EQ(out[0].to_floats(), x.to_floats());
}

TEST(TimeDistributed, LayerWithoutTypedFormRunsItsOpOnEveryStep) {
  // PReLU (per-feature alpha) stands for any wrapped layer that may still run as a kerasrt::Op.
  auto op = make_op(layer("TimeDistributed", {{"layer", layer("PReLU", json::object())}}), {{"alpha", {2}, {0.5f, 2}}});
  auto out = run_op(*op, {Tensor({1, 2, 2}, {-2, -1, 3, -4})});
  EXPECT_EQ(out[0].shape, (Shape{1, 2, 2}));
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{-1, -2, 3, -8}));
}

TEST(TimeDistributed, MaskIsAcceptedAndOtherTensorsRefused) {
  Call c = keyword_call(0, true);
  auto op = make_op(layer("TimeDistributed", {{"layer", layer("Dense", {{"units", 1}, {"use_bias", false}})}}),
                    {{"kernel", {1, 1}, {3}}}, c);
  auto out = run_op(*op, {Tensor({1, 2, 1}, {1, 2}), Tensor({1, 2}, {1, 0})});
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{3, 6}));
  EXPECT_THROW(make_op(layer("TimeDistributed", {{"layer", layer("Dense", {{"units", 1}, {"use_bias", false}})}}),
                       {{"kernel", {1, 1}, {3}}}, keyword_call(1, false)),
               Error);
  EXPECT_THROW(make_op(layer("TimeDistributed", json::object())), Error);
}

}  // namespace
}  // namespace kerasrt::testing
