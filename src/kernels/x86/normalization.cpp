// Normalization over the last axis, the common case. batch_norm (channels_last, after a convolution
// or dense layer): a per-channel affine map over contiguous rows, which vectorises; may run in place.
#include <algorithm>
#include <cmath>

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
// pool; the same double arithmetic in the same order as the reference, so the same bits.
bool normalize_supports(const ir::Node& node, std::span<const TensorType> in, std::span<const TensorType>) {
  const auto& a = node.as<ir::NormalizeAttrs>();
  return a.axes.size() == 1 && a.axes[0] == static_cast<int>(in[0].shape.size()) - 1;
}

void normalize_row(const ir::NormalizeAttrs& a, const float* x, float* y, int64_t n, const float* gamma,
                   const float* beta) {
  switch (a.mode) {
    case ir::NormalizeMode::kLayer: {
      double sum = 0;
      for (int64_t j = 0; j < n; ++j) sum += x[j];
      const double mean = sum / static_cast<double>(n);
      double sq = 0;
      for (int64_t j = 0; j < n; ++j) sq += (x[j] - mean) * (x[j] - mean);
      const double inv = 1.0 / std::sqrt(sq / static_cast<double>(n) + a.epsilon);
      const double center = a.center ? mean : 0.0;
      for (int64_t j = 0; j < n; ++j) {
        double v = (x[j] - center) * inv;
        if (gamma) v *= gamma[j];
        if (beta) v += beta[j];
        y[j] = static_cast<float>(v);
      }
      break;
    }
    case ir::NormalizeMode::kRms: {
      double sq = 0;
      for (int64_t j = 0; j < n; ++j) sq += static_cast<double>(x[j]) * x[j];
      const double inv = 1.0 / std::sqrt(sq / static_cast<double>(n) + a.epsilon);
      for (int64_t j = 0; j < n; ++j) y[j] = static_cast<float>(gamma ? x[j] * inv * gamma[j] : x[j] * inv);
      break;
    }
    case ir::NormalizeMode::kUnit: {
      double sq = 0;
      for (int64_t j = 0; j < n; ++j) sq += static_cast<double>(x[j]) * x[j];
      const double inv = 1.0 / std::sqrt(std::max(sq, a.epsilon * a.epsilon));
      for (int64_t j = 0; j < n; ++j) y[j] = static_cast<float>(x[j] * inv);
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
