// Reference softmax over any set of axes: for each group (an index of the other axes), the group's
// elements in row-major order of the softmax axes; max-shifted and summed in double, as Keras's
// float32 result is matched best that way.
#include <algorithm>
#include <array>
#include <cmath>

#include "kernels/ref/ref.hpp"

namespace kerasrt::kernels::ref {
namespace {

// Offsets of the elements of a set of axes: the k-th element (row-major over those axes).
struct AxisWalk {
  std::array<int64_t, ir::kMaxTransposeRank> dims{}, strides{};
  size_t n = 0;
  int64_t count = 1;
  int64_t offset(int64_t k) const {
    int64_t off = 0;
    for (size_t i = n; i-- > 0;) {
      off += (k % dims[i]) * strides[i];
      k /= dims[i];
    }
    return off;
  }
};

void run_softmax(const KernelCall& c) {
  const auto& a = c.node.as<ir::SoftmaxAttrs>();
  const auto shape = c.in[0].shape;
  AxisWalk group, rest;  // the softmax axes; the others
  int64_t stride = 1;
  std::array<int64_t, ir::kMaxTransposeRank> strides{};
  for (size_t d = shape.size(); d-- > 0;) {
    strides[d] = stride;
    stride *= shape[d];
  }
  for (size_t d = 0; d < shape.size(); ++d) {
    AxisWalk& w = std::find(a.axes.begin(), a.axes.end(), static_cast<int>(d)) != a.axes.end() ? group : rest;
    w.dims[w.n] = shape[d];
    w.strides[w.n++] = strides[d];
    w.count *= shape[d];
  }
  if (group.count == 0) return;
  const float* x = static_cast<const float*>(c.in[0].data);
  float* y = static_cast<float*>(c.out[0].data);
  for (int64_t r = 0; r < rest.count; ++r) {
    const int64_t base = rest.offset(r);
    float mx = -INFINITY;
    for (int64_t k = 0; k < group.count; ++k) mx = std::max(mx, x[base + group.offset(k)]);
    double sum = 0;
    for (int64_t k = 0; k < group.count; ++k) sum += std::exp(static_cast<double>(x[base + group.offset(k)] - mx));
    const float ls = static_cast<float>(std::log(sum));
    for (int64_t k = 0; k < group.count; ++k) {
      const int64_t i = base + group.offset(k);
      y[i] = a.log ? x[i] - mx - ls : static_cast<float>(std::exp(static_cast<double>(x[i] - mx)) / sum);
    }
  }
}

}  // namespace

// Each group is read whole before it is written, so the output may be the input.
const Kernel kSoftmax{"ref", ir::OpKind::kSoftmax, nullptr, nullptr, nullptr, run_softmax, true};

}  // namespace kerasrt::kernels::ref
