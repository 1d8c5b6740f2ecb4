// Pooling over 1-3 spatial axes in either data format: sliding windows (Max/AveragePooling),
// adaptive bins and global reductions. Every output cell reduces a box of input cells, so one kind
// covers them all; the box bounds per axis are given by pool_window() for kernels and rules alike.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <utility>

namespace kerasrt::ir {

enum class PoolReduce : uint8_t { kMax, kMean };
enum class PoolWindow : uint8_t {
  kSliding,   // `size` cells every `strides` cells, "valid" or "same" padding
  kAdaptive,  // `size` output cells per axis; cell i of n over length L reduces [floor(iL/n), ceil((i+1)L/n))
  kGlobal,    // the whole axis; `keepdims` false drops the spatial axes
};

// Spatial axes are right-aligned into three slots (unused leading slots have size 1 and are not
// read), so one loop nest serves 1D, 2D and 3D. Max lets NaN win, as torch does; the mean divides by
// the cells inside the input (padding never counts, as Keras's torch backend computes "same").
// A global mean over one axis may take a second input: a float32 (batch, steps) mask, 0 = step left
// out (a row with every step left out gives NaN, as in Keras).
struct PoolAttrs {
  PoolReduce reduce = PoolReduce::kMax;
  PoolWindow window = PoolWindow::kSliding;
  int spatial = 2;  // 1..3
  bool channels_first = false;
  std::array<int64_t, 3> size{1, 1, 1};     // sliding: pool size; adaptive: output size (per spatial axis)
  std::array<int64_t, 3> strides{1, 1, 1};  // sliding only
  bool same_padding = false;                // sliding only
  bool keepdims = true;                     // global only
  // Sliding mean with "same" padding as Keras 3.0-3.15 computed it on the torch backend: when the
  // padding is uneven along some axis, every axis is padded by repeating its edge cells and each
  // window's mean counts all its cells (see same_replicates_edges()).
  bool same_replicates_edges = false;
};

// The total "same" padding along spatial axis `a` for input length `len` (TensorFlow's rule; the
// front gets half, rounded down).
inline int64_t same_padding_total(const PoolAttrs& p, int a, int64_t len) {
  const int64_t out = (len + p.strides[a] - 1) / p.strides[a];
  const int64_t total = (out - 1) * p.strides[a] + p.size[a] - len;
  return total > 0 ? total : 0;
}

// Whether this pool, on spatial lengths `lens`, averages over edge-replicated windows: the legacy
// flag is set and the padding is uneven along some axis.
inline bool pool_replicates_edges(const PoolAttrs& p, std::span<const int64_t> lens) {
  if (!p.same_replicates_edges || !p.same_padding || p.window != PoolWindow::kSliding || p.reduce != PoolReduce::kMean)
    return false;
  for (int a = 0; a < p.spatial; ++a)
    if (same_padding_total(p, a, lens[static_cast<size_t>(a)]) % 2 != 0) return true;
  return false;
}

const char* pool_reduce_name(PoolReduce r);
const char* pool_window_name(PoolWindow w);

// Output length along spatial axis `a` (0-based among the spatial axes) for input length `len`
// (-1 unknown gives -1). May be < 1 for a sliding window that does not fit.
int64_t pool_output_length(const PoolAttrs& p, int a, int64_t len);

// [begin, end) of the input cells output cell `o` reduces along spatial axis `a` of length `len`.
inline std::pair<int64_t, int64_t> pool_window(const PoolAttrs& p, int a, int64_t len, int64_t o) {
  switch (p.window) {
    case PoolWindow::kSliding: {
      const int64_t k = p.size[a], s = p.strides[a];
      const int64_t front = p.same_padding ? same_padding_total(p, a, len) / 2 : 0;
      const int64_t begin = o * s - front;
      return {begin < 0 ? 0 : begin, begin + k < len ? begin + k : len};
    }
    case PoolWindow::kAdaptive: {
      const int64_t n = p.size[a];
      return {o * len / n, ((o + 1) * len + n - 1) / n};
    }
    case PoolWindow::kGlobal: break;
  }
  return {0, len};
}

}  // namespace kerasrt::ir
