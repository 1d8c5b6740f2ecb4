// Transpose and slice as one strided copy: the output is walked in row-major order, each output
// axis a fixed step through the input. Axes that stay adjacent in the input merge, so the inner loop
// is as long as possible: a memcpy where the input runs contiguously, else a typed strided gather.
// Rows of the inner loop are split over the pool.
#include <algorithm>
#include <array>
#include <cstring>

#include "kernels/ref/ref.hpp"
#include "kernels/x86/x86.hpp"

namespace kerasrt::kernels::x86 {
namespace {

constexpr size_t kMaxRank = ir::kMaxSliceRank;
static_assert(ir::kMaxTransposeRank <= kMaxRank);
constexpr int64_t kGrainBytes = 64 * 1024;  // bytes per task: below this, threads cost more than they save

// The output's axes (size, input element step), size-1 axes dropped and runs merged.
struct Walk {
  size_t rank = 0;
  std::array<int64_t, kMaxRank> size{}, step{};
  void add(int64_t n, int64_t s) {
    if (n == 1) return;
    if (rank > 0 && step[rank - 1] == s * n) {  // the previous axis steps over exactly this one
      size[rank - 1] *= n;
      step[rank - 1] = s;
      return;
    }
    size[rank] = n;
    step[rank++] = s;
  }
};

template <class T>
void gather(const T* x, T* y, int64_t n, int64_t step) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i * step];
}

void strided_copy(const std::byte* x, std::byte* y, size_t es, const Walk& w, const ExecContext& ctx) {
  if (w.rank == 0) {  // one element
    std::memcpy(y, x, es);
    return;
  }
  const size_t last = w.rank - 1;
  const int64_t len = w.size[last], step = w.step[last];
  int64_t rows = 1;
  for (size_t a = 0; a < last; ++a) rows *= w.size[a];
  const int64_t grain = std::max<int64_t>(1, kGrainBytes / std::max<int64_t>(1, len * static_cast<int64_t>(es)));
  ctx.parallel_for(rows, grain, [&](int64_t begin, int64_t end) {
    // The input offset of row `begin`, then stepped row by row.
    std::array<int64_t, kMaxRank> idx{};
    int64_t src = 0, rest = begin;
    for (size_t a = last; a-- > 0;) {
      idx[a] = rest % w.size[a];
      rest /= w.size[a];
      src += idx[a] * w.step[a];
    }
    for (int64_t r = begin; r < end; ++r) {
      const std::byte* in = x + src * static_cast<int64_t>(es);
      std::byte* out = y + r * len * static_cast<int64_t>(es);
      if (step == 1) {
        std::memcpy(out, in, static_cast<size_t>(len) * es);
      } else {
        switch (es) {
          case 1: gather(reinterpret_cast<const uint8_t*>(in), reinterpret_cast<uint8_t*>(out), len, step); break;
          case 4: gather(reinterpret_cast<const uint32_t*>(in), reinterpret_cast<uint32_t*>(out), len, step); break;
          case 8: gather(reinterpret_cast<const uint64_t*>(in), reinterpret_cast<uint64_t*>(out), len, step); break;
          default:
            for (int64_t i = 0; i < len; ++i) std::memcpy(out + i * es, in + i * step * static_cast<int64_t>(es), es);
        }
      }
      for (size_t a = last; a-- > 0;) {
        src += w.step[a];
        if (++idx[a] < w.size[a]) break;
        src -= w.step[a] * w.size[a];
        idx[a] = 0;
      }
    }
  });
}

std::array<int64_t, kMaxRank> row_major_steps(std::span<const int64_t> shape) {
  std::array<int64_t, kMaxRank> s{};
  int64_t step = 1;
  for (size_t a = shape.size(); a-- > 0;) {
    s[a] = step;
    step *= shape[a];
  }
  return s;
}

void run_transpose(const KernelCall& c) {
  const auto& perm = c.node.as<ir::TransposeAttrs>().perm;
  const auto in_shape = c.in[0].shape;
  const auto steps = row_major_steps(in_shape);
  Walk w;
  for (int p : perm) w.add(in_shape[p], steps[p]);
  if (element_count(in_shape) == 0) return;
  strided_copy(static_cast<const std::byte*>(c.in[0].data), static_cast<std::byte*>(c.out[0].data),
               dtype_size(c.in[0].dtype), w, c.ctx);
}

void run_slice(const KernelCall& c) {
  const auto& a = c.node.as<ir::SliceAttrs>();
  const auto in_shape = c.in[0].shape;
  const auto steps = row_major_steps(in_shape);
  Walk w;
  int64_t base = 0;
  bool empty = false;
  for (size_t i = 0; i < in_shape.size(); ++i) {  // inserted axes have size 1: nothing to walk
    const ir::SliceRange r = ir::slice_range(a.axes[i], in_shape[i]);
    base += r.start * steps[i];
    if (a.axes[i].index) continue;
    empty |= r.count == 0;
    w.add(r.count, r.step * steps[i]);
  }
  if (empty) return;
  const size_t es = dtype_size(c.in[0].dtype);
  strided_copy(static_cast<const std::byte*>(c.in[0].data) + base * static_cast<int64_t>(es),
               static_cast<std::byte*>(c.out[0].data), es, w, c.ctx);
}

}  // namespace

const Kernel kTransposeStrided{"strided", ir::OpKind::kTranspose, nullptr, nullptr, nullptr, run_transpose};
const Kernel kSliceStrided{"strided", ir::OpKind::kSlice, nullptr, nullptr, nullptr, run_slice};

}  // namespace kerasrt::kernels::x86
