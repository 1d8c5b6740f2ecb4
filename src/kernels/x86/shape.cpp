// Transpose and slice as one strided copy: the output is walked in row-major order, each output
// axis a fixed step through the input. Axes that stay adjacent in the input merge, so the inner loop
// is as long as possible: a memcpy where the input runs contiguously, else a typed strided gather.
// Rows of the inner loop are split over the pool. Concat: the reference's block copies, split over
// the pool.
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

// A transpose of the two axes `j` (input step 1) and `last` (output step 1) in square tiles, so that
// both the rows read and the rows written stay in cache; any other axes are outer loops.
template <class T>
void tiled_copy(const T* x, T* y, const Walk& w, size_t j, const ExecContext& ctx) {
  constexpr int64_t kTile = 32;
  const size_t last = w.rank - 1;
  std::array<int64_t, kMaxRank> out_step{};  // the output's row-major steps
  int64_t s = 1;
  for (size_t a = w.rank; a-- > 0;) {
    out_step[a] = s;
    s *= w.size[a];
  }
  const int64_t tiles_j = (w.size[j] + kTile - 1) / kTile, tiles_l = (w.size[last] + kTile - 1) / kTile;
  int64_t outer = 1;
  for (size_t a = 0; a < last; ++a)
    if (a != j) outer *= w.size[a];
  const int64_t tasks = outer * tiles_j * tiles_l;
  const int64_t grain = std::max<int64_t>(1, kGrainBytes / static_cast<int64_t>(kTile * kTile * sizeof(T)));
  ctx.parallel_for(tasks, grain, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      int64_t rest = t / (tiles_j * tiles_l), src = 0, dst = 0;
      for (size_t a = last; a-- > 0;) {
        if (a == j) continue;
        const int64_t i = rest % w.size[a];
        rest /= w.size[a];
        src += i * w.step[a];
        dst += i * out_step[a];
      }
      const int64_t tile = t % (tiles_j * tiles_l);
      const int64_t j0 = tile / tiles_l * kTile, l0 = tile % tiles_l * kTile;
      const int64_t j1 = std::min(j0 + kTile, w.size[j]), l1 = std::min(l0 + kTile, w.size[last]);
      for (int64_t l = l0; l < l1; ++l) {  // reads run along j (contiguous in the input)
        const T* in = x + src + l * w.step[last];
        T* out = y + dst + l;
        for (int64_t i = j0; i < j1; ++i) out[i * out_step[j]] = in[i];
      }
    }
  });
}

void strided_copy(const std::byte* x, std::byte* y, size_t es, const Walk& w, const ExecContext& ctx) {
  if (w.rank == 0) {  // one element
    std::memcpy(y, x, es);
    return;
  }
  const size_t last = w.rank - 1;
  // The input's contiguous axis moved away from the end: tiles, when both axes are long enough.
  if (w.step[last] != 1 && w.size[last] >= 8) {
    for (size_t j = 0; j < last; ++j) {
      if (w.step[j] != 1 || w.size[j] < 8) continue;
      switch (es) {
        case 1: return tiled_copy(reinterpret_cast<const uint8_t*>(x), reinterpret_cast<uint8_t*>(y), w, j, ctx);
        case 4: return tiled_copy(reinterpret_cast<const uint32_t*>(x), reinterpret_cast<uint32_t*>(y), w, j, ctx);
        case 8: return tiled_copy(reinterpret_cast<const uint64_t*>(x), reinterpret_cast<uint64_t*>(y), w, j, ctx);
        default: break;
      }
    }
  }
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

// Concat (and stack): the reference's block copies, the indices before the join axis split over
// the pool in tasks of about kGrainBytes.
void run_concat(const KernelCall& c) {
  const int64_t outer = ref::concat_outer(c);
  if (outer == 0) return;
  const int64_t row_bytes =
      element_count(c.out[0].shape) / outer * static_cast<int64_t>(dtype_size(c.out[0].dtype));
  const int64_t grain = std::max<int64_t>(1, kGrainBytes / std::max<int64_t>(row_bytes, 1));
  c.ctx.parallel_for(outer, grain, [&](int64_t begin, int64_t end) { ref::concat_rows(c, begin, end); });
}

}  // namespace

const Kernel kConcatSplit{"split", ir::OpKind::kConcat, nullptr, nullptr, nullptr, run_concat};
const Kernel kTransposeStrided{"strided", ir::OpKind::kTranspose, nullptr, nullptr, nullptr, run_transpose};
const Kernel kSliceStrided{"strided", ir::OpKind::kSlice, nullptr, nullptr, nullptr, run_slice};

}  // namespace kerasrt::kernels::x86
