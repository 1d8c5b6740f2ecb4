// Reference normalization kernels: batch_norm, normalize (layer/RMS/unit) and group_norm, written
// over any set of axes by splitting every element offset into a part along the axes and the rest.
#include <algorithm>
#include <array>
#include <cmath>

#include "kernels/ref/ref.hpp"

namespace kerasrt::kernels::ref {
namespace {

constexpr size_t kMaxRank = 16;

// The axes of a shape split in two (those in `axes` and the others); offset(part, i) is the element
// offset of the i-th combination of that part's coordinates in row-major order.
struct AxisSplit {
  std::array<int64_t, kMaxRank> dims[2]{}, strides[2]{};
  size_t rank[2]{0, 0};
  int64_t count[2]{1, 1};

  AxisSplit(std::span<const int64_t> shape, const std::vector<int>& axes) {
    if (shape.size() > kMaxRank) throw Error("normalization takes at most rank " + std::to_string(kMaxRank));
    int64_t step = 1;
    std::array<int64_t, kMaxRank> st{};
    for (size_t a = shape.size(); a-- > 0;) {
      st[a] = step;
      step *= shape[a];
    }
    for (size_t a = 0; a < shape.size(); ++a) {
      const int part = std::find(axes.begin(), axes.end(), static_cast<int>(a)) != axes.end() ? 0 : 1;
      dims[part][rank[part]] = shape[a];
      strides[part][rank[part]++] = st[a];
      count[part] *= shape[a];
    }
  }

  int64_t offset(int part, int64_t i) const {
    int64_t off = 0;
    for (size_t k = rank[part]; k-- > 0;) {
      off += (i % dims[part][k]) * strides[part][k];
      i /= dims[part][k];
    }
    return off;
  }
};

// ---- batch_norm -------------------------------------------------------------------------------
void run_batch_norm(const KernelCall& c) {
  const auto& a = c.node.as<ir::BatchNormAttrs>();
  const AxisSplit s(c.in[0].shape, a.axes);
  const float* x = static_cast<const float*>(c.in[0].data);
  float* y = static_cast<float*>(c.out[0].data);
  if (!a.batch_statistics) {
    const float* scale = c.node.weight(0).values<float>().data();
    const float* shift = c.node.weight(1).values<float>().data();
    for (int64_t f = 0; f < s.count[0]; ++f) {
      const int64_t base = s.offset(0, f);
      for (int64_t r = 0; r < s.count[1]; ++r) {
        const int64_t i = base + s.offset(1, r);
        y[i] = x[i] * scale[f] + shift[f];
      }
    }
    return;
  }
  // training=True: Keras's ops.moments, var = E[x^2] - E[x]^2 over every axis but the feature axes.
  size_t w = 0;
  const float* gamma = a.has_gamma ? c.node.weight(w++).values<float>().data() : nullptr;
  const float* beta = a.has_beta ? c.node.weight(w++).values<float>().data() : nullptr;
  for (int64_t f = 0; f < s.count[0]; ++f) {
    const int64_t base = s.offset(0, f);
    double sum = 0, sum2 = 0;
    for (int64_t r = 0; r < s.count[1]; ++r) {
      const double v = x[base + s.offset(1, r)];
      sum += v;
      sum2 += v * v;
    }
    const double m = sum / static_cast<double>(s.count[1]);
    const double var = sum2 / static_cast<double>(s.count[1]) - m * m;
    const float mean = static_cast<float>(m);
    float mult = static_cast<float>(1.0 / std::sqrt(var + a.epsilon));
    if (gamma) mult *= gamma[f];
    const float shift = beta ? beta[f] : 0.f;
    for (int64_t r = 0; r < s.count[1]; ++r) {
      const int64_t i = base + s.offset(1, r);
      y[i] = (x[i] - mean) * mult + shift;
    }
  }
}

// ---- normalize --------------------------------------------------------------------------------
void run_normalize(const KernelCall& c) {
  const auto& a = c.node.as<ir::NormalizeAttrs>();
  const AxisSplit s(c.in[0].shape, a.axes);
  const float* x = static_cast<const float*>(c.in[0].data);
  float* y = static_cast<float*>(c.out[0].data);
  size_t wi = 0;
  const float* gamma = a.has_gamma ? c.node.weight(wi++).values<float>().data() : nullptr;
  const float* beta = a.has_beta ? c.node.weight(wi++).values<float>().data() : nullptr;
  const int64_t n = s.count[0];
  for (int64_t g = 0; g < s.count[1]; ++g) {
    const float* xg = x + s.offset(1, g);
    float* yg = y + s.offset(1, g);
    switch (a.mode) {
      case ir::NormalizeMode::kLayer: {
        double sum = 0;
        for (int64_t j = 0; j < n; ++j) sum += xg[s.offset(0, j)];
        const double mean = sum / static_cast<double>(n);
        double sq = 0;
        for (int64_t j = 0; j < n; ++j) sq += (xg[s.offset(0, j)] - mean) * (xg[s.offset(0, j)] - mean);
        const double inv = 1.0 / std::sqrt(sq / static_cast<double>(n) + a.epsilon);
        const double center = a.center ? mean : 0.0;
        for (int64_t j = 0; j < n; ++j) {
          const int64_t o = s.offset(0, j);
          double v = (xg[o] - center) * inv;
          if (gamma) v *= gamma[j];
          if (beta) v += beta[j];
          yg[o] = static_cast<float>(v);
        }
        break;
      }
      case ir::NormalizeMode::kRms: {
        double sq = 0;
        for (int64_t j = 0; j < n; ++j) sq += static_cast<double>(xg[s.offset(0, j)]) * xg[s.offset(0, j)];
        const double inv = 1.0 / std::sqrt(sq / static_cast<double>(n) + a.epsilon);
        for (int64_t j = 0; j < n; ++j) {
          const int64_t o = s.offset(0, j);
          yg[o] = static_cast<float>(gamma ? xg[o] * inv * gamma[j] : xg[o] * inv);
        }
        break;
      }
      case ir::NormalizeMode::kUnit: {
        double sq = 0;
        for (int64_t j = 0; j < n; ++j) sq += static_cast<double>(xg[s.offset(0, j)]) * xg[s.offset(0, j)];
        const double inv = 1.0 / std::sqrt(std::max(sq, a.epsilon * a.epsilon));
        for (int64_t j = 0; j < n; ++j) yg[s.offset(0, j)] = static_cast<float>(xg[s.offset(0, j)] * inv);
        break;
      }
    }
  }
}

// ---- group_norm -------------------------------------------------------------------------------
void run_group_norm(const KernelCall& c) {
  const auto& a = c.node.as<ir::GroupNormAttrs>();
  const auto s = c.in[0].shape;
  size_t wi = 0;
  const float* gamma = a.has_gamma ? c.node.weight(wi++).values<float>().data() : nullptr;
  const float* beta = a.has_beta ? c.node.weight(wi++).values<float>().data() : nullptr;
  const int64_t batch = s[0], ch = s[a.axis];
  const int64_t pre = element_count(s.subspan(1, a.axis - 1)), post = element_count(s.subspan(a.axis + 1));
  const int64_t groups = a.groups == -1 ? ch : a.groups, per_group = ch / groups;
  const double count = static_cast<double>(pre * per_group * post);
  const float* x = static_cast<const float*>(c.in[0].data);
  float* y = static_cast<float*>(c.out[0].data);
  auto index = [&](int64_t b, int64_t p, int64_t k, int64_t q) { return ((b * pre + p) * ch + k) * post + q; };
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t c0 = g * per_group, c1 = c0 + per_group;
      double sum = 0;
      for (int64_t p = 0; p < pre; ++p)
        for (int64_t k = c0; k < c1; ++k)
          for (int64_t q = 0; q < post; ++q) sum += x[index(b, p, k, q)];
      const double mean = sum / count;
      double sq = 0;
      for (int64_t p = 0; p < pre; ++p)
        for (int64_t k = c0; k < c1; ++k)
          for (int64_t q = 0; q < post; ++q) sq += (x[index(b, p, k, q)] - mean) * (x[index(b, p, k, q)] - mean);
      const double inv = 1.0 / std::sqrt(sq / count + a.epsilon);
      for (int64_t p = 0; p < pre; ++p)
        for (int64_t k = c0; k < c1; ++k) {
          const double mult = gamma ? inv * gamma[k] : inv;
          const double shift = beta ? beta[k] : 0.0;
          for (int64_t q = 0; q < post; ++q) {
            const int64_t i = index(b, p, k, q);
            y[i] = static_cast<float>((x[i] - mean) * mult + shift);
          }
        }
    }
}

}  // namespace

const Kernel kBatchNorm{"ref", ir::OpKind::kBatchNorm, nullptr, nullptr, nullptr, run_batch_norm};
const Kernel kNormalize{"ref", ir::OpKind::kNormalize, nullptr, nullptr, nullptr, run_normalize};
const Kernel kGroupNorm{"ref", ir::OpKind::kGroupNorm, nullptr, nullptr, nullptr, run_group_norm};

}  // namespace kerasrt::kernels::ref
