// Softmax over the last axis alone (the common case): contiguous rows split over the pool, with the
// reference's double arithmetic in the same order, so the same bits.
#include <algorithm>
#include <cmath>

#include "kernels/x86/x86.hpp"

namespace kerasrt::kernels::x86 {
namespace {

bool softmax_supports(const ir::Node& node, std::span<const TensorType> in, std::span<const TensorType>) {
  const auto& a = node.as<ir::SoftmaxAttrs>();
  return a.axes.size() == 1 && a.axes[0] == static_cast<int>(in[0].shape.size()) - 1;
}

void run_softmax(const KernelCall& c) {
  const bool log = c.node.as<ir::SoftmaxAttrs>().log;
  const float* x = static_cast<const float*>(c.in[0].data);
  float* y = static_cast<float*>(c.out[0].data);
  const int64_t n = c.in[0].shape.back();
  const int64_t rows = n ? element_count(c.in[0].shape) / n : 0;
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(n, 1));
  c.ctx.parallel_for(rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* p = x + r * n;
      float* q = y + r * n;
      float mx = -INFINITY;
      for (int64_t j = 0; j < n; ++j) mx = std::max(mx, p[j]);
      double sum = 0;
      for (int64_t j = 0; j < n; ++j) sum += std::exp(static_cast<double>(p[j] - mx));
      if (log) {
        const float ls = static_cast<float>(std::log(sum));
        for (int64_t j = 0; j < n; ++j) q[j] = p[j] - mx - ls;
      } else {
        for (int64_t j = 0; j < n; ++j) q[j] = static_cast<float>(std::exp(static_cast<double>(p[j] - mx)) / sum);
      }
    }
  });
}

}  // namespace

// Each row is read in full before it is written, so it may run in place.
const Kernel kSoftmaxLastAxis{"last_axis", ir::OpKind::kSoftmax, softmax_supports, nullptr, nullptr, run_softmax, true};

}  // namespace kerasrt::kernels::x86
