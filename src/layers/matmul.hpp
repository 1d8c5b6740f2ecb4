// The one matrix product of the layer classes not yet typed (the legacy recurrent cells); typed
// layers use the matmul/einsum/dense kernels:
// plain loops over strided matrices, nothing clever, every output element summed in index order.
#pragma once

#include <cstdint>

namespace kerasrt::layers {

// A matrix read through strides: element (i, j) of batch item `b` is
// data[b * batch_stride + i * row_stride + j * col_stride].
struct MatrixRef {
  const float* data = nullptr;
  int64_t row_stride = 0, col_stride = 1, batch_stride = 0;
};
struct MutMatrixRef {
  float* data = nullptr;
  int64_t row_stride = 0, col_stride = 1, batch_stride = 0;
  operator MatrixRef() const { return {data, row_stride, col_stride, batch_stride}; }
};

// A row-major (rows, cols) matrix, and the same memory read as its (cols, rows) transpose.
inline MatrixRef row_major(const float* data, int64_t cols, int64_t batch_stride = 0) {
  return {data, cols, 1, batch_stride};
}
inline MatrixRef transposed(const float* data, int64_t cols, int64_t batch_stride = 0) {
  return {data, 1, cols, batch_stride};
}
inline MutMatrixRef row_major(float* data, int64_t cols, int64_t batch_stride = 0) {
  return {data, cols, 1, batch_stride};
}

// How each output element is summed; both add the k products in order t = 0, 1, ..., k-1.
enum class MatmulSum {
  kDouble,         // c = (float) sum of double products, in double from 0 (c's old value is ignored)
  kFloatOntoC,     // c = c + a*b + a*b + ...: float products added one at a time onto c's old value
};

// For each of `batch` items: C (m, n) = A (m, k) · B (k, n), summed as `sum` says.
void matmul(int64_t batch, int64_t m, int64_t k, int64_t n, MatrixRef a, MatrixRef b, MutMatrixRef c, MatmulSum sum);

}  // namespace kerasrt::layers
