// Embedding and ReversibleEmbedding against hand-computed lookups and products.
#include <cmath>

#include "harness.hpp"

namespace kerasrt::testing {
namespace {

using nlohmann::json;

// 4 rows of 2: row v = (10v, 10v + 1).
const std::vector<float> kTable{0, 1, 10, 11, 20, 21, 30, 31};

json embedding(json extra = json::object()) {
  json config = {{"input_dim", 4}, {"output_dim", 2}};
  config.update(extra);
  return {{"class_name", "Embedding"}, {"config", config}};
}

TEST(Embedding, LooksUpRowsForFloatIndices) {
  auto op = make_op(embedding(), {{"embeddings", {4, 2}, kTable}});
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, -1}})[0], (Shape{-1, -1, 2}));
  auto out = run_op(*op, {Tensor({2, 2}, {3, 0, 1, 2})});
  EXPECT_EQ(out[0].shape, (Shape{2, 2, 2}));
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{30, 31, 0, 1, 10, 11, 20, 21}));
}

TEST(Embedding, MaskZeroDoesNotChangeValues) {
  auto op = make_op(embedding({{"mask_zero", true}}), {{"embeddings", {4, 2}, kTable}});
  auto out = run_op(*op, {Tensor({1, 2}, {0, 1})});
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{0, 1, 10, 11}));
}

TEST(Embedding, NegativeIndicesCountFromTheEndAsOnTorch) {
  auto op = make_op(embedding(), {{"embeddings", {4, 2}, kTable}});
  EXPECT_EQ(run_op(*op, {Tensor({1, 1}, {-1})})[0].to_floats(), (std::vector<float>{30, 31}));
}

TEST(Embedding, OutOfRangeIndexIsAnErrorNamingTheIndex) {
  auto op = make_op(embedding(), {{"embeddings", {4, 2}, kTable}});
  for (float bad : {4.f, -5.f, 1e9f, NAN, INFINITY}) {
    try {
      run_op(*op, {Tensor({1, 2}, {1, bad})});
      FAIL() << "index " << bad << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("index"), std::string::npos) << e.what();
    }
  }
  try {
    run_op(*op, {Tensor({1, 1}, {7})});
    FAIL() << "index 7 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("out of range for input_dim 4"), std::string::npos) << e.what();
  }
}

TEST(Embedding, RejectsBadConfigAndWeights) {
  EXPECT_THROW(make_op(embedding(), {{"embeddings", {3, 2}, {0, 1, 2, 3, 4, 5}}}), Error);
  EXPECT_THROW(make_op(embedding({{"input_dim", 0}}), {{"embeddings", {4, 2}, kTable}}), Error);
  EXPECT_THROW(make_op(embedding()), Error);
}

// ---- ReversibleEmbedding ----------------------------------------------------------------------

json reversible(json extra) {
  json config = {{"input_dim", 4}, {"output_dim", 2}};
  config.update(extra);
  return {{"class_name", "ReversibleEmbedding"}, {"config", config}};
}

Call reverse_call() {
  Call c = positional_call(1);
  c.kwargs = {{"reverse", true}};
  return c;
}

TEST(ReversibleEmbedding, ForwardIsALookup) {
  auto op = make_op(reversible({{"tie_weights", true}}), {{"embeddings", {4, 2}, kTable}});
  EXPECT_EQ(run_op(*op, {Tensor({1, 2}, {2, 1})})[0].to_floats(), (std::vector<float>{20, 21, 10, 11}));
}

TEST(ReversibleEmbedding, TiedReverseMultipliesByTransposedTable) {
  auto op = make_op(reversible({{"tie_weights", true}}), {{"embeddings", {4, 2}, kTable}}, reverse_call());
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, 5, 2}})[0], (Shape{-1, 5, 4}));
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{-1, 5, 3}}), Error);
  auto out = run_op(*op, {Tensor({1, 2}, {1, -1})});
  // logits[v] = 1 * row_v[0] - 1 * row_v[1] = -1 for every v
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{-1, -1, -1, -1}));
  auto out2 = run_op(*op, {Tensor({1, 2}, {2, 0.5f})});
  for (int v = 0; v < 4; ++v) EXPECT_FLOAT_EQ(out2[0].floats()[v], 2 * kTable[v * 2] + 0.5f * kTable[v * 2 + 1]);
}

TEST(ReversibleEmbedding, UntiedUsesReverseTableAndSoftCap) {
  std::vector<float> rev{1, 2, 3, 4, -1, -2, -3, -4};  // (2, 4)
  auto config = reversible({{"tie_weights", false}, {"logit_soft_cap", 5.0}});
  auto op = make_op(config, {{"embeddings", {4, 2}, kTable}, {"reverse_embeddings", {2, 4}, rev}}, reverse_call());
  auto out = run_op(*op, {Tensor({1, 2}, {3, 1})});
  for (int v = 0; v < 4; ++v) {
    double logit = 3 * rev[v] + 1 * rev[4 + v];
    EXPECT_NEAR(out[0].floats()[v], std::tanh(logit / 5.0) * 5.0, 1e-5);
  }
  EXPECT_EQ(op->param_count(), 16);
  // The same layer called forward still looks rows up.
  auto fwd = make_op(config, {{"embeddings", {4, 2}, kTable}, {"reverse_embeddings", {2, 4}, rev}});
  EXPECT_EQ(run_op(*fwd, {Tensor({1, 1}, {3})})[0].to_floats(), (std::vector<float>{30, 31}));
}

TEST(ReversibleEmbedding, RejectsMissingReverseTableAndOtherDtypes) {
  EXPECT_THROW(make_op(reversible({{"tie_weights", false}}), {{"embeddings", {4, 2}, kTable}}), Error);
  EXPECT_THROW(make_op(reversible({{"reverse_dtype", "bfloat16"}}), {{"embeddings", {4, 2}, kTable}}), Error);
  Call bad = positional_call(1);
  bad.kwargs = {{"reverse", "yes"}};
  EXPECT_THROW(make_op(reversible(json::object()), {{"embeddings", {4, 2}, kTable}}, bad), Error);
}

}  // namespace
}  // namespace kerasrt::testing
