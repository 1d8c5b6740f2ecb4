// The scalar formula of each element-wise unary function, as Keras defines it. The reference kernel
// calls unary_value() per element; faster kernels hoist the switch out of their loops.
#pragma once

#include <algorithm>
#include <cmath>

#include "ir/elementwise.hpp"

namespace kerasrt::kernels {

inline float sigmoid(float x) { return 1.f / (1.f + std::exp(-x)); }
inline float softplus(float x) { return x > 20.f ? x : std::log1p(std::exp(x)); }

// torch.round: nearest, ties to even (as NumPy), after scaling by 10^decimals.
inline float round_decimals(float x, float decimals) {
  if (decimals == 0.f) return std::nearbyint(x);
  float scale = static_cast<float>(std::pow(10.0, static_cast<double>(std::fabs(decimals))));
  return decimals > 0.f ? std::nearbyint(x * scale) / scale : std::nearbyint(x / scale) * scale;
}

// Always inlined: with a constant `u.fn` (the fast loops) the switch folds into straight-line code.
[[gnu::always_inline]] inline float unary_value(const ir::UnaryAttrs& u, float x) {
  const float a = u.alpha, b = u.beta;
  using F = ir::UnaryFn;
  switch (u.fn) {
    case F::kIdentity: return x;
    case F::kRelu: return x > 0.f ? x : (x == x ? 0.f : x);  // NaN passes through, as in Keras
    case F::kRelu6: return x == x ? std::min(std::max(x, 0.f), 6.f) : x;
    case F::kSigmoid: return sigmoid(x);
    case F::kHardSigmoid: return std::min(std::max(a * x + b, 0.f), 1.f);
    case F::kTanh: return std::tanh(x);
    case F::kElu: return x > 0.f ? x : a * std::expm1(x);
    case F::kSelu: {
      constexpr float kAlpha = 1.6732632423543772f, kScale = 1.0507009873554805f;
      return x > 0.f ? kScale * x : kScale * kAlpha * std::expm1(x);
    }
    case F::kSoftplus: return softplus(x);
    case F::kSoftsign: return x / (1.f + std::fabs(x));
    case F::kSilu: return x * sigmoid(x);
    case F::kHardSilu: return x * std::min(std::max(x / 6.f + 0.5f, 0.f), 1.f);
    case F::kGelu: return 0.5f * x * (1.f + std::erf(x * 0.70710678118654752f));
    case F::kGeluTanh: return 0.5f * x * (1.f + std::tanh(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    case F::kExp: return std::exp(x);
    case F::kLeakyRelu: return x >= 0.f ? x : a * x;
    case F::kMish: return x * std::tanh(softplus(x));
    case F::kCelu: return std::max(x, 0.f) + std::min(0.f, a * std::expm1(x / a));
    case F::kLogSigmoid: return -softplus(-x);
    case F::kTanhShrink: return x - std::tanh(x);
    case F::kSoftShrink: return x > a ? x - a : x < -a ? x + a : 0.f;  // NaN gives 0, as torch's softshrink
    case F::kHardShrink: return x >= -a && x <= a ? 0.f : x;  // NaN passes, as torch's hardshrink
    case F::kHardTanh: return std::min(std::max(x, -1.f), 1.f);
    case F::kSparsePlus: return x <= -1.f ? 0.f : x >= 1.f ? x : (x + 1.f) * (x + 1.f) / 4.f;
    case F::kSparseSigmoid: return x <= -1.f ? 0.f : x >= 1.f ? 1.f : 0.5f * (x + 1.f);
    case F::kSquarePlus: return (x + std::sqrt(x * x + a)) / 2.f;
    case F::kThreshold: return x > a ? x : b;
    case F::kReluGeneral: {
      const float pos = std::min(std::max(x > u.gamma ? x : 0.f, 0.f), b);
      return a != 0.f ? pos - a * std::max(u.gamma - x, 0.f) : pos;
    }
    case F::kAbs: return std::fabs(x);
    case F::kNeg: return -x;
    case F::kSquare: return x * x;
    case F::kSign: return static_cast<float>((0.f < x) - (x < 0.f));  // NaN gives 0, as torch.sign
    case F::kSqrt: return std::sqrt(x);
    case F::kRsqrt: return 1.f / std::sqrt(x);
    case F::kReciprocal: return 1.f / x;
    case F::kLog: return std::log(x);
    case F::kLog1p: return std::log1p(x);
    case F::kExpm1: return std::expm1(x);
    case F::kSin: return std::sin(x);
    case F::kCos: return std::cos(x);
    case F::kTan: return std::tan(x);
    case F::kErf: return std::erf(x);
    case F::kFloor: return std::floor(x);
    case F::kCeil: return std::ceil(x);
    case F::kRound: return round_decimals(x, a);
    case F::kExp2: return std::exp2(x);
    case F::kLog2: return std::log2(x);
    case F::kLog10: return std::log10(x);
    case F::kAsin: return std::asin(x);
    case F::kAcos: return std::acos(x);
    case F::kAtan: return std::atan(x);
    case F::kSinh: return std::sinh(x);
    case F::kCosh: return std::cosh(x);
    case F::kAsinh: return std::asinh(x);
    case F::kAcosh: return std::acosh(x);
    case F::kAtanh: return std::atanh(x);
    case F::kTrunc: return std::trunc(x);
    case F::kLogicalNot: return x == 0.f ? 1.f : 0.f;
    case F::kIsNan: return std::isnan(x) ? 1.f : 0.f;
    case F::kIsInf: return std::isinf(x) ? 1.f : 0.f;
    case F::kIsFinite: return std::isfinite(x) ? 1.f : 0.f;
    case F::kSoftmax: case F::kLogSoftmax: case F::kSparsemax: case F::kGlu: case F::kCount: break;
  }
  return x;
}

}  // namespace kerasrt::kernels
