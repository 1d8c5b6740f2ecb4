// Reference category_encode and bucketize.
#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>

#include "kernels/ref/ref.hpp"

namespace kerasrt::kernels::ref {
namespace {

// Class index of id i in (-inf, depth) (-1: encodes as zeros); Keras on torch raises for larger ids.
template <class T>
int64_t class_index(T v, int64_t depth) {
  if constexpr (std::is_floating_point_v<T>) {
    if (!std::isfinite(v) || v >= static_cast<float>(depth))
      throw Error("category_encode: token id " + std::to_string(v) + " is outside [0, " + std::to_string(depth) + ")");
    return v < 0.f ? -1 : static_cast<int64_t>(v);
  } else {
    if (v >= depth)
      throw Error("category_encode: token id " + std::to_string(v) + " is outside [0, " + std::to_string(depth) + ")");
    return v < 0 ? -1 : static_cast<int64_t>(v);
  }
}

template <class T>
void encode(const KernelCall& c, const T* ids) {
  const auto& a = c.node.as<ir::CategoryEncodeAttrs>();
  const auto shape = c.in[0].shape;
  const int64_t n = element_count(shape), depth = a.depth;
  float* out = static_cast<float*>(c.out[0].data);
  std::memset(out, 0, static_cast<size_t>(element_count(c.out[0].shape)) * sizeof(float));
  const float* weights = c.in.size() > 1 ? static_cast<const float*>(c.in[1].data) : nullptr;
  if (a.mode == ir::EncodeMode::kOneHot) {
    for (int64_t i = 0; i < n; ++i)
      if (int64_t k = class_index(ids[i], depth); k >= 0) out[i * depth + k] = 1.f;
    return;
  }
  // Reduced axis 1 (or 0 for rank <= 1): element i = (outer, r, inner) -> out[(outer, inner), id].
  const int64_t reduced = shape.empty() ? 1 : shape.size() == 1 ? shape[0] : shape[1];
  const int64_t inner = shape.size() < 2 ? 1 : element_count(shape.subspan(2));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t k = class_index(ids[i], depth);
    if (k < 0) continue;
    const int64_t outer = i / (reduced * inner), in_i = i % inner;
    float* row = out + (outer * inner + in_i) * depth;
    if (a.mode == ir::EncodeMode::kMultiHot) row[k] = 1.f;
    else row[k] += weights ? weights[i] : 1.f;
  }
}

void run_category_encode(const KernelCall& c) {
  switch (c.in[0].dtype) {
    case DType::kInt32: return encode(c, static_cast<const int32_t*>(c.in[0].data));
    case DType::kInt64: return encode(c, static_cast<const int64_t*>(c.in[0].data));
    default: return encode(c, static_cast<const float*>(c.in[0].data));
  }
}

// First index whose boundary is > x, compared in float64 (NaN lands past the end, as in torch's search).
void run_bucketize(const KernelCall& c) {
  const auto& b = c.node.as<ir::BucketizeAttrs>().boundaries;
  const float* x = static_cast<const float*>(c.in[0].data);
  int64_t* y = static_cast<int64_t*>(c.out[0].data);
  const int64_t n = element_count(c.in[0].shape);
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    int64_t lo = 0, hi = static_cast<int64_t>(b.size());
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (!(b[mid] > v)) lo = mid + 1;
      else hi = mid;
    }
    y[i] = lo;
  }
}

}  // namespace

const Kernel kCategoryEncode{"ref", ir::OpKind::kCategoryEncode, nullptr, nullptr, nullptr, run_category_encode};
const Kernel kBucketize{"ref", ir::OpKind::kBucketize, nullptr, nullptr, nullptr, run_bucketize};

}  // namespace kerasrt::kernels::ref
