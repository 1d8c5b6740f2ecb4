// Normalization over the last axis, the common case. batch_norm (channels_last, after a convolution
// or dense layer): a per-channel affine map over contiguous rows, which vectorises; may run in place.
#include <algorithm>
#include <cmath>

#include "kernels/simd_level.hpp"  // KERASRT_CLONES
#include "kernels/x86/x86.hpp"

namespace kerasrt::kernels::x86 {
namespace {

bool batch_norm_supports(const ir::Node& node, std::span<const TensorType> in, std::span<const TensorType>) {
  const auto& a = node.as<ir::BatchNormAttrs>();
  return !a.batch_statistics && a.axes.size() == 1 && a.axes[0] == static_cast<int>(in[0].shape.size()) - 1;
}

void run_batch_norm(const KernelCall& c) {
  const float* x = static_cast<const float*>(c.in[0].data);
  float* y = static_cast<float*>(c.out[0].data);
  const float* scale = c.node.weight(0).values<float>().data();
  const float* shift = c.node.weight(1).values<float>().data();
  const int64_t channels = c.in[0].shape.back();
  const int64_t rows = channels ? element_count(c.in[0].shape) / channels : 0;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(channels, 1));
  c.ctx.parallel_for(rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* xr = x + r * channels;
      float* yr = y + r * channels;
      for (int64_t j = 0; j < channels; ++j) yr[j] = xr[j] * scale[j] + shift[j];
    }
    apply_post_ops(c.post, y + begin * channels, end - begin, channels);  // while the rows are in cache
  });
}

// ---- normalize over the last axis (LayerNormalization's default): contiguous rows, split over the
// pool; double arithmetic as in the reference, but the sums kept in 8 lanes (added pairwise at the
// end) so they vectorise instead of waiting on one chain of additions.
bool normalize_supports(const ir::Node& node, std::span<const TensorType> in, std::span<const TensorType>) {
  const auto& a = node.as<ir::NormalizeAttrs>();
  return a.axes.size() == 1 && a.axes[0] == static_cast<int>(in[0].shape.size()) - 1;
}

constexpr int kLanes = 8;

double lane_total(const double (&s)[kLanes]) { return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])); }

// sum of (x[j] - shift)^2, or of x[j] - shift when `square` is false.
template <bool square>
[[gnu::always_inline]] inline double row_sum_body(const float* x, int64_t n, double shift) {
  double s[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      const double v = static_cast<double>(x[j + l]) - shift;
      s[l] += square ? v * v : v;
    }
  for (int l = 0; j < n; ++j, ++l) {
    const double v = static_cast<double>(x[j]) - shift;
    s[l] += square ? v * v : v;
  }
  return lane_total(s);
}
// One clone per instruction set (clang clones only plain functions, not templates).
KERASRT_CLONES("avx512f", "avx2", "default") double row_sum(const float* x, int64_t n, double shift) {
  return row_sum_body<false>(x, n, shift);
}
KERASRT_CLONES("avx512f", "avx2", "default") double row_sum_sq(const float* x, int64_t n, double shift) {
  return row_sum_body<true>(x, n, shift);
}

KERASRT_CLONES("avx512f", "avx2", "default") void scale_row(const float* x, float* y, int64_t n,
                                                                            double center, double inv,
                                                                            const float* gamma, const float* beta) {
  for (int64_t j = 0; j < n; ++j) {
    double v = (static_cast<double>(x[j]) - center) * inv;
    if (gamma) v *= gamma[j];
    if (beta) v += beta[j];
    y[j] = static_cast<float>(v);
  }
}

void normalize_row(const ir::NormalizeAttrs& a, const float* x, float* y, int64_t n, const float* gamma,
                   const float* beta) {
  switch (a.mode) {
    case ir::NormalizeMode::kLayer: {
      const double mean = row_sum(x, n, 0.0) / static_cast<double>(n);
      const double sq = row_sum_sq(x, n, mean);
      const double inv = 1.0 / std::sqrt(sq / static_cast<double>(n) + a.epsilon);
      scale_row(x, y, n, a.center ? mean : 0.0, inv, gamma, beta);
      break;
    }
    case ir::NormalizeMode::kRms: {
      const double sq = row_sum_sq(x, n, 0.0);
      const double inv = 1.0 / std::sqrt(sq / static_cast<double>(n) + a.epsilon);
      scale_row(x, y, n, 0.0, inv, gamma, nullptr);
      break;
    }
    case ir::NormalizeMode::kUnit: {
      const double sq = row_sum_sq(x, n, 0.0);
      const double inv = 1.0 / std::sqrt(std::max(sq, a.epsilon * a.epsilon));
      scale_row(x, y, n, 0.0, inv, nullptr, nullptr);
      break;
    }
  }
}

void run_normalize(const KernelCall& c) {
  const auto& a = c.node.as<ir::NormalizeAttrs>();
  size_t wi = 0;
  const float* gamma = a.has_gamma ? c.node.weight(wi++).values<float>().data() : nullptr;
  const float* beta = a.has_beta ? c.node.weight(wi++).values<float>().data() : nullptr;
  const float* x = static_cast<const float*>(c.in[0].data);
  float* y = static_cast<float*>(c.out[0].data);
  const int64_t n = c.in[0].shape.back();
  const int64_t rows = n ? element_count(c.in[0].shape) / n : 0;
  const int64_t grain = std::max<int64_t>(1, 8192 / std::max<int64_t>(n, 1));
  c.ctx.parallel_for(rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) normalize_row(a, x + r * n, y + r * n, n, gamma, beta);
  });
}

}  // namespace

// Each row is read in full before it is written, so it may run in place.
const Kernel kNormalizeLastAxis{"last_axis", ir::OpKind::kNormalize, normalize_supports, nullptr, nullptr, run_normalize,
                                true};

const Kernel kBatchNormChannelsLast{"channels_last", ir::OpKind::kBatchNorm, batch_norm_supports, nullptr, nullptr,
                                    run_batch_norm, /*in_place=*/true, /*post_ops=*/true};

}  // namespace kerasrt::kernels::x86
