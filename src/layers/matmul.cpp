#include "layers/matmul.hpp"

#include <algorithm>
#include <vector>

namespace kerasrt::layers {
namespace {

// One output row: acc[j] (already holding its starting value) += A(i, t) * B(t, j) for t in order.
// The column loop is innermost so that a contiguous B row is read in order.
template <typename Acc>
void row_times_matrix(const float* a_row, int64_t a_step, int64_t k, int64_t n, const MatrixRef& b, const float* b0,
                      Acc* acc) {
  for (int64_t t = 0; t < k; ++t) {
    const Acc av = static_cast<Acc>(a_row[t * a_step]);
    const float* bt = b0 + t * b.row_stride;
    if (b.col_stride == 1) {
      for (int64_t j = 0; j < n; ++j) acc[j] += av * static_cast<Acc>(bt[j]);
    } else {
      for (int64_t j = 0; j < n; ++j) acc[j] += av * static_cast<Acc>(bt[j * b.col_stride]);
    }
  }
}

}  // namespace

void matmul(int64_t batch, int64_t m, int64_t k, int64_t n, MatrixRef a, MatrixRef b, MutMatrixRef c, MatmulSum sum) {
  std::vector<double> acc_d(sum == MatmulSum::kDouble ? static_cast<size_t>(n) : 0);
  std::vector<float> acc_f(sum == MatmulSum::kFloatOntoC ? static_cast<size_t>(n) : 0);
  for (int64_t bt = 0; bt < batch; ++bt) {
    const float* a0 = a.data + bt * a.batch_stride;
    const float* b0 = b.data + bt * b.batch_stride;
    float* c0 = c.data + bt * c.batch_stride;
    for (int64_t i = 0; i < m; ++i) {
      const float* a_row = a0 + i * a.row_stride;
      float* c_row = c0 + i * c.row_stride;
      if (sum == MatmulSum::kDouble) {
        std::fill(acc_d.begin(), acc_d.end(), 0.0);
        row_times_matrix(a_row, a.col_stride, k, n, b, b0, acc_d.data());
        for (int64_t j = 0; j < n; ++j) c_row[j * c.col_stride] = static_cast<float>(acc_d[j]);
      } else {
        for (int64_t j = 0; j < n; ++j) acc_f[j] = c_row[j * c.col_stride];
        row_times_matrix(a_row, a.col_stride, k, n, b, b0, acc_f.data());
        for (int64_t j = 0; j < n; ++j) c_row[j * c.col_stride] = acc_f[j];
      }
    }
  }
}

}  // namespace kerasrt::layers
