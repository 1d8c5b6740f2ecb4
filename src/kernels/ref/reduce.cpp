// Reference reductions: for each group (an index of the kept axes) its elements in row-major order
// of the reduced axes. Floats sum in double; integer sums and products in int64 (wrapping as the
// output type does); max/min compare in the input type, NaN propagating; argmax/argmin take the
// first extreme, NaN counting as the extreme (as torch does).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "kernels/axis_walk.hpp"
#include "kernels/ref/ref.hpp"

namespace kerasrt::kernels::ref {
namespace {

using F = ir::ReduceFn;

template <class T> bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  else return false;
}

template <class O> void store(void* out, int64_t i, O v) { static_cast<O*>(out)[i] = v; }

// Writes `v` (a double, or an int64 for exact integer results) as the output dtype.
void put(void* out, DType t, int64_t i, double v, int64_t exact, bool use_exact) {
  switch (t) {
    case DType::kFloat32: return store<float>(out, i, static_cast<float>(v));
    case DType::kInt32: return store<int32_t>(out, i, static_cast<int32_t>(use_exact ? exact : static_cast<int64_t>(v)));
    case DType::kInt64: return store<int64_t>(out, i, use_exact ? exact : static_cast<int64_t>(v));
    case DType::kUInt8: return store<uint8_t>(out, i, static_cast<uint8_t>(use_exact ? exact : static_cast<int64_t>(v)));
    case DType::kBool: return store<uint8_t>(out, i, (use_exact ? exact : v) != 0);
  }
}

template <class T>
void reduce_typed(const ir::ReduceAttrs& a, const T* x, void* y, DType out_t, const AxisWalk& kept, const AxisWalk& red) {
  constexpr bool kFloat = std::is_floating_point_v<T>;
  const int64_t n = red.count;
  for (int64_t g = 0; g < kept.count; ++g) {
    const int64_t base = kept.offset(g);
    auto at = [&](int64_t k) { return x[base + red.offset(k)]; };
    switch (a.fn) {
      case F::kSum:
      case F::kProd: {
        const bool sum = a.fn == F::kSum;
        if constexpr (kFloat) {
          double acc = sum ? 0 : 1;
          for (int64_t k = 0; k < n; ++k) acc = sum ? acc + at(k) : acc * at(k);
          put(y, out_t, g, acc, 0, false);
        } else {
          uint64_t acc = sum ? 0 : 1;  // unsigned: wraps instead of overflowing
          for (int64_t k = 0; k < n; ++k) {
            const uint64_t v = static_cast<uint64_t>(static_cast<int64_t>(at(k)));
            acc = sum ? acc + v : acc * v;
          }
          put(y, out_t, g, 0, static_cast<int64_t>(acc), true);
        }
        break;
      }
      case F::kMax:
      case F::kMin: {
        const bool is_max = a.fn == F::kMax;
        auto pick = [&](T r, T v) {
          if (is_nan(r) || is_nan(v)) return is_nan(r) ? r : v;
          return is_max ? std::max(r, v) : std::min(r, v);
        };
        T r = n ? at(0) : static_cast<T>(a.initial);
        for (int64_t k = 0; k < n; ++k) r = pick(r, at(k));
        if (a.has_initial) r = pick(r, static_cast<T>(a.initial));
        static_cast<T*>(y)[g] = r;
        break;
      }
      case F::kMean:
      case F::kVar:
      case F::kStd: {
        if (!n) {
          put(y, out_t, g, NAN, 0, false);
          break;
        }
        double s = 0;
        for (int64_t k = 0; k < n; ++k) s += static_cast<double>(at(k));
        const double mean = s / static_cast<double>(n);
        if (a.fn == F::kMean) {
          put(y, out_t, g, mean, 0, false);
          break;
        }
        double sq = 0;
        for (int64_t k = 0; k < n; ++k) sq += (static_cast<double>(at(k)) - mean) * (static_cast<double>(at(k)) - mean);
        const double var = sq / static_cast<double>(n);  // population variance, as Keras
        put(y, out_t, g, a.fn == F::kStd ? std::sqrt(var) : var, 0, false);
        break;
      }
      case F::kAny:
      case F::kAll: {
        bool r = a.fn == F::kAll;
        for (int64_t k = 0; k < n; ++k) r = a.fn == F::kAll ? (r && at(k) != T(0)) : (r || at(k) != T(0));
        static_cast<uint8_t*>(y)[g] = r;
        break;
      }
      case F::kLogSumExp: {
        double m = -INFINITY;
        bool nan = false;
        for (int64_t k = 0; k < n; ++k) {
          nan = nan || is_nan(at(k));
          m = std::max(m, static_cast<double>(static_cast<float>(at(k))));
        }
        if (nan) {
          put(y, out_t, g, NAN, 0, false);
          break;
        }
        float mf = static_cast<float>(m);
        if (std::isinf(mf)) mf = 0.f;  // all -inf gives log(0) = -inf; any +inf gives +inf
        double s = 0;
        for (int64_t k = 0; k < n; ++k) s += std::exp(static_cast<double>(static_cast<float>(at(k))) - mf);
        put(y, out_t, g, static_cast<float>(std::log(s) + mf), 0, false);
        break;
      }
      case F::kArgMax:
      case F::kArgMin: {
        int64_t best = 0;
        for (int64_t k = 1; k < n && !is_nan(at(best)); ++k)
          if (is_nan(at(k)) || (a.fn == F::kArgMax ? at(k) > at(best) : at(k) < at(best))) best = k;
        put(y, out_t, g, 0, best, true);
        break;
      }
    }
  }
}

void run_reduce(const KernelCall& c) {
  const auto& a = c.node.as<ir::ReduceAttrs>();
  const auto shape = c.in[0].shape;
  AxisWalk kept, red;  // the axes kept; the axes reduced
  split_axes(shape, a.axes, red, kept);
  const void* x = c.in[0].data;
  void* y = c.out[0].data;
  const DType o = c.out[0].dtype;
  switch (c.in[0].dtype) {
    case DType::kFloat32: return reduce_typed(a, static_cast<const float*>(x), y, o, kept, red);
    case DType::kInt32: return reduce_typed(a, static_cast<const int32_t*>(x), y, o, kept, red);
    case DType::kInt64: return reduce_typed(a, static_cast<const int64_t*>(x), y, o, kept, red);
    case DType::kUInt8:
    case DType::kBool: return reduce_typed(a, static_cast<const uint8_t*>(x), y, o, kept, red);
  }
}

}  // namespace

const Kernel kReduce{"ref", ir::OpKind::kReduce, nullptr, nullptr, nullptr, run_reduce};

}  // namespace kerasrt::kernels::ref
