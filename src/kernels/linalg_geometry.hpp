// What the matmul and einsum kernels (ref and fast) derive from a node and its concrete shapes,
// without touching the heap.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>

#include "ir/linalg.hpp"

namespace kerasrt::kernels {

// A batched matmul: `batches` products of (m, k) · (k, n); batch item b reads a's matrix
// offset_a(b) and b's offset_b(b) (in matrices: broadcast axes step 0).
struct MatmulGeometry {
  static constexpr int kMaxBatchRank = 16;
  int64_t m = 1, k = 1, n = 1, batches = 1;
  int batch_rank = 0;
  int64_t batch[kMaxBatchRank], step_a[kMaxBatchRank], step_b[kMaxBatchRank];

  MatmulGeometry(const ir::MatmulAttrs& a, std::span<const int64_t> x, std::span<const int64_t> y) {
    const size_t rx = x.size(), ry = y.size();
    const bool vx = rx == 1, vy = ry == 1;
    m = vx ? 1 : (a.transpose_a ? x[rx - 1] : x[rx - 2]);
    k = vx ? x[0] : (a.transpose_a ? x[rx - 2] : x[rx - 1]);
    n = vy ? 1 : (a.transpose_b ? y[ry - 2] : y[ry - 1]);
    const int bx = static_cast<int>(rx) - (vx ? 1 : 2), by = static_cast<int>(ry) - (vy ? 1 : 2);
    batch_rank = std::max(bx, by);
    // Right-aligned batch axes; strides in whole matrices.
    int64_t sa = 1, sb = 1;
    for (int d = batch_rank - 1; d >= 0; --d) {
      const int ia = d - (batch_rank - bx), ib = d - (batch_rank - by);
      const int64_t da = ia >= 0 ? x[ia] : 1, db = ib >= 0 ? y[ib] : 1;
      batch[d] = std::max(da, db);
      step_a[d] = da == 1 ? 0 : sa;
      step_b[d] = db == 1 ? 0 : sb;
      sa *= da;
      sb *= db;
    }
    batches = 1;
    for (int d = 0; d < batch_rank; ++d) batches *= batch[d];
  }

  void offsets(int64_t item, int64_t& oa, int64_t& ob) const {
    oa = ob = 0;
    for (int d = batch_rank - 1; d >= 0; --d) {
      const int64_t i = item % batch[d];
      item /= batch[d];
      oa += i * step_a[d];
      ob += i * step_b[d];
    }
  }
};

}  // namespace kerasrt::kernels
