// Which (batch, head, query, key) pairs an attention node lets attend, shared by its kernels so the
// reference and the fast path mask identically. Built on the stack per call: no allocation.
#pragma once

#include <array>
#include <cstdlib>

#include "kernels/kernel.hpp"

namespace kerasrt::kernels {

struct AttentionGeometry {
  int64_t batch = 0, tq = 0, tk = 0;
};

class AttentionMask {
 public:
  AttentionMask(const ir::AttentionAttrs& a, std::span<const ConstTensorView> in, const AttentionGeometry& g)
      : causal_(a.causal), window_(a.window), tq_(g.tq), tk_(g.tk) {
    size_t next = 3;
    if (a.has_attention_mask) {
      const ConstTensorView& m = in[next++];
      explicit_ = static_cast<const float*>(m.data);
      // Row-major strides of the rank-4 mask, 0 on the axes it broadcasts over.
      int64_t stride = 1;
      for (size_t i = 4; i-- > 0;) {
        strides_[i] = m.shape[i] == 1 ? 0 : stride;
        stride *= m.shape[i];
      }
    }
    if (a.has_query_mask) query_ = static_cast<const float*>(in[next++].data);
    if (a.has_value_mask) value_ = static_cast<const float*>(in[next++].data);
    if (a.has_key_mask) key_ = static_cast<const float*>(in[next++].data);
    any_ = explicit_ || query_ || value_ || key_ || causal_ || window_ > 0;
  }

  bool any() const { return any_; }
  bool allowed(int64_t b, int64_t n, int64_t t, int64_t s) const {
    if (explicit_ && explicit_[b * strides_[0] + n * strides_[1] + t * strides_[2] + s * strides_[3]] == 0.f)
      return false;
    if (query_ && query_[b * tq_ + t] == 0.f) return false;
    if (value_ && value_[b * tk_ + s] == 0.f) return false;
    if (key_ && key_[b * tk_ + s] == 0.f) return false;
    if (causal_ && s > t) return false;
    if (window_ > 0 && std::abs(t - s) >= window_) return false;
    return true;
  }

 private:
  const float* explicit_ = nullptr;
  std::array<int64_t, 4> strides_{};
  const float *query_ = nullptr, *value_ = nullptr, *key_ = nullptr;
  bool causal_;
  int64_t window_, tq_, tk_;
  bool any_ = false;
};

}  // namespace kerasrt::kernels
