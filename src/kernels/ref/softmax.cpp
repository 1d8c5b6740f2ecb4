// Reference softmax over any set of axes: for each group (an index of the other axes), the group's
// elements in row-major order of the softmax axes; max-shifted and summed in double, as Keras's
// float32 result is matched best that way.
#include <algorithm>
#include <array>
#include <cmath>

#include "kernels/axis_walk.hpp"
#include "kernels/ref/ref.hpp"

namespace kerasrt::kernels::ref {
namespace {

void run_softmax(const KernelCall& c) {
  const auto& a = c.node.as<ir::SoftmaxAttrs>();
  const auto shape = c.in[0].shape;
  AxisWalk group, rest;  // the softmax axes; the others
  split_axes(shape, a.axes, group, rest);
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
