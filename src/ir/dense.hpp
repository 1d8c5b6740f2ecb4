// Dense: y = activation(x · kernel + bias) over the last axis.
#pragma once

#include "ir/elementwise.hpp"

namespace kerasrt::ir {

// Weights: "kernel" (in, units) row-major; "bias" (units) when has_bias.
struct DenseAttrs {
  int64_t in = 0, units = 0;
  bool has_bias = true;
  Activation activation;
  // A bfloat16 compute policy as the torch CPU backend ran it: inputs and weights rounded to
  // bfloat16, products and partial sums rounded in input order, then bias and activation rounded.
  bool bfloat16_compute = false;
};

}  // namespace kerasrt::ir
