// MultiHeadAttention, GroupedQueryAttention, Attention and AdditiveAttention against loops that
// write the attention formulas out directly.
#include <fstream>
#include <functional>
#include <iterator>

#include "harness.hpp"

namespace kerasrt::testing {
namespace {

using nlohmann::json;

json T(int i) { return tensor_arg(i); }  // short: the calls below name many tensors

// A call with positional tensors `args` and keyword arguments `kwargs`; roles follow tensor order.
Call make_call(json args, json kwargs, std::vector<std::string> roles) {
  Call c;
  c.args = std::move(args);
  c.kwargs = std::move(kwargs);
  c.roles = std::move(roles);
  c.where = "test";
  return c;
}

using MaskFn = std::function<bool(int64_t b, int64_t n, int64_t t, int64_t s)>;

// ---- a direct multi-head attention for rank-3 inputs ---------------------------------------------------

struct Heads {
  int64_t heads, kv_heads, key_dim, value_dim;
  Tensor wq, bq, wk, bk, wv, bv, wo, bo;  // kernels (in, heads, dim) and (heads, value_dim, out)
  Tensor wg, bg;                          // gate, when used
  bool use_gate = false;

  std::vector<Weights::Entry> entries() const {
    std::vector<Weights::Entry> w = {{"q", wq.shape, wq.to_floats()}, {"qb", bq.shape, bq.to_floats()},
                                     {"k", wk.shape, wk.to_floats()}, {"kb", bk.shape, bk.to_floats()}};
    if (use_gate) {
      w.push_back({"g", wg.shape, wg.to_floats()});
      w.push_back({"gb", bg.shape, bg.to_floats()});
    }
    for (const Tensor* t : {&wv, &bv, &wo, &bo}) w.push_back({"x", t->shape, t->to_floats()});
    return w;
  }
};

Heads random_heads(std::mt19937& rng, int64_t q_dim, int64_t k_dim, int64_t v_dim, int64_t heads, int64_t kv_heads,
                   int64_t key_dim, int64_t value_dim, Shape out_dims, bool gate = false) {
  Heads h{heads, kv_heads, key_dim, value_dim};
  h.wq = random_tensor({q_dim, heads, key_dim}, rng);
  h.bq = random_tensor({heads, key_dim}, rng);
  h.wk = random_tensor({k_dim, kv_heads, key_dim}, rng);
  h.bk = random_tensor({kv_heads, key_dim}, rng);
  h.wv = random_tensor({v_dim, kv_heads, value_dim}, rng);
  h.bv = random_tensor({kv_heads, value_dim}, rng);
  Shape wo{heads, value_dim};
  wo.insert(wo.end(), out_dims.begin(), out_dims.end());
  h.wo = random_tensor(wo, rng);
  h.bo = random_tensor(out_dims, rng);
  h.use_gate = gate;
  if (gate) {
    h.wg = random_tensor({q_dim, heads, value_dim}, rng);
    h.bg = random_tensor({heads, value_dim}, rng);
  }
  return h;
}

// x (rows, in) · W (in, heads, dim) + b -> P[row][head][c]
std::vector<float> project(const Tensor& x, const Tensor& w, const Tensor& b) {
  int64_t in = w.shape[0], cols = w.shape[1] * w.shape[2], rows = x.size() / in;
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) {
      float s = b.floats()[j];
      for (int64_t d = 0; d < in; ++d) s += x.floats()[r * in + d] * w.floats()[d * cols + j];
      out[r * cols + j] = s;
    }
  return out;
}

// Rank-3 query (B, T, dq), key/value (B, S, d). Masked keys get no weight; a row with every key masked
// gets zero weights, or equal weights when `uniform_if_all_masked`.
Tensor reference_mha(const Heads& h, const Tensor& q, const Tensor& k, const Tensor& v, const MaskFn& allowed,
                     bool uniform_if_all_masked, Tensor* scores_out = nullptr) {
  int64_t B = q.shape[0], Tq = q.shape[1], S = k.shape[1], N = h.heads, K = h.key_dim, V = h.value_dim;
  int64_t group = N / h.kv_heads;
  auto Q = project(q, h.wq, h.bq), Kp = project(k, h.wk, h.bk), Vp = project(v, h.wv, h.bv);
  std::vector<float> O(static_cast<size_t>(B * Tq * N * V), 0.f);
  if (scores_out) *scores_out = Tensor({B, N, Tq, S});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t t = 0; t < Tq; ++t) {
        int64_t g = n / group;
        std::vector<double> e(static_cast<size_t>(S), 0.0);
        double mx = -1e300;
        for (int64_t s = 0; s < S; ++s) {
          if (!allowed(b, n, t, s)) continue;
          double dot = 0;
          for (int64_t c = 0; c < K; ++c)
            dot += Q[((b * Tq + t) * N + n) * K + c] * Kp[((b * S + s) * h.kv_heads + g) * K + c];
          e[s] = dot / std::sqrt(static_cast<double>(K));
          mx = std::max(mx, e[s]);
        }
        double sum = 0;
        for (int64_t s = 0; s < S; ++s) sum += allowed(b, n, t, s) ? std::exp(e[s] - mx) : 0.0;
        for (int64_t s = 0; s < S; ++s) {
          double p = sum > 0 ? (allowed(b, n, t, s) ? std::exp(e[s] - mx) / sum : 0.0)
                             : (uniform_if_all_masked ? 1.0 / S : 0.0);
          if (scores_out) scores_out->floats()[((b * N + n) * Tq + t) * S + s] = static_cast<float>(p);
          for (int64_t c = 0; c < V; ++c)
            O[((b * Tq + t) * N + n) * V + c] += static_cast<float>(p) * Vp[((b * S + s) * h.kv_heads + g) * V + c];
        }
      }
  if (h.use_gate) {
    auto G = project(q, h.wg, h.bg);
    for (size_t i = 0; i < O.size(); ++i) O[i] *= 1.f / (1.f + std::exp(-G[i]));
  }
  Shape out_shape{B, Tq};
  out_shape.insert(out_shape.end(), h.bo.shape.begin(), h.bo.shape.end());
  Tensor out(out_shape);
  int64_t nv = N * V, od = h.bo.size();
  for (int64_t r = 0; r < B * Tq; ++r)
    for (int64_t o = 0; o < od; ++o) {
      float s = h.bo.floats()[o];
      for (int64_t j = 0; j < nv; ++j) s += O[r * nv + j] * h.wo.floats()[j * od + o];
      out.floats()[r * od + o] = s;
    }
  return out;
}

const MaskFn kAll = [](int64_t, int64_t, int64_t, int64_t) { return true; };

json mha_layer(int heads, int key_dim, json value_dim = nullptr, json output_shape = nullptr, json extra = json::object()) {
  json cfg = {{"name", "mha"}, {"num_heads", heads}, {"key_dim", key_dim}, {"value_dim", value_dim},
              {"output_shape", output_shape}, {"use_bias", true}, {"dropout", 0.0}};
  cfg.update(extra);
  return {{"class_name", "MultiHeadAttention"}, {"config", cfg}};
}

TEST(MultiHeadAttention, SelfAttentionMatchesDirectFormula) {
  std::mt19937 rng(10);
  Heads h = random_heads(rng, 4, 4, 4, 2, 2, 3, 3, {4});
  Tensor x = random_tensor({2, 5, 4}, rng);
  auto op = make_op(mha_layer(2, 3, nullptr, nullptr, {{"attention_axes", {1}}}), h.entries(),
                    make_call(json::array({T(0), T(1)}), json::object(), {"", ""}));
  auto out = run_op(*op, {x, x});
  expect_close(out[0], reference_mha(h, x, x, x, kAll, true));
  EXPECT_EQ(op->param_count(), 4 * 6 + 6 + 4 * 6 + 6 + 4 * 6 + 6 + 6 * 4 + 4);
}

TEST(MultiHeadAttention, CrossAttentionWithKeyKeywordAndMultiAxisOutput) {
  std::mt19937 rng(11);
  // query dim 5, key dim 3, value dim 6; key_dim 4, value_dim 2, output_shape (2, 3)
  Heads h = random_heads(rng, 5, 3, 6, 3, 3, 4, 2, {2, 3});
  Tensor q = random_tensor({2, 4, 5}, rng), v = random_tensor({2, 6, 6}, rng), k = random_tensor({2, 6, 3}, rng);
  auto op = make_op(mha_layer(3, 4, 2, {2, 3}), h.entries(),
                    make_call(json::array({T(0), T(1)}), {{"key", T(2)}}, {"", "", "key"}));
  auto out = run_op(*op, {q, v, k});
  EXPECT_EQ(out[0].shape, (Shape{2, 4, 2, 3}));
  expect_close(out[0], reference_mha(h, q, k, v, kAll, true));
}

TEST(MultiHeadAttention, QueryAndValueAsKeywords) {
  std::mt19937 rng(12);
  Heads h = random_heads(rng, 4, 4, 4, 1, 1, 2, 2, {4});
  Tensor q = random_tensor({1, 3, 4}, rng), v = random_tensor({1, 2, 4}, rng);
  auto op = make_op(mha_layer(1, 2), h.entries(),
                    make_call(json::array(), {{"query", T(0)}, {"value", T(1)}}, {"query", "value"}));
  expect_close(run_op(*op, {q, v})[0], reference_mha(h, q, v, v, kAll, true));
}

TEST(MultiHeadAttention, CausalMaskWithReturnedScores) {
  std::mt19937 rng(13);
  Heads h = random_heads(rng, 4, 4, 4, 2, 2, 3, 3, {4});
  Tensor x = random_tensor({2, 4, 4}, rng);
  auto op = make_op(mha_layer(2, 3), h.entries(),
                    make_call(json::array({T(0), T(1)}), {{"use_causal_mask", true}, {"return_attention_scores", true}},
                              {"", ""}));
  auto out = run_op(*op, {x, x});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].shape, (Shape{2, 2, 4, 4}));
  Tensor want_scores;
  auto causal = [](int64_t, int64_t, int64_t t, int64_t s) { return s <= t; };
  expect_close(out[0], reference_mha(h, x, x, x, causal, false, &want_scores));
  expect_close(out[1], want_scores);
  EXPECT_EQ(out[1].floats()[1], 0.f);  // head 0, query 0 may not see key 1
}

TEST(MultiHeadAttention, FullyMaskedRowDependsOnKerasPath) {
  std::mt19937 rng(14);
  Heads h = random_heads(rng, 4, 4, 4, 2, 2, 3, 3, {4});
  Tensor x = random_tensor({1, 3, 4}, rng);
  // attention_mask (B, T, S): query 0 may see nothing, query 1 only key 2, query 2 everything.
  Tensor mask({1, 3, 3}, {0, 0, 0, 0, 0, 1, 1, 1, 1});
  auto allowed = [&](int64_t b, int64_t, int64_t t, int64_t s) { return mask.floats()[(b * 3 + t) * 3 + s] != 0.f; };
  auto call = [](bool scores) {
    json kw = {{"attention_mask", T(2)}};
    if (scores) kw["return_attention_scores"] = true;
    return make_call(json::array({T(0), T(1)}), kw, {"", "", "attention_mask"});
  };
  // Fused dot_product_attention (no scores returned): the masked row averages every value.
  auto fused = make_op(mha_layer(2, 3), h.entries(), call(false));
  expect_close(run_op(*fused, {x, x, mask})[0], reference_mha(h, x, x, x, allowed, true));
  // The Softmax path (scores returned): the masked row gets no attention at all.
  auto plain = make_op(mha_layer(2, 3), h.entries(), call(true));
  auto out = run_op(*plain, {x, x, mask});
  expect_close(out[0], reference_mha(h, x, x, x, allowed, false));
  for (int c = 0; c < 4; ++c) EXPECT_NEAR(out[0].floats()[c], h.bo.floats()[c], 1e-6);  // only the output bias
}

TEST(MultiHeadAttention, SequenceMasksAndSlidingWindowCombine) {
  std::mt19937 rng(15);
  Heads h = random_heads(rng, 4, 4, 4, 2, 2, 2, 2, {4});
  Tensor q = random_tensor({2, 4, 4}, rng), v = random_tensor({2, 5, 4}, rng);
  Tensor qm({2, 4}, {1, 1, 0, 1, 1, 1, 1, 1}), vm({2, 5}, {1, 0, 1, 1, 1, 1, 1, 1, 0, 0});
  auto op = make_op(mha_layer(2, 2, nullptr, nullptr, {{"sliding_window", 2}}), h.entries(),
                    make_call(json::array({T(0), T(1)}), {{"query_mask", T(2)}, {"value_mask", T(3)}},
                              {"", "", "query_mask", "value_mask"}));
  auto allowed = [&](int64_t b, int64_t, int64_t t, int64_t s) {
    return qm.floats()[b * 4 + t] != 0 && vm.floats()[b * 5 + s] != 0 && std::abs(t - s) < 2;
  };
  expect_close(run_op(*op, {q, v, qm, vm})[0], reference_mha(h, q, v, v, allowed, true));
}

TEST(MultiHeadAttention, GateScalesHeadsBeforeOutputProjection) {
  std::mt19937 rng(16);
  Heads h = random_heads(rng, 4, 4, 4, 2, 2, 3, 2, {4}, /*gate=*/true);
  Tensor x = random_tensor({1, 3, 4}, rng);
  auto op = make_op(mha_layer(2, 3, 2, nullptr, {{"use_gate", true}}), h.entries(),
                    make_call(json::array({T(0), T(1)}), json::object(), {"", ""}));
  expect_close(run_op(*op, {x, x})[0], reference_mha(h, x, x, x, kAll, true));
}

// Rank-4 input (B, H, W, C): attention over W within each row, or over all (H, W) positions.
TEST(MultiHeadAttention, AttentionAxesOnRank4Inputs) {
  std::mt19937 rng(17);
  const int64_t B = 2, H = 2, W = 3, C = 4;
  Heads h = random_heads(rng, C, C, C, 2, 2, 3, 3, {C});
  Tensor x = random_tensor({B, H, W, C}, rng);
  auto run_axes = [&](json axes, bool scores) {
    json kw = json::object();
    if (scores) kw["return_attention_scores"] = true;
    auto op = make_op(mha_layer(2, 3, nullptr, nullptr, {{"attention_axes", axes}}), h.entries(),
                      make_call(json::array({T(0), T(1)}), kw, {"", ""}));
    return run_op(*op, {x, x});
  };
  // Rows of W positions: each row is a rank-3 self-attention problem of its own.
  auto rows = run_axes({2}, true);
  EXPECT_EQ(rows[1].shape, (Shape{B, H, 2, W, W}));
  Tensor as_rows({B * H, W, C}, x.to_floats());
  Tensor row_scores;
  Tensor want = reference_mha(h, as_rows, as_rows, as_rows, kAll, false, &row_scores);
  EXPECT_EQ(compare(Tensor({B, H, W, C}, want.to_floats()), rows[0], 1e-5, 1e-5), "");
  EXPECT_EQ(compare(Tensor({B, H, 2, W, W}, row_scores.to_floats()), rows[1], 1e-5, 1e-5), "");
  // Both axes (also the default): all H*W positions attend jointly; -1 counts from the projected rank.
  Tensor flat({B, H * W, C}, x.to_floats());
  Tensor want_all = reference_mha(h, flat, flat, flat, kAll, false);
  for (json axes : {json(nullptr), json({1, 2}), json({-3, -2})}) {
    auto joint = run_axes(axes, false);
    EXPECT_EQ(compare(Tensor({B, H, W, C}, want_all.to_floats()), joint[0], 1e-5, 1e-5), "") << axes.dump();
  }
}

// Rank-4 input attending over W within each row, with an attention_mask (B, H, W, W): each row is
// a masked rank-3 problem; a query with no allowed key gets zero weights (Keras's masked Softmax).
TEST(MultiHeadAttention, MaskedAttentionOverOneAxisOfRank4Inputs) {
  std::mt19937 rng(18);
  const int64_t B = 2, H = 2, W = 3, C = 4;
  Heads h = random_heads(rng, C, C, C, 2, 2, 3, 3, {C});
  Tensor x = random_tensor({B, H, W, C}, rng);
  Tensor mask({B, H, W, W});
  for (size_t i = 0; i < mask.floats().size(); ++i) mask.floats()[i] = (i * 7) % 5 != 0 ? 1.f : 0.f;
  for (int64_t s = 0; s < W; ++s) mask.floats()[s] = 0.f;  // row 0, query 0 sees nothing
  auto op = make_op(mha_layer(2, 3, nullptr, nullptr, {{"attention_axes", {2}}}), h.entries(),
                    make_call(json::array({T(0), T(1)}), {{"attention_mask", T(2)}, {"return_attention_scores", true}},
                              {"", "", "attention_mask"}));
  auto out = run_op(*op, {x, x, mask});
  ASSERT_EQ(out[1].shape, (Shape{B, H, 2, W, W}));
  Tensor rows({B * H, W, C}, x.to_floats());
  auto allowed = [&](int64_t r, int64_t, int64_t t, int64_t s) { return mask.floats()[(r * W + t) * W + s] != 0.f; };
  Tensor scores;
  Tensor want = reference_mha(h, rows, rows, rows, allowed, false, &scores);
  EXPECT_EQ(compare(Tensor({B, H, W, C}, want.to_floats()), out[0], 1e-5, 1e-5), "");
  EXPECT_EQ(compare(Tensor({B, H, 2, W, W}, scores.to_floats()), out[1], 1e-5, 1e-5), "");
  for (int64_t s = 0; s < W; ++s) EXPECT_EQ(out[1].floats()[s], 0.f);
}

TEST(MultiHeadAttention, OutputShapesWithUnknownDims) {
  std::mt19937 rng(18);
  Heads h = random_heads(rng, 4, 3, 6, 2, 2, 3, 5, {7});
  auto op = make_op(mha_layer(2, 3, 5, 7), h.entries(),
                    make_call(json::array({T(0), T(1), T(2)}), {{"return_attention_scores", true}}, {"", "", ""}));
  auto shapes = op->output_shapes(std::vector<Shape>{{-1, -1, 4}, {-1, 9, 6}, {-1, 9, 3}});
  EXPECT_EQ(shapes[0], (Shape{-1, -1, 7}));
  EXPECT_EQ(shapes[1], (Shape{-1, 2, -1, 9}));
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{-1, 5, 5}, {-1, 9, 6}, {-1, 9, 3}}), Error);  // query dim
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{-1, 5, 4}, {-1, 9, 6}, {-1, 8, 3}}), Error);  // key steps
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{-1, 5, 4}, {-1, 9, 6}}), Error);              // tensor count
}

TEST(MultiHeadAttention, RefusesBadCallsConfigsAndWeights) {
  std::mt19937 rng(19);
  Heads h = random_heads(rng, 4, 4, 4, 2, 2, 3, 3, {4});
  auto two = make_call(json::array({T(0), T(1)}), json::object(), {"", ""});
  EXPECT_THROW(make_op(mha_layer(2, 3), h.entries(), make_call(json::array({T(0)}), json::object(), {""})), Error);
  EXPECT_THROW(make_op(mha_layer(2, 3), h.entries(),
                       make_call(json::array({T(0), T(1)}), {{"bogus", T(2)}}, {"", "", "bogus"})),
               Error);
  EXPECT_THROW(make_op(mha_layer(2, 3), h.entries(),
                       make_call(json::array({T(0), T(1)}), {{"use_causal_mask", "yes"}}, {"", ""})),
               Error);
  EXPECT_THROW(make_op(mha_layer(3, 3), h.entries(), two), Error);   // heads disagree with the kernels
  EXPECT_THROW(make_op(mha_layer(2, 3, nullptr, 5), h.entries(), two), Error);  // output kernel is (2, 3, 4)
  EXPECT_THROW(make_op(mha_layer(0, 3), h.entries(), two), Error);
  auto bad_axis = make_op(mha_layer(2, 3, nullptr, nullptr, {{"attention_axes", {2}}}), h.entries(), two);
  EXPECT_THROW(bad_axis->output_shapes(std::vector<Shape>{{-1, 5, 4}, {-1, 5, 4}}), Error);
  auto masked = make_op(mha_layer(2, 3), h.entries(),
                        make_call(json::array({T(0), T(1)}), {{"attention_mask", T(2)}}, {"", "", "attention_mask"}));
  EXPECT_THROW(masked->output_shapes(std::vector<Shape>{{-1, 5, 4}, {-1, 6, 4}, {-1, 5, 5}}), Error);
  EXPECT_NO_THROW(masked->output_shapes(std::vector<Shape>{{-1, 5, 4}, {-1, 6, 4}, {-1, 5, 6}}));
  EXPECT_NO_THROW(masked->output_shapes(std::vector<Shape>{{-1, 5, 4}, {-1, 6, 4}, {5, 6}}));
}

// ---- GroupedQueryAttention ---------------------------------------------------------------------

json gqa_layer(int head_dim, int q_heads, int kv_heads, bool use_bias = true) {
  return {{"class_name", "GroupQueryAttention"},
          {"config", {{"name", "gqa"}, {"head_dim", head_dim}, {"num_query_heads", q_heads},
                      {"num_key_value_heads", kv_heads}, {"use_bias", use_bias}, {"dropout", 0.0}}}};
}

TEST(GroupedQueryAttention, QueryHeadsShareKeyValueHeadsInGroups) {
  std::mt19937 rng(20);
  Heads h = random_heads(rng, 6, 6, 6, 4, 2, 3, 3, {6});
  Tensor q = random_tensor({2, 3, 6}, rng), v = random_tensor({2, 5, 6}, rng);
  auto op = make_op(gqa_layer(3, 4, 2), h.entries(), make_call(json::array({T(0), T(1)}), json::object(), {"", ""}));
  expect_close(run_op(*op, {q, v})[0], reference_mha(h, q, v, v, kAll, true));
}

TEST(GroupedQueryAttention, CausalScoresWithoutBias) {
  std::mt19937 rng(21);
  Heads h = random_heads(rng, 4, 4, 4, 2, 1, 2, 2, {4});
  std::fill(h.bq.floats().begin(), h.bq.floats().end(), 0.f);
  std::fill(h.bk.floats().begin(), h.bk.floats().end(), 0.f);
  std::fill(h.bv.floats().begin(), h.bv.floats().end(), 0.f);
  std::fill(h.bo.floats().begin(), h.bo.floats().end(), 0.f);
  Tensor x = random_tensor({1, 4, 4}, rng);
  auto op = make_op(gqa_layer(2, 2, 1, false),
                    {{"q", h.wq.shape, h.wq.to_floats()}, {"k", h.wk.shape, h.wk.to_floats()}, {"v", h.wv.shape, h.wv.to_floats()},
                     {"o", h.wo.shape, h.wo.to_floats()}},
                    make_call(json::array({T(0), T(1)}), {{"use_causal_mask", true}, {"return_attention_scores", true}},
                              {"", ""}));
  auto out = run_op(*op, {x, x});
  Tensor want_scores;
  auto causal = [](int64_t, int64_t, int64_t t, int64_t s) { return s <= t; };
  expect_close(out[0], reference_mha(h, x, x, x, causal, false, &want_scores));
  EXPECT_EQ(out[1].shape, (Shape{1, 2, 4, 4}));
  expect_close(out[1], want_scores);
}

TEST(GroupedQueryAttention, RefusesIndivisibleHeadsAndOtherRanks) {
  std::mt19937 rng(22);
  Heads h = random_heads(rng, 4, 4, 4, 3, 2, 2, 2, {4});
  auto two = make_call(json::array({T(0), T(1)}), json::object(), {"", ""});
  EXPECT_THROW(make_op(gqa_layer(2, 3, 2), h.entries(), two), Error);
  Heads ok = random_heads(rng, 4, 4, 4, 2, 1, 2, 2, {4});
  auto op = make_op(gqa_layer(2, 2, 1), ok.entries(), two);
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{-1, 2, 3, 4}, {-1, 2, 3, 4}}), Error);
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, -1, 4}, {-1, 7, 4}})[0], (Shape{-1, -1, 4}));
}

// ---- Attention / AdditiveAttention -------------------------------------------------------------

json attention_layer(const std::string& mode, bool use_scale) {
  return {{"class_name", "Attention"},
          {"config", {{"name", "att"}, {"use_scale", use_scale}, {"score_mode", mode}, {"dropout", 0.0}}}};
}
json additive_layer(bool use_scale) {
  return {{"class_name", "AdditiveAttention"}, {"config", {{"name", "add"}, {"use_scale", use_scale}, {"dropout", 0.0}}}};
}

Call list_call(int n, json kwargs = json::object(), std::vector<std::string> extra_roles = {}) {
  json list = json::array();
  for (int i = 0; i < n; ++i) list.push_back(T(i));
  std::vector<std::string> roles(static_cast<size_t>(n), "");
  roles.insert(roles.end(), extra_roles.begin(), extra_roles.end());
  return make_call(json::array({list}), std::move(kwargs), roles);
}

using ScoreFn = std::function<double(const float* q, const float* k, int64_t dim)>;

// softmax over keys of score(q, k) (masked keys lowered by 1e9 as Keras does), times value.
Tensor reference_attention(const Tensor& q, const Tensor& k, const Tensor& v, const ScoreFn& score,
                           const std::function<bool(int64_t, int64_t, int64_t)>& keep, Tensor* weights_out = nullptr) {
  int64_t B = q.shape[0], Tq = q.shape[1], Tv = v.shape[1], d = q.shape[2], dv = v.shape[2];
  Tensor out({B, Tq, dv});
  if (weights_out) *weights_out = Tensor({B, Tq, Tv});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < Tq; ++t) {
      std::vector<double> s(static_cast<size_t>(Tv));
      double mx = -1e300, sum = 0;
      for (int64_t j = 0; j < Tv; ++j) {
        // Keras subtracts 1e9 from a masked score in float32, which erases the score's own value.
        float raw = static_cast<float>(score(&q.floats()[(b * Tq + t) * d], &k.floats()[(b * Tv + j) * d], d));
        s[j] = keep(b, t, j) ? raw : raw - 1e9f;
        mx = std::max(mx, s[j]);
      }
      for (double x : s) sum += std::exp(x - mx);
      for (int64_t j = 0; j < Tv; ++j) {
        double p = std::exp(s[j] - mx) / sum;
        if (weights_out) weights_out->floats()[(b * Tq + t) * Tv + j] = static_cast<float>(p);
        for (int64_t c = 0; c < dv; ++c) out.floats()[(b * Tq + t) * dv + c] += static_cast<float>(p * v.floats()[(b * Tv + j) * dv + c]);
      }
    }
  return out;
}

const auto kKeepAll = [](int64_t, int64_t, int64_t) { return true; };

TEST(Attention, DotScoresWithScale) {
  std::mt19937 rng(30);
  Tensor q = random_tensor({2, 3, 4}, rng), v = random_tensor({2, 5, 4}, rng);
  auto op = make_op(attention_layer("dot", true), {{"scale", {}, {1.7f}}}, list_call(2));
  auto dot = [](const float* a, const float* b, int64_t d) {
    double s = 0;
    for (int64_t i = 0; i < d; ++i) s += a[i] * b[i];
    return 1.7 * s;
  };
  expect_close(run_op(*op, {q, v})[0], reference_attention(q, v, v, dot, kKeepAll));
  EXPECT_EQ(op->param_count(), 1);
}

TEST(Attention, ConcatScoresWithSeparateKey) {
  std::mt19937 rng(31);
  Tensor q = random_tensor({1, 3, 4}, rng), v = random_tensor({1, 2, 5}, rng), k = random_tensor({1, 2, 4}, rng);
  auto op = make_op(attention_layer("concat", true), {{"scale", {}, {0.6f}}, {"w", {}, {2.5f}}}, list_call(3));
  auto concat = [](const float* a, const float* b, int64_t d) {
    double s = 0;
    for (int64_t i = 0; i < d; ++i) s += std::tanh(0.6 * (a[i] + b[i]));
    return 2.5 * s;
  };
  auto out = run_op(*op, {q, v, k});
  EXPECT_EQ(out[0].shape, (Shape{1, 3, 5}));
  expect_close(out[0], reference_attention(q, k, v, concat, kKeepAll));
}

TEST(Attention, MasksAndCausalWithReturnedScores) {
  std::mt19937 rng(32);
  Tensor q = random_tensor({2, 3, 2}, rng), v = random_tensor({2, 3, 2}, rng);
  Tensor qm({2, 3}, {1, 0, 1, 1, 1, 1}), vm({2, 3}, {1, 1, 0, 0, 1, 1});
  auto op = make_op(attention_layer("dot", false), {},
                    list_call(2, {{"mask", {T(2), T(3)}}, {"use_causal_mask", true}, {"return_attention_scores", true}},
                              {"mask", "mask"}));
  auto out = run_op(*op, {q, v, qm, vm});
  auto dot = [](const float* a, const float* b, int64_t d) {
    double s = 0;
    for (int64_t i = 0; i < d; ++i) s += a[i] * b[i];
    return s;
  };
  auto keep = [&](int64_t b, int64_t t, int64_t j) { return vm.floats()[b * 3 + j] != 0 && j <= t; };
  Tensor weights;
  Tensor want = reference_attention(q, v, v, dot, keep, &weights);
  for (int64_t b = 0; b < 2; ++b)  // the query mask zeroes whole output rows
    for (int64_t t = 0; t < 3; ++t)
      if (qm.floats()[b * 3 + t] == 0) std::fill_n(&want.floats()[(b * 3 + t) * 2], 2, 0.f);
  expect_close(out[0], want);
  expect_close(out[1], weights);
  // batch 1, query 0: its only causal key is masked, so all three scores sit near -1e9 and the
  // weights come out (nearly) equal rather than zero.
  EXPECT_NEAR(out[1].floats()[9] + out[1].floats()[10] + out[1].floats()[11], 1.f, 1e-5);
}

TEST(Attention, CausalCallOnUnknownLengths) {
  auto op = make_op(attention_layer("dot", false), {}, list_call(2, {{"use_causal_mask", true}}));
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, -1, 2}, {-1, -1, 2}})[0], (Shape{-1, -1, 2}));
  auto scored = make_op(attention_layer("dot", false), {},
                        list_call(2, {{"use_causal_mask", true}, {"return_attention_scores", true}}));
  EXPECT_EQ(scored->output_shapes(std::vector<Shape>{{-1, 4, 2}, {-1, -1, 2}})[1], (Shape{-1, 4, -1}));
  auto concat = make_op(attention_layer("concat", false), {{"w", {}, {1.f}}}, list_call(2, {{"use_causal_mask", true}}));
  EXPECT_THROW(concat->output_shapes(std::vector<Shape>{{-1, -1, 2}, {-1, -1, 2}}), Error);
}

// A causal call on sequences whose lengths the model leaves open (one attention node) agrees with
// one whose lengths it fixes (a constant mask over the scores).
TEST(Attention, CausalOnUnknownLengthsMatchesKnownLengths) {
  KERASRT_REQUIRE_CORPUS();
  std::ifstream f(corpus_dir() / "attention_dot.config.json");
  json config = json::parse(f);
  std::ifstream wf(corpus_dir() / "attention_dot.weights.h5", std::ios::binary);
  const std::vector<uint8_t> weights((std::istreambuf_iterator<char>(wf)), std::istreambuf_iterator<char>());
  json& layers = config["config"]["layers"];
  layers[2]["inbound_nodes"][0]["kwargs"] = {{"use_causal_mask", true}};
  Model known = Model::load_json(config.dump(), weights, "known.json");
  layers[0]["config"]["batch_shape"] = {nullptr, nullptr, 4};
  layers[1]["config"]["batch_shape"] = {nullptr, nullptr, 4};
  Model open = Model::load_json(config.dump(), weights, "open.json");
  auto has_attention_node = [](const Model& m) {
    const json ir = json::parse(m.ir_json());
    for (const json& n : ir["nodes"])
      if (n["op"] == "attention") return true;
    return false;
  };
  EXPECT_FALSE(has_attention_node(known));
  EXPECT_TRUE(has_attention_node(open));
  std::mt19937 rng(36);
  std::map<std::string, Tensor> in{{"query", random_tensor({2, 5, 4}, rng)}, {"value", random_tensor({2, 6, 4}, rng)}};
  EXPECT_EQ(compare(known.predict(in).at("attention"), open.predict(in).at("attention"), 1e-5, 1e-5), "");
}

TEST(Attention, KerasTwoCausalConfigFlag) {
  std::mt19937 rng(33);
  Tensor q = random_tensor({1, 3, 2}, rng);
  json layer = attention_layer("dot", false);
  layer["config"]["causal"] = true;
  auto op = make_op(layer, {}, list_call(2));
  auto dot = [](const float* a, const float* b, int64_t d) {
    double s = 0;
    for (int64_t i = 0; i < d; ++i) s += a[i] * b[i];
    return s;
  };
  expect_close(run_op(*op, {q, q})[0],
               reference_attention(q, q, q, dot, [](int64_t, int64_t t, int64_t j) { return j <= t; }));
}

TEST(AdditiveAttention, ScaleVectorWeighsEachFeature) {
  std::mt19937 rng(34);
  Tensor q = random_tensor({2, 3, 3}, rng), v = random_tensor({2, 4, 3}, rng);
  std::vector<float> scale = {0.5f, -1.f, 2.f};
  auto op = make_op(additive_layer(true), {{"scale", {3}, scale}}, list_call(2));
  auto additive = [&](const float* a, const float* b, int64_t d) {
    double s = 0;
    for (int64_t i = 0; i < d; ++i) s += scale[i] * std::tanh(a[i] + b[i]);
    return s;
  };
  expect_close(run_op(*op, {q, v})[0], reference_attention(q, v, v, additive, kKeepAll));
  auto plain = make_op(additive_layer(false), {}, list_call(2));
  auto unscaled = [](const float* a, const float* b, int64_t d) {
    double s = 0;
    for (int64_t i = 0; i < d; ++i) s += std::tanh(a[i] + b[i]);
    return s;
  };
  expect_close(run_op(*plain, {q, v})[0], reference_attention(q, v, v, unscaled, kKeepAll));
}

TEST(Attention, ShapesAndRefusals) {
  auto op = make_op(attention_layer("dot", false), {}, list_call(3, {{"return_attention_scores", true}}));
  auto shapes = op->output_shapes(std::vector<Shape>{{-1, -1, 4}, {-1, 7, 6}, {-1, -1, 4}});
  EXPECT_EQ(shapes[0], (Shape{-1, -1, 6}));
  EXPECT_EQ(shapes[1], (Shape{-1, -1, 7}));
  auto pair = make_op(attention_layer("dot", false), {}, list_call(2));
  EXPECT_THROW(pair->output_shapes(std::vector<Shape>{{-1, 3, 4}, {-1, 7, 4, 1}}), Error);  // ranks differ
  EXPECT_THROW(pair->output_shapes(std::vector<Shape>{{-1, 3, 4}, {-1, 7, 6}}), Error);     // value is the key
  auto keyed = make_op(attention_layer("dot", false), {}, list_call(3));
  EXPECT_THROW(keyed->output_shapes(std::vector<Shape>{{-1, 3, 4}, {-1, 7, 6}, {-1, 7, 5}}), Error);  // q·k dims
  EXPECT_THROW(keyed->output_shapes(std::vector<Shape>{{-1, 3, 4}, {-1, 7, 6}, {-1, 6, 4}}), Error);  // steps
  EXPECT_THROW(make_op(attention_layer("dot", false), {}, list_call(1)), Error);
  EXPECT_THROW(make_op(attention_layer("cosine", false), {}, list_call(2)), Error);
  EXPECT_THROW(make_op(attention_layer("dot", true), {}, list_call(2)), Error);           // scale missing
  EXPECT_THROW(make_op(attention_layer("concat", false), {}, list_call(2)), Error);       // concat weight missing
  EXPECT_THROW(make_op(attention_layer("dot", false), {}, list_call(2, {{"mask", T(2)}}, {"mask"})), Error);
  auto add = make_op(additive_layer(true), {{"scale", {3}, {1, 2, 3}}}, list_call(2));
  EXPECT_THROW(add->output_shapes(std::vector<Shape>{{-1, 3, 4}, {-1, 7, 4}}), Error);   // scale has 3 values
}

}  // namespace
}  // namespace kerasrt::testing
