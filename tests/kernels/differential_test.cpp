// The differential test: every kernel other than the reference, on seeded random attributes, shapes
// and data, against the reference kernel of its op kind. Float results within 1e-5 rel + 1e-6 abs
// (unless a case says why it needs more), integer and bool results exactly. A new kernel for an
// existing op kind needs no code here; a new op kind needs only a generator below.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <random>

#include "harness.hpp"
#include "ir/infer.hpp"
#include "kernels/kernel.hpp"
#include "kernels/simd_level.hpp"

namespace kerasrt::kernels {
namespace {

using testing::compare;

struct Case {
  ir::Node node;
  std::vector<Tensor> inputs;
  std::string what;
};

using Rng = std::mt19937;

int64_t pick(Rng& rng, int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); }

Shape random_shape(Rng& rng, int max_rank, int64_t max_dim) {
  Shape s(static_cast<size_t>(pick(rng, 0, max_rank)));
  for (auto& d : s) d = pick(rng, 1, max_dim);
  return s;
}

// A shape that broadcasts to `full`: some of its axes set to 1 and some leading axes dropped.
Shape broadcast_from(Rng& rng, const Shape& full) {
  Shape s = full;
  for (auto& d : s)
    if (pick(rng, 0, 3) == 0) d = 1;
  s.erase(s.begin(), s.begin() + pick(rng, 0, static_cast<int64_t>(s.size())));
  return s;
}

// An activation for a recurrent cell, last-axis softmax among them.
ir::UnaryAttrs random_cell_activation(Rng& rng) {
  const ir::UnaryFn fns[] = {ir::UnaryFn::kTanh, ir::UnaryFn::kSigmoid, ir::UnaryFn::kHardSigmoid,
                             ir::UnaryFn::kRelu, ir::UnaryFn::kIdentity, ir::UnaryFn::kSoftmax};
  ir::UnaryAttrs u{fns[pick(rng, 0, 5)]};
  if (u.fn == ir::UnaryFn::kHardSigmoid) u.alpha = 0.2f, u.beta = 0.5f;
  return u;
}

// Values of each dtype: floats in [lo, hi], sometimes exact multiples of 1/8 so that every sum of
// products is exact and any summation order gives the same bits.
Tensor random_values(Rng& rng, const Shape& shape, DType t, float lo = -3.f, float hi = 3.f, bool dyadic = false) {
  Tensor out(shape, t);
  switch (t) {
    case DType::kFloat32:
      for (float& v : out.floats()) {
        v = std::uniform_real_distribution<float>(lo, hi)(rng);
        if (dyadic) v = std::round(v * 8.f) / 8.f;
      }
      break;
    case DType::kInt32:
      for (auto& v : out.values<int32_t>()) v = static_cast<int32_t>(pick(rng, -20, 20));
      break;
    case DType::kInt64:
      for (auto& v : out.values<int64_t>()) v = pick(rng, -20, 20) * ((int64_t{1} << 40) + 1);
      break;
    case DType::kUInt8:
    case DType::kBool:
      for (auto& v : out.values<uint8_t>()) v = static_cast<uint8_t>(t == DType::kBool ? pick(rng, 0, 1) : pick(rng, 0, 255));
      break;
  }
  return out;
}

ir::Node node_of(ir::OpKind kind, ir::Attrs attrs, std::vector<ir::Weight> weights = {}) {
  ir::Node n;
  n.kind = kind;
  n.attrs = std::move(attrs);
  n.weights = std::move(weights);
  n.layer = "test";
  return n;
}

// ---- generators, one per op kind with more than one kernel --------------------------------------
std::vector<Case> unary_cases(Rng& rng) {
  std::vector<Case> out;
  for (int i = 0; i < 400; ++i) {
    ir::UnaryAttrs a;
    a.fn = static_cast<ir::UnaryFn>(pick(rng, 0, static_cast<int64_t>(ir::UnaryFn::kCount) - 1));
    a.alpha = std::uniform_real_distribution<float>(0.1f, 2.f)(rng);
    a.beta = std::uniform_real_distribution<float>(-1.f, 1.f)(rng);
    if (a.fn == ir::UnaryFn::kReluGeneral) {  // a cap above 0 (or none) and a threshold
      a.beta = pick(rng, 0, 2) == 0 ? INFINITY : std::uniform_real_distribution<float>(0.f, 4.f)(rng);
      a.gamma = std::uniform_real_distribution<float>(0.f, 1.5f)(rng);
    }
    if (a.fn == ir::UnaryFn::kGlu) continue;
    Shape s = i % 50 == 0 ? Shape{3, 20000} : random_shape(rng, 4, 9);  // some large enough to thread
    if (!ir::is_elementwise(a.fn) && s.empty()) s = {4};
    Tensor x = random_values(rng, s, DType::kFloat32);
    // Every fourth case spans the ranges where exp over- and underflows, with NaN, infinities and
    // zeros sprinkled in: the fast loops approximate exp, tanh and erf and must agree there too.
    if (i % 4 == 1) {
      const float special[] = {NAN, INFINITY, -INFINITY, 0.f, -0.f, 88.f, 88.5f, 88.72f, 88.73f, -87.f, -95.f, 1e-4f, -1e-4f};
      for (float& v : x.floats())
        v = pick(rng, 0, 5) == 0 ? special[pick(rng, 0, 12)] : std::uniform_real_distribution<float>(-100.f, 100.f)(rng);
    }
    out.push_back({node_of(ir::OpKind::kUnary, a), {std::move(x)}, ir::unary_fn_name(a.fn)});
  }
  return out;
}

std::vector<Case> binary_cases(Rng& rng) {
  std::vector<Case> out;
  const DType types[] = {DType::kFloat32, DType::kInt32, DType::kInt64, DType::kUInt8, DType::kBool};
  for (int i = 0; i < 600; ++i) {
    ir::BinaryAttrs a{static_cast<ir::BinaryFn>(pick(rng, 0, static_cast<int64_t>(ir::BinaryFn::kCount) - 1))};
    DType t = types[pick(rng, 0, 4)];
    if (ir::binary_compute_dtype(a.fn, t, t) != t) continue;
    Shape full = i % 60 == 0 ? Shape{2, 300, 64} : random_shape(rng, 5, 6);
    // Each input: the output shape, broadcast.
    Shape sa = broadcast_from(rng, full), sb = broadcast_from(rng, full);
    if (pick(rng, 0, 2) == 0) sa = full;
    out.push_back({node_of(ir::OpKind::kBinary, a), {random_values(rng, sa, t), random_values(rng, sb, t)},
                   std::string(ir::binary_fn_name(a.fn)) + " " + dtype_name(t)});
  }
  return out;
}

std::vector<Case> dense_cases(Rng& rng) {
  std::vector<Case> out;
  for (int i = 0; i < 60; ++i) {
    ir::DenseAttrs a;
    a.in = pick(rng, 1, 300);
    a.units = pick(rng, 1, 130);
    a.has_bias = pick(rng, 0, 1) == 1;
    a.bfloat16_compute = pick(rng, 0, 9) == 0;
    const ir::UnaryFn acts[] = {ir::UnaryFn::kIdentity, ir::UnaryFn::kRelu, ir::UnaryFn::kSigmoid, ir::UnaryFn::kTanh,
                                ir::UnaryFn::kSoftmax, ir::UnaryFn::kGelu};
    a.activation.fn = acts[pick(rng, 0, 5)];
    // Dyadic data keeps every dot product exact, so the GEMM's blocking cannot change a bit; the
    // GEMM's own test covers real-valued data with an error bound.
    std::vector<ir::Weight> w{{"kernel", std::make_shared<Tensor>(random_values(rng, {a.in, a.units}, DType::kFloat32, -1, 1, true))}};
    if (a.has_bias) w.push_back({"bias", std::make_shared<Tensor>(random_values(rng, {a.units}, DType::kFloat32, -1, 1, true))});
    Shape x = random_shape(rng, 2, 5);
    x.insert(x.begin(), pick(rng, 1, 40));
    x.push_back(a.in);
    out.push_back({node_of(ir::OpKind::kDense, a, std::move(w)), {random_values(rng, x, DType::kFloat32, -1, 1, true)},
                   "dense " + std::to_string(a.in) + "->" + std::to_string(a.units) + " " + ir::unary_fn_name(a.activation.fn)});
  }
  return out;
}

// Real-valued data (tanh and sigmoid are not exact on dyadic inputs anyway): the GEMM's summation
// order moves each pre-activation by a few ulps. Weights scaled by 1/sqrt(fan-in) keep the recurrence
// contractive, so with <= 12 steps and <= 40 units those ulps stay well inside 1e-5 rel + 1e-6 abs.
std::vector<Case> rnn_cases(Rng& rng) {
  std::vector<Case> out;
  for (int i = 0; i < 60; ++i) {
    ir::RnnAttrs a;
    a.cell = static_cast<ir::RnnCell>(i % 3);
    a.in = pick(rng, 1, 24);
    a.units = pick(rng, 1, 40);
    a.return_sequences = pick(rng, 0, 1) == 1;
    a.return_state = pick(rng, 0, 1) == 1;
    a.go_backwards = pick(rng, 0, 1) == 1;
    a.reverse_output = i % 4 >= 2;  // from the index: the random stream (and so the other cases) stays as it was
    a.zero_output_for_mask = pick(rng, 0, 1) == 1;
    a.reset_after = pick(rng, 0, 1) == 1;
    a.has_bias = pick(rng, 0, 3) != 0;
    a.initial_states = pick(rng, 0, 2) == 0;
    a.has_mask = pick(rng, 0, 2) == 0;
    a.activation = random_cell_activation(rng);
    a.recurrent_activation = random_cell_activation(rng);
    const int64_t g = ir::rnn_gates(a.cell) * a.units;
    const float sk = 1.f / std::sqrt(static_cast<float>(a.in)), sr = 1.f / std::sqrt(static_cast<float>(a.units));
    std::vector<ir::Weight> w{{"kernel", std::make_shared<Tensor>(random_values(rng, {a.in, g}, DType::kFloat32, -sk, sk))},
                              {"recurrent_kernel", std::make_shared<Tensor>(random_values(rng, {a.units, g}, DType::kFloat32, -sr, sr))}};
    const bool two_biases = a.cell == ir::RnnCell::kGru && a.reset_after;
    if (a.has_bias)
      w.push_back({"bias", std::make_shared<Tensor>(random_values(rng, two_biases ? Shape{2, g} : Shape{g}, DType::kFloat32, -0.5f, 0.5f))});
    const int64_t batch = pick(rng, 1, 5), steps = pick(rng, 1, 12);
    std::vector<Tensor> in{random_values(rng, {batch, steps, a.in}, DType::kFloat32, -1, 1)};
    if (a.initial_states)
      for (int64_t k = 0; k < ir::rnn_state_count(a.cell); ++k)
        in.push_back(random_values(rng, {batch, a.units}, DType::kFloat32, -1, 1));
    if (a.has_mask) {
      Tensor m({batch, steps, 1}, DType::kFloat32);
      for (float& v : m.values<float>()) v = static_cast<float>(pick(rng, 0, 3) != 0);
      in.push_back(std::move(m));
    }
    out.push_back({node_of(ir::OpKind::kRnn, a, std::move(w)), std::move(in),
                   std::string("rnn ") + ir::rnn_cell_name(a.cell) + " " + std::to_string(a.in) + "->" +
                       std::to_string(a.units) + " " + ir::unary_fn_name(a.activation.fn) + "/" +
                       ir::unary_fn_name(a.recurrent_activation.fn) + (a.reset_after ? " reset_after" : "") +
                       (a.has_mask ? " masked" : "") + (a.initial_states ? " with states" : "")});
  }
  return out;
}

// Attention on real-valued data with small shapes (the softmax and the value sum round differently
// from the reference's doubles, well inside the tolerance at these sizes); dyadic q/k and scale keep
// the logits themselves exact. Masks of every kind, fully masked rows included.
std::vector<Case> attention_cases(Rng& rng) {
  std::vector<Case> out;
  for (int i = 0; i < 120; ++i) {
    ir::AttentionAttrs a;
    a.kv_heads = pick(rng, 1, 3);
    a.heads = a.kv_heads * pick(rng, 1, 3);
    a.key_dim = pick(rng, 1, 8);
    a.value_dim = pick(rng, 1, 8);
    a.scale = pick(rng, 0, 1) ? 0.5f : 0.25f;
    a.causal = pick(rng, 0, 3) == 0;
    a.window = pick(rng, 0, 3) == 0 ? pick(rng, 1, 3) : 0;
    a.has_attention_mask = pick(rng, 0, 2) == 0;
    a.has_query_mask = pick(rng, 0, 3) == 0;
    a.has_value_mask = pick(rng, 0, 3) == 0;
    a.has_key_mask = pick(rng, 0, 4) == 0;
    a.uniform_if_fully_masked = pick(rng, 0, 1) == 1;
    a.return_scores = pick(rng, 0, 1) == 1;
    const int64_t B = pick(rng, 1, 3), T = pick(rng, 1, 9), S = pick(rng, 1, 10);
    std::vector<Tensor> in{random_values(rng, {B, T, a.heads * a.key_dim}, DType::kFloat32, -1, 1, true),
                           random_values(rng, {B, S, a.kv_heads * a.key_dim}, DType::kFloat32, -1, 1, true),
                           random_values(rng, {B, S, a.kv_heads * a.value_dim}, DType::kFloat32, -1, 1)};
    auto mask = [&](Shape s) {
      Tensor m = random_values(rng, s, DType::kFloat32, 0, 1);
      for (float& x : m.floats()) x = x < 0.3f ? 0.f : 1.f;
      return m;
    };
    if (a.has_attention_mask) {
      Shape full{B, a.heads, T, S}, s;
      for (int64_t d : full) s.push_back(pick(rng, 0, 2) == 0 ? 1 : d);
      in.push_back(mask(s));
    }
    if (a.has_query_mask) in.push_back(mask({B, T}));
    if (a.has_value_mask) in.push_back(mask({B, S}));
    if (a.has_key_mask) in.push_back(mask({B, S}));
    out.push_back({node_of(ir::OpKind::kAttention, a), std::move(in),
                   "attention heads " + std::to_string(a.heads) + "/" + std::to_string(a.kv_heads)});
  }
  return out;
}

std::vector<Case> conv_cases(Rng& rng) {
  std::vector<Case> out;
  for (int i = 0; i < 300; ++i) {
    ir::ConvAttrs a;
    a.rank = static_cast<int>(pick(rng, 1, 3));
    // Mostly the shapes the fast kernels take (channels_last, forward); the rest checks they refuse.
    a.transpose = pick(rng, 0, 4) == 0;
    a.channels_first = pick(rng, 0, 7) == 0;
    const int64_t shape_kind = pick(rng, 0, 3);  // 0 pointwise, 1 depthwise, 2 grouped, 3 plain
    for (int d = 0; d < a.rank; ++d) {
      a.kernel[d] = shape_kind == 0 ? 1 : pick(rng, 0, 5) == 0 ? 5 : pick(rng, 1, 3);
      a.strides[d] = shape_kind == 0 ? 1 : pick(rng, 1, 3);
      a.dilations[d] = pick(rng, 1, 2);
      if (a.transpose) a.output_padding[d] = pick(rng, -1, a.strides[d] - 1);
    }
    a.padding = static_cast<ir::ConvPadding>(pick(rng, 0, a.rank == 1 && !a.transpose ? 2 : 1));
    if (!a.transpose && pick(rng, 0, 4) == 0) {  // a ZeroPadding the plan folded in
      a.padding = ir::ConvPadding::kExplicit;
      for (int d = 0; d < a.rank; ++d) {
        a.pad_before[d] = pick(rng, 0, 2);
        a.pad_after[d] = pick(rng, 0, 2);
      }
    }
    if (shape_kind == 1 && !a.transpose) {
      a.in_channels = a.groups = pick(rng, 0, 4) == 0 ? pick(rng, 60, 150) : pick(rng, 1, 40);
      a.filters = a.in_channels * pick(rng, 1, 3);
    } else {
      a.groups = shape_kind == 2 && !a.transpose ? pick(rng, 2, 4) : 1;
      a.in_channels = a.groups * pick(rng, 1, 12);
      a.filters = a.groups * pick(rng, 1, 40);
    }
    a.has_bias = pick(rng, 0, 1) == 1;
    const ir::UnaryFn acts[] = {ir::UnaryFn::kIdentity, ir::UnaryFn::kRelu, ir::UnaryFn::kRelu6, ir::UnaryFn::kSilu,
                                ir::UnaryFn::kSoftmax, ir::UnaryFn::kSparsemax};
    a.activation.fn = acts[pick(rng, 0, 5)];
    Shape x{pick(rng, 1, 3)};
    for (int d = 0; d < a.rank; ++d) x.push_back(pick(rng, 1, a.rank == 3 ? 6 : 12));
    if (i % 50 == 0) x = a.rank == 1 ? Shape{2, 300} : a.rank == 2 ? Shape{1, 70, 66} : Shape{1, 14, 12, 10};
    if (i == 100) {  // more im2col floats than one block holds
      a = ir::ConvAttrs{};
      a.kernel = {3, 3, 1};
      a.in_channels = 32;
      a.filters = 8;
      a.padding = ir::ConvPadding::kSame;
      x = {1, 66, 64};
    }
    x.insert(a.channels_first ? x.begin() + 1 : x.end(), a.in_channels);
    bool fits = true;
    for (int d = 0; d < a.rank; ++d) fits = fits && ir::conv_axis(a, d, x[a.channels_first ? 2 + d : 1 + d]).out > 0;
    if (!fits) continue;
    // Dyadic data keeps every sum exact, so im2col + GEMM blocking cannot change a bit.
    Shape ks(a.kernel.begin(), a.kernel.begin() + a.rank);
    ks.push_back(a.in_channels / a.groups);
    ks.push_back(a.filters);
    std::vector<ir::Weight> w{{"kernel", std::make_shared<Tensor>(random_values(rng, ks, DType::kFloat32, -1, 1, true))}};
    if (a.has_bias) w.push_back({"bias", std::make_shared<Tensor>(random_values(rng, {a.filters}, DType::kFloat32, -1, 1, true))});
    std::string what = "conv" + std::to_string(a.rank) + "d k" + std::to_string(a.kernel[0]) + " s" +
                       std::to_string(a.strides[0]) + " d" + std::to_string(a.dilations[0]) + " " +
                       ir::conv_padding_name(a.padding) + " groups " + std::to_string(a.groups) + " " +
                       std::to_string(a.in_channels) + "->" + std::to_string(a.filters) +
                       (a.transpose ? " transpose" : "") + (a.channels_first ? " channels_first" : "") + " " +
                       ir::unary_fn_name(a.activation.fn);
    out.push_back({node_of(ir::OpKind::kConv, a, std::move(w)), {random_values(rng, x, DType::kFloat32, -1, 1, true)},
                   what});
  }
  return out;
}

std::vector<Case> pool_cases(Rng& rng) {
  std::vector<Case> out;
  for (int i = 0; i < 300; ++i) {
    ir::PoolAttrs a;
    a.reduce = pick(rng, 0, 1) ? ir::PoolReduce::kMax : ir::PoolReduce::kMean;
    a.window = static_cast<ir::PoolWindow>(pick(rng, 0, 2));
    a.spatial = static_cast<int>(pick(rng, 1, 3));
    a.channels_first = pick(rng, 0, 3) == 0;
    a.keepdims = pick(rng, 0, 1) == 1;
    a.same_padding = pick(rng, 0, 1) == 1;
    const int64_t channels = i % 40 == 0 ? 200 : pick(rng, 1, 70);  // some wider than one block of 64
    Shape x{pick(rng, 1, 3)};
    if (a.channels_first) x.push_back(channels);
    for (int k = 0; k < a.spatial; ++k) {
      const int64_t len = pick(rng, 1, a.spatial == 3 ? 6 : 12);
      x.push_back(len);
      a.size[k] = a.window == ir::PoolWindow::kAdaptive ? pick(rng, 1, 7) : pick(rng, 1, a.same_padding ? 4 : len);
      a.strides[k] = pick(rng, 1, 3);
    }
    if (!a.channels_first) x.push_back(channels);
    out.push_back({node_of(ir::OpKind::kPool, a), {random_values(rng, x, DType::kFloat32)},
                   std::string(ir::pool_reduce_name(a.reduce)) + " " + ir::pool_window_name(a.window) +
                       (a.same_padding ? " same" : " valid") + (a.channels_first ? " channels_first" : "")});
  }
  return out;
}

std::vector<Case> batch_norm_cases(Rng& rng) {
  std::vector<Case> out;
  for (int i = 0; i < 150; ++i) {
    ir::BatchNormAttrs a;
    Shape x = random_shape(rng, 4, 9);
    x.insert(x.begin(), i % 30 == 0 ? 4000 : pick(rng, 1, 6));  // some large enough to thread
    const int rank = static_cast<int>(x.size());
    a.axes = {pick(rng, 0, 3) == 0 ? static_cast<int>(pick(rng, 0, rank - 1)) : rank - 1};
    a.batch_statistics = pick(rng, 0, 5) == 0;
    a.has_gamma = a.has_beta = a.batch_statistics;
    a.epsilon = 1e-3;
    const int64_t f = x[a.axes[0]];
    std::vector<ir::Weight> w;
    for (const char* name : a.batch_statistics ? std::vector<const char*>{"gamma", "beta"} : std::vector<const char*>{"scale", "shift"})
      w.push_back({name, std::make_shared<Tensor>(random_values(rng, {f}, DType::kFloat32))});
    out.push_back({node_of(ir::OpKind::kBatchNorm, a, std::move(w)), {random_values(rng, x, DType::kFloat32)},
                   "batch_norm axis " + std::to_string(a.axes[0]) + (a.batch_statistics ? " batch statistics" : "")});
  }
  return out;
}

std::vector<Case> normalize_cases(Rng& rng) {
  std::vector<Case> out;
  for (int i = 0; i < 150; ++i) {
    ir::NormalizeAttrs a;
    a.mode = static_cast<ir::NormalizeMode>(pick(rng, 0, 2));
    a.epsilon = pick(rng, 0, 1) ? 1e-3 : 1e-6;
    a.center = pick(rng, 0, 3) != 0;
    Shape x = random_shape(rng, 3, 9);
    x.insert(x.begin(), i % 30 == 0 ? 3000 : pick(rng, 1, 5));  // some large enough to thread
    x.push_back(pick(rng, 1, 70));
    const int rank = static_cast<int>(x.size());
    if (pick(rng, 0, 3) == 0) {  // other axes: only the reference takes them
      for (int ax = 1; ax < rank; ++ax)
        if (pick(rng, 0, 1)) a.axes.push_back(ax);
      if (a.axes.empty()) a.axes.push_back(rank - 1);
    } else {
      a.axes = {rank - 1};
    }
    Shape ws;
    for (int ax : a.axes) ws.push_back(x[ax]);
    std::vector<ir::Weight> w;
    a.has_gamma = a.mode != ir::NormalizeMode::kUnit && pick(rng, 0, 2) != 0;
    a.has_beta = a.mode == ir::NormalizeMode::kLayer && pick(rng, 0, 2) != 0;
    if (a.has_gamma) w.push_back({"gamma", std::make_shared<Tensor>(random_values(rng, ws, DType::kFloat32))});
    if (a.has_beta) w.push_back({"beta", std::make_shared<Tensor>(random_values(rng, ws, DType::kFloat32))});
    out.push_back({node_of(ir::OpKind::kNormalize, a, std::move(w)), {random_values(rng, x, DType::kFloat32)},
                   std::string("normalize ") + ir::normalize_mode_name(a.mode)});
  }
  return out;
}

// Softmax over the last axis (the fast kernel) and over other axis sets (the reference only).
std::vector<Case> softmax_cases(Rng& rng) {
  std::vector<Case> out;
  for (int i = 0; i < 120; ++i) {
    ir::SoftmaxAttrs a;
    a.log = pick(rng, 0, 1) != 0;
    Shape x = random_shape(rng, 3, 7);
    x.insert(x.begin(), i % 20 == 0 ? 2000 : pick(rng, 1, 5));  // some large enough to thread
    x.push_back(pick(rng, 1, 90));
    const int rank = static_cast<int>(x.size());
    if (pick(rng, 0, 3) == 0) {
      for (int ax = 0; ax < rank; ++ax)
        if (pick(rng, 0, 1)) a.axes.push_back(ax);
    } else {
      a.axes = {rank - 1};
    }
    out.push_back({node_of(ir::OpKind::kSoftmax, a), {random_values(rng, x, DType::kFloat32, -30.f, 30.f)},
                   a.log ? "log_softmax" : "softmax"});
  }
  return out;
}

// Zero padding and cropping on any axes (the batch too), every dtype.
std::vector<Case> pad_cases(Rng& rng) {
  std::vector<Case> out;
  const DType types[] = {DType::kFloat32, DType::kInt64, DType::kUInt8, DType::kBool};
  for (int i = 0; i < 200; ++i) {
    Shape x = random_shape(rng, 5, 6);
    if (x.empty()) x = {pick(rng, 1, 4)};
    if (i % 40 == 0) x = {1, 60, 60, 24};  // large enough to thread
    ir::PadAttrs a;
    for (int64_t d : x) {
      int64_t before = pick(rng, 0, 2) == 0 ? 0 : pick(rng, -d / 2, 3);
      int64_t after = pick(rng, 0, 2) == 0 ? 0 : pick(rng, -(d + before) / 2, 3);
      if (i % 25 == 7) after = 1 - (d + before);  // cropped down to one element
      a.before.push_back(before);
      a.after.push_back(after);
    }
    out.push_back({node_of(ir::OpKind::kPad, a), {random_values(rng, x, types[pick(rng, 0, 3)])}, "pad"});
  }
  return out;
}

// Data movement: exact results, so every dtype (element sizes 1, 4, 8) is compared bit for bit.
DType random_dtype(Rng& rng) {
  const DType types[] = {DType::kFloat32, DType::kInt32, DType::kInt64, DType::kUInt8, DType::kBool};
  return types[pick(rng, 0, 4)];
}

std::vector<Case> transpose_cases(Rng& rng) {
  std::vector<Case> out;
  for (int i = 0; i < 300; ++i) {
    // Some large enough to thread, some with long axes (tiles, partial at the edges).
    Shape x = i % 40 == 0 ? Shape{4, 64, 33, 17} : i % 3 == 0 ? random_shape(rng, 3, 70) : random_shape(rng, 6, 7);
    ir::TransposeAttrs a;
    for (size_t d = 0; d < x.size(); ++d) a.perm.push_back(static_cast<int>(d));
    std::shuffle(a.perm.begin(), a.perm.end(), rng);
    if (pick(rng, 0, 3) == 0 && x.size() >= 2) std::sort(a.perm.end() - 2, a.perm.end());  // a contiguous tail
    out.push_back({node_of(ir::OpKind::kTranspose, a), {random_values(rng, x, random_dtype(rng))}, "transpose"});
  }
  return out;
}

// Dyadic data throughout: every sum of products is exact, so the GEMM's order cannot change a bit.
std::vector<Case> matmul_cases(Rng& rng) {
  std::vector<Case> out;
  for (int i = 0; i < 80; ++i) {
    ir::MatmulAttrs a{pick(rng, 0, 1) == 1, pick(rng, 0, 1) == 1};
    const int64_t m = pick(rng, 1, 40), k = pick(rng, 1, 70), n = pick(rng, 1, 50);
    // Batch axes broadcast.
    Shape batch = random_shape(rng, 3, 4);
    Shape x = broadcast_from(rng, batch), y = broadcast_from(rng, batch);
    if (pick(rng, 0, 9) == 0) x = {k};  // a vector operand
    else if (a.transpose_a) x.insert(x.end(), {k, m});
    else x.insert(x.end(), {m, k});
    if (pick(rng, 0, 9) == 0) y = {k};
    else if (a.transpose_b) y.insert(y.end(), {n, k});
    else y.insert(y.end(), {k, n});
    out.push_back({node_of(ir::OpKind::kMatmul, a),
                   {random_values(rng, x, DType::kFloat32, -1, 1, true), random_values(rng, y, DType::kFloat32, -1, 1, true)},
                   std::string("matmul") + (a.transpose_a ? " ta" : "") + (a.transpose_b ? " tb" : "")});
  }
  return out;
}

std::vector<Case> conv_lstm_cases(Rng& rng) {
  std::vector<Case> out;
  for (int i = 0; i < 40; ++i) {
    ir::ConvLstmAttrs a;
    ir::ConvAttrs& c = a.input;
    c.rank = static_cast<int>(pick(rng, 1, 3));
    c.channels_first = pick(rng, 0, 3) == 0;
    c.padding = pick(rng, 0, 1) ? ir::ConvPadding::kSame : ir::ConvPadding::kValid;
    c.in_channels = pick(rng, 1, 5);
    const int64_t filters = pick(rng, 1, 6);
    c.filters = 4 * filters;
    c.has_bias = pick(rng, 0, 3) != 0;
    Shape x{pick(rng, 1, 3), pick(rng, 1, 4)};
    Shape kshape;
    for (int d = 0; d < c.rank; ++d) {
      c.kernel[d] = pick(rng, 1, 3);
      c.strides[d] = pick(rng, 1, 2);
      c.dilations[d] = c.strides[d] == 1 ? pick(rng, 1, 2) : 1;
      kshape.push_back(c.kernel[d]);
    }
    Shape spatial;
    for (int d = 0; d < c.rank; ++d) spatial.push_back((c.kernel[d] - 1) * c.dilations[d] + pick(rng, 1, c.rank == 3 ? 3 : 6));
    if (c.channels_first) x.push_back(c.in_channels);
    x.insert(x.end(), spatial.begin(), spatial.end());
    if (!c.channels_first) x.push_back(c.in_channels);
    a.return_sequences = pick(rng, 0, 1) == 1;
    a.return_state = pick(rng, 0, 1) == 1;
    a.go_backwards = pick(rng, 0, 1) == 1;
    a.reverse_output = pick(rng, 0, 1) == 1;
    a.zero_output_for_mask = pick(rng, 0, 1) == 1;
    a.initial_states = pick(rng, 0, 2) == 0;
    a.has_mask = pick(rng, 0, 2) == 0;
    a.activation = random_cell_activation(rng);
    a.recurrent_activation = random_cell_activation(rng);
    Shape kin = kshape, krec = kshape;
    kin.insert(kin.end(), {c.in_channels, c.filters});
    krec.insert(krec.end(), {filters, c.filters});
    const float sk = 0.5f / std::sqrt(static_cast<float>(element_count(kin) / c.filters));
    const float sr = 0.5f / std::sqrt(static_cast<float>(element_count(krec) / c.filters));
    std::vector<ir::Weight> w{{"kernel", std::make_shared<Tensor>(random_values(rng, kin, DType::kFloat32, -sk, sk))},
                              {"recurrent_kernel", std::make_shared<Tensor>(random_values(rng, krec, DType::kFloat32, -sr, sr))}};
    if (c.has_bias) w.push_back({"bias", std::make_shared<Tensor>(random_values(rng, {c.filters}, DType::kFloat32, -0.5f, 0.5f))});
    ir::Node node = node_of(ir::OpKind::kConvLstm, a, std::move(w));
    std::vector<Tensor> in{random_values(rng, x, DType::kFloat32, -1, 1)};
    if (a.initial_states) {
      Shape state{x[0]};
      for (int64_t dim : ir::conv_lstm_state_shape(a, std::span(x).subspan(2))) state.push_back(dim);
      for (int k = 0; k < 2; ++k) in.push_back(random_values(rng, state, DType::kFloat32, -1, 1));
    }
    if (a.has_mask) {
      Tensor m({x[0], x[1]}, DType::kFloat32);
      for (float& v : m.values<float>()) v = static_cast<float>(pick(rng, 0, 3) != 0);
      in.push_back(std::move(m));
    }
    out.push_back({std::move(node), std::move(in),
                   "conv_lstm" + std::to_string(c.rank) + "d " + ir::conv_padding_name(c.padding) +
                       (c.channels_first ? " channels_first " : " ") + ir::unary_fn_name(a.activation.fn) + "/" +
                       ir::unary_fn_name(a.recurrent_activation.fn) + (a.has_mask ? " masked" : "") +
                       (a.initial_states ? " with states" : "")});
  }
  return out;
}

// Two-operand equations of batch, row, column and contracted labels in random orders (what the
// GEMM path takes), some with the second operand as the node's weight, and now and then a
// broadcast size-1 axis or a label summed within one operand (which stay on the reference).
std::vector<Case> einsum_cases(Rng& rng) {
  std::vector<Case> out;
  for (int i = 0; i < 80; ++i) {
    int next = 0;
    std::vector<int> labels[4];  // batch, rows, cols, contracted
    std::map<int, int64_t> size;
    for (auto& group : labels)
      for (int64_t j = pick(rng, 0, 2); j > 0; --j) {
        group.push_back(next);
        size[next++] = pick(rng, 1, 9);
      }
    auto shuffled = [&](std::initializer_list<const std::vector<int>*> parts) {
      std::vector<int> t;
      for (const auto* p : parts) t.insert(t.end(), p->begin(), p->end());
      std::shuffle(t.begin(), t.end(), rng);
      return t;
    };
    ir::EinsumAttrs a;
    a.inputs = {shuffled({&labels[0], &labels[1], &labels[3]}), shuffled({&labels[0], &labels[3], &labels[2]})};
    a.output = shuffled({&labels[0], &labels[1], &labels[2]});
    if (pick(rng, 0, 7) == 0) {  // summed within the first operand only
      a.inputs[0].push_back(next);
      size[next++] = pick(rng, 1, 4);
    }
    auto shape_of = [&](const std::vector<int>& t) {
      Shape s;
      for (int l : t) s.push_back(size[l]);
      return s;
    };
    Shape s0 = shape_of(a.inputs[0]), s1 = shape_of(a.inputs[1]);
    if (!s0.empty() && pick(rng, 0, 7) == 0) s0[0] = 1;  // broadcast
    a.weight_operand = pick(rng, 0, 2) == 0;
    std::string what = "einsum " + std::to_string(a.inputs[0].size()) + "," + std::to_string(a.inputs[1].size()) +
                       "->" + std::to_string(a.output.size()) + (a.weight_operand ? " weight" : "");
    Tensor x = random_values(rng, s0, DType::kFloat32, -1, 1, true), y = random_values(rng, s1, DType::kFloat32, -1, 1, true);
    if (a.weight_operand)
      out.push_back({node_of(ir::OpKind::kEinsum, a, {{"kernel", std::make_shared<Tensor>(std::move(y))}}), {x}, what});
    else
      out.push_back({node_of(ir::OpKind::kEinsum, a), {x, y}, what});
  }
  return out;
}

// Random keys: slices with any bounds (negative, past the ends, absent) and steps, integer
// indices, and inserted axes.
std::vector<Case> slice_cases(Rng& rng) {
  std::vector<Case> out;
  for (int i = 0; i < 400; ++i) {
    Shape x = i % 40 == 0 ? Shape{3, 200, 150} : random_shape(rng, 5, 8);
    ir::SliceAttrs a;
    int out_rank = 0;
    for (int64_t len : x) {
      while (pick(rng, 0, 5) == 0) a.new_axes.push_back(out_rank++);
      ir::SliceAxis s;
      switch (pick(rng, 0, 4)) {
        case 0:  // an index
          s.index = true;
          s.start = pick(rng, -len, len - 1);
          break;
        case 1: break;  // the whole axis
        default: {
          s.step = pick(rng, 0, 1) ? pick(rng, 1, 3) : -pick(rng, 1, 3);
          auto bound = [&](int64_t open) { return pick(rng, 0, 4) == 0 ? open : pick(rng, -len - 2, len + 2); };
          s.start = bound(s.step > 0 ? 0 : ir::kSliceEnd);
          s.stop = bound(s.step > 0 ? ir::kSliceEnd : ir::kSliceBegin);
        }
      }
      if (!s.index) ++out_rank;
      a.axes.push_back(s);
    }
    while (pick(rng, 0, 5) == 0) a.new_axes.push_back(out_rank++);
    out.push_back({node_of(ir::OpKind::kSlice, a), {random_values(rng, x, random_dtype(rng))}, "slice"});
  }
  return out;
}

// Concat and stack of 1 to 4 inputs of any dtype along any axis, blocks of every size (empty too).
std::vector<Case> concat_cases(Rng& rng) {
  std::vector<Case> out;
  for (int i = 0; i < 300; ++i) {
    ir::ConcatAttrs a;
    a.stack = pick(rng, 0, 3) == 0;
    Shape base = i % 30 == 0 ? Shape{1, 56, 56, 64} : random_shape(rng, 4, 9);
    if (base.empty() && !a.stack) base = {pick(rng, 1, 5)};  // concat needs an axis to join on
    const int rank = static_cast<int>(base.size()) + (a.stack ? 1 : 0);
    a.axis = pick(rng, -rank, rank - 1);
    const int axis = ir::concat_axis(a, base.size());
    const DType t = random_dtype(rng);
    std::vector<Tensor> inputs;
    const int64_t n = pick(rng, 1, 4);
    for (int64_t k = 0; k < n; ++k) {
      Shape s = base;
      if (!a.stack) s[axis] = pick(rng, 0, 5) == 0 ? 0 : pick(rng, 1, i % 30 == 0 ? 64 : 7);
      inputs.push_back(random_values(rng, s, t));
    }
    out.push_back({node_of(ir::OpKind::kConcat, a), std::move(inputs), a.stack ? "stack" : "concat"});
  }
  return out;
}

const std::map<ir::OpKind, std::function<std::vector<Case>(Rng&)>>& generators() {
  static const std::map<ir::OpKind, std::function<std::vector<Case>(Rng&)>> g = {
      {ir::OpKind::kUnary, unary_cases},
      {ir::OpKind::kBinary, binary_cases},
      {ir::OpKind::kDense, dense_cases},
      {ir::OpKind::kAttention, attention_cases},
      {ir::OpKind::kConv, conv_cases},
      {ir::OpKind::kPool, pool_cases},
      {ir::OpKind::kBatchNorm, batch_norm_cases},
      {ir::OpKind::kNormalize, normalize_cases},
      {ir::OpKind::kRnn, rnn_cases},
      {ir::OpKind::kSoftmax, softmax_cases},
      {ir::OpKind::kPad, pad_cases},
      {ir::OpKind::kConvLstm, conv_lstm_cases},
      {ir::OpKind::kMatmul, matmul_cases},
      {ir::OpKind::kEinsum, einsum_cases},
      {ir::OpKind::kTranspose, transpose_cases},
      {ir::OpKind::kSlice, slice_cases},
      {ir::OpKind::kConcat, concat_cases},
  };
  return g;
}

// ---- running one kernel ---------------------------------------------------------------------
std::vector<Tensor> run(const Kernel& k, const Case& c, std::span<const ir::TensorType> in_types,
                        std::span<const ir::TensorType> out_types, ThreadPool& pool, bool in_place,
                        std::span<const PostOp> post = {}) {
  std::vector<Tensor> outs;
  for (const auto& t : out_types) outs.emplace_back(t.shape, t.dtype);
  std::vector<Tensor> inputs = c.inputs;
  std::vector<ConstTensorView> in;
  for (const Tensor& t : inputs) in.push_back(t.view());
  std::vector<TensorView> out;
  for (Tensor& t : outs) out.push_back(t.view());
  if (in_place) out[0].data = const_cast<void*>(in[0].data);
  std::vector<std::byte> scratch(k.scratch_bytes ? k.scratch_bytes(c.node, in_types, out_types) : 0);
  std::shared_ptr<const void> prepared = k.prepare ? k.prepare(c.node) : nullptr;
  ExecContext ctx{&pool, scratch};
  k.run({c.node, in, out, ctx, prepared.get(), post});
  if (in_place) {
    size_t bytes = outs[0].nbytes();
    std::memcpy(outs[0].raw(), inputs[0].raw(), bytes);
  }
  return outs;
}

// Every SIMD level this CPU has: each fast kernel runs under each, so the AVX2 and portable paths
// are checked on an AVX-512 machine too.
std::vector<SimdLevel> simd_levels() {
  std::vector<SimdLevel> out;
  for (SimdLevel level : {SimdLevel::avx512, SimdLevel::avx2, SimdLevel::portable})
    if (simd_level_supported(level)) out.push_back(level);
  return out;
}

// Sets a SIMD level for one scope and restores the one chosen before.
class SimdLevelScope {
 public:
  explicit SimdLevelScope(SimdLevel level) : saved_(simd_level()) { set_simd_level(level); }
  ~SimdLevelScope() { set_simd_level(saved_); }
  SimdLevelScope(const SimdLevelScope&) = delete;
  SimdLevelScope& operator=(const SimdLevelScope&) = delete;

 private:
  SimdLevel saved_;
};

TEST(Differential, EveryKernelMatchesTheReference) {
  Rng rng(20261130);
  ThreadPool one(1), two(2);
  int compared_kernels = 0;
  for (int kind = 0; kind < static_cast<int>(ir::OpKind::kCount); ++kind) {
    auto list = kernels_for(static_cast<ir::OpKind>(kind));
    if (list.size() < 2) continue;
    const char* kind_name = ir::op_kind_name(static_cast<ir::OpKind>(kind));
    auto gen = generators().find(static_cast<ir::OpKind>(kind));
    ASSERT_NE(gen, generators().end()) << "op kind '" << kind_name << "' has fast kernels but no generator";
    std::vector<Case> cases = gen->second(rng);
    const Kernel& ref = *list.back();
    ASSERT_STREQ(ref.name, "ref") << kind_name;
    for (size_t k = 0; k + 1 < list.size(); ++k) {
      const Kernel& fast = *list[k];
      int covered = 0;
      for (const Case& c : cases) {
        std::vector<ir::TensorType> in_types;
        for (const Tensor& t : c.inputs) in_types.push_back({t.shape, t.dtype});
        std::vector<ir::TensorType> out_types = ir::infer_types(c.node, in_types);
        if (fast.supports && !fast.supports(c.node, in_types, out_types)) continue;
        ++covered;
        std::vector<Tensor> want = run(ref, c, in_types, out_types, one, false);
        bool can_alias = fast.in_place && out_types[0].dtype == in_types[0].dtype && out_types[0].shape == in_types[0].shape;
        for (SimdLevel level : simd_levels()) {
          SimdLevelScope scope(level);
          for (int variant = 0; variant < (can_alias ? 3 : 2); ++variant) {
            std::vector<Tensor> got = run(fast, c, in_types, out_types, variant == 1 ? two : one, variant == 2);
            for (size_t o = 0; o < want.size(); ++o)
              EXPECT_EQ(compare(want[o], got[o], 1e-6, 1e-5), "")
                  << kind_name << " kernel '" << fast.name << "' (" << simd_level_name(level) << ") on " << c.what
                  << " input " << shape_to_string(c.inputs[0].shape)
                  << (variant == 1 ? " (2 threads)" : variant == 2 ? " (in place)" : "");
            if (::testing::Test::HasFailure()) return;
          }
        }
      }
      EXPECT_GT(covered, 10) << kind_name << " kernel '" << fast.name << "' supported too few generated cases";
      ++compared_kernels;
    }
  }
  EXPECT_GE(compared_kernels, 3);
}

// Every op kind has a reference kernel, and it is last in its list.
TEST(Differential, EveryOpKindHasAReference) {
  for (int kind = 0; kind < static_cast<int>(ir::OpKind::kCount); ++kind) {
    auto list = kernels_for(static_cast<ir::OpKind>(kind));
    ASSERT_FALSE(list.empty()) << ir::op_kind_name(static_cast<ir::OpKind>(kind));
    EXPECT_STREQ(list.back()->name, "ref");
    EXPECT_EQ(list.back()->supports, nullptr) << "the reference takes everything";
  }
}

// Kernels that take post ops (a batch-norm or activation the plan fuses into them) against the
// reference kernel followed by the reference batch-norm and unary kernels, node by node.
TEST(Differential, PostOpsMatchTheNodesTheyReplace) {
  Rng rng(20261201);
  ThreadPool one(1), two(2);
  const ir::UnaryFn fns[] = {ir::UnaryFn::kRelu,    ir::UnaryFn::kRelu6, ir::UnaryFn::kSigmoid,  ir::UnaryFn::kSilu,
                             ir::UnaryFn::kHardSilu, ir::UnaryFn::kTanh,  ir::UnaryFn::kGelu,     ir::UnaryFn::kLeakyRelu,
                             ir::UnaryFn::kIdentity, ir::UnaryFn::kElu};
  const Kernel& ref_bn = *kernels_for(ir::OpKind::kBatchNorm).back();
  const Kernel& ref_unary = *kernels_for(ir::OpKind::kUnary).back();
  int checked = 0;
  for (int kind = 0; kind < static_cast<int>(ir::OpKind::kCount); ++kind) {
    auto list = kernels_for(static_cast<ir::OpKind>(kind));
    auto gen = generators().find(static_cast<ir::OpKind>(kind));
    if (gen == generators().end()) continue;
    std::vector<Case> cases = gen->second(rng);
    for (size_t k = 0; k + 1 < list.size(); ++k) {
      const Kernel& fast = *list[k];
      if (!fast.post_ops) continue;
      int covered = 0;
      for (const Case& c : cases) {
        std::vector<ir::TensorType> in_types;
        for (const Tensor& t : c.inputs) in_types.push_back({t.shape, t.dtype});
        std::vector<ir::TensorType> out_types = ir::infer_types(c.node, in_types);
        if (fast.supports && !fast.supports(c.node, in_types, out_types)) continue;
        const Shape& shape = out_types[0].shape;
        if (shape.empty() || out_types[0].dtype != DType::kFloat32) continue;
        // A random chain of one to three steps and the nodes it stands for.
        std::vector<PostOp> post;
        std::vector<Case> nodes;
        for (int64_t i = pick(rng, 1, 3); i > 0; --i) {
          if (pick(rng, 0, 1) == 0) {
            Tensor scale = random_values(rng, {shape.back()}, DType::kFloat32, -2.f, 2.f);
            Tensor shift = random_values(rng, {shape.back()}, DType::kFloat32, -1.f, 1.f);
            ir::BatchNormAttrs bn;
            bn.axes = {static_cast<int>(shape.size()) - 1};
            ir::Node node = node_of(ir::OpKind::kBatchNorm, bn,
                                    {{"scale", std::make_shared<Tensor>(std::move(scale))},
                                     {"shift", std::make_shared<Tensor>(std::move(shift))}});
            post.push_back({node.weight(0).values<float>().data(), node.weight(1).values<float>().data(), {}});
            nodes.push_back({std::move(node), {}, "batch_norm"});
          } else {
            ir::UnaryAttrs u{fns[pick(rng, 0, 9)], 0.3f, 0.f};
            post.push_back({nullptr, nullptr, u});
            nodes.push_back({node_of(ir::OpKind::kUnary, u), {}, ir::unary_fn_name(u.fn)});
          }
        }
        std::vector<Tensor> want = run(*list.back(), c, in_types, out_types, one, false);
        std::string chain;
        for (Case& n : nodes) {
          n.inputs = {want[0]};
          const std::vector<ir::TensorType> t{{shape, DType::kFloat32}};
          want[0] = run(n.node.kind == ir::OpKind::kBatchNorm ? ref_bn : ref_unary, n, t, t, one, false)[0];
          chain += " -> " + n.what;
        }
        for (SimdLevel level : simd_levels()) {
          SimdLevelScope scope(level);
          for (ThreadPool* pool : {&one, &two}) {
            std::vector<Tensor> got = run(fast, c, in_types, out_types, *pool, false, post);
            EXPECT_EQ(compare(want[0], got[0], 1e-6, 1e-5), "")
                << ir::op_kind_name(static_cast<ir::OpKind>(kind)) << " kernel '" << fast.name << "' ("
                << simd_level_name(level) << ") on " << c.what << chain;
            if (::testing::Test::HasFailure()) return;
          }
        }
        ++covered;
      }
      EXPECT_GT(covered, 10) << "kernel '" << fast.name << "' took post ops on too few generated cases";
      ++checked;
    }
  }
  EXPECT_GE(checked, 4);  // dense gemm, conv depthwise, conv gemm, batch norm
}

}  // namespace
}  // namespace kerasrt::kernels
