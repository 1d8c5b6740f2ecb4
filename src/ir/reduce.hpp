// Reduce: one value per group of elements that differ only along `axes`. Real dtypes: sum and prod
// keep integers (bool gives int32, uint8 int64), max/min keep the dtype, mean/var/std/logsumexp
// give float32, any/all bool, argmax/argmin int32 (the index within the group, row-major).
#pragma once

#include <cstdint>
#include <vector>

#include <kerasrt/kerasrt.hpp>

namespace kerasrt::ir {

enum class ReduceFn : uint8_t { kSum, kMean, kMax, kMin, kProd, kVar, kStd, kAny, kAll, kLogSumExp, kArgMax, kArgMin };

struct ReduceAttrs {
  ReduceFn fn = ReduceFn::kSum;
  std::vector<int> axes;  // distinct, ascending, within the input's rank; empty: groups of one
  bool keepdims = false;
  bool has_initial = false;  // max/min: also compared with `initial`
  double initial = 0;
};

const char* reduce_fn_name(ReduceFn f);
DType reduce_output_dtype(ReduceFn f, DType in);

}  // namespace kerasrt::ir
