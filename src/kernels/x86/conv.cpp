// Fast convolutions.
//  - "depthwise" (groups == in_channels): a direct loop per output position, vectorised over the
//    channels, summing bias then taps in the reference's order; at the AVX-512 level interior runs
//    along the innermost axis go through a line kernel that shares input loads between neighbouring
//    outputs, and the activation and fused steps are applied in registers before the store.
//  - "gemm": the other forward convs. 1x1 stride-1 ungrouped channels_last convs are one GEMM
//    straight on the input (each position's channels are already a row); others gather each
//    position's receptive field into a row of ctx.scratch (im2col), a bounded block of rows at a
//    time, and multiply it by the kernel packed once per group in prepare(). Output rows start from
//    the bias; the GEMM applies the activation and fused steps as it stores (channels_last), or
//    they follow. channels_first is the same with a strided gather and each block's rows transposed
//    into y.
//  - "transpose_gemm": channels_last transposed convs, as one GEMM per batch element and a gather.
// channels_first depthwise and transposed convolutions stay on the reference.
#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "kernels/conv_layout.hpp"
#include "kernels/gemm.hpp"
#include "kernels/simd_level.hpp"
#include "kernels/ref/ref.hpp"
#include "kernels/x86/finish.hpp"
#include "kernels/x86/x86.hpp"

namespace kerasrt::kernels::x86 {
namespace {

// Largest im2col block in floats (4 MiB): enough rows to keep the GEMM efficient, small enough to
// stay near the caches and keep the arena small on large images.
constexpr int64_t kIm2colFloats = int64_t{1} << 20;

int64_t taps_of(const ir::ConvAttrs& a) {
  int64_t t = 1;
  for (int d = 0; d < a.rank; ++d) t *= a.kernel[d];
  return t;
}

bool is_pointwise(const ir::ConvAttrs& a) {
  for (int d = 0; d < a.rank; ++d)
    if (a.kernel[d] != 1 || a.strides[d] != 1 || a.pad_before[d] != 0 || a.pad_after[d] != 0) return false;
  return a.groups == 1;
}

// Output rows (batch * output positions) and im2col rows per block.
struct Blocking {
  int64_t rows = 0, block = 0;
};
Blocking blocking(const ir::ConvAttrs& a, std::span<const int64_t> out_shape) {
  Blocking b;
  b.rows = out_shape.empty() ? 0 : element_count(out_shape) / a.filters;
  const int64_t k = taps_of(a) * (a.in_channels / a.groups);
  b.block = std::min(b.rows, std::max<int64_t>(64, kIm2colFloats / std::max<int64_t>(k, 1)));
  return b;
}

// Output row r (channels_last, flat over batch and positions) as (batch, slot positions).
struct RowIndex {
  int64_t b, o[3];
};
inline RowIndex row_index(int64_t r, const SpatialLayout& ly) {
  RowIndex i;
  i.o[2] = r % ly.dims[2];
  r /= ly.dims[2];
  i.o[1] = r % ly.dims[1];
  r /= ly.dims[1];
  i.o[0] = r % ly.dims[0];
  i.b = r / ly.dims[0];
  return i;
}

bool channels_last_forward(const ir::Node& node) {
  const auto& a = node.as<ir::ConvAttrs>();
  return !a.transpose && !a.channels_first;
}

// ---- depthwise ------------------------------------------------------------------------------------

// Taps per output position this kernel takes: their offsets are listed on the stack per row.
constexpr int64_t kMaxDepthwiseTaps = 1024;

bool depthwise_supports(const ir::Node& node, std::span<const TensorType>, std::span<const TensorType>) {
  const auto& a = node.as<ir::ConvAttrs>();
  // One input channel is an ordinary convolution too (groups = 1): its taps make a GEMM's K, which
  // the GEMM kernel runs several times faster than this per-channel loop once there are many taps.
  return channels_last_forward(node) && a.groups == a.in_channels && !(a.in_channels == 1 && taps_of(a) >= 8) &&
         taps_of(a) <= kMaxDepthwiseTaps;
}

struct DepthwiseArgs {
  const float *x, *kernel, *bias;
  float* y;
  int64_t in, multiplier;
  SpatialLayout lx, ly;
  std::array<ir::ConvAxis, 3> axes;
};

// The taps of one output position that read the input (not padding), in the reference's order:
// offsets of the input position from the batch start and of the tap's kernel row.
struct RowTaps {
  int64_t count = 0;
  int64_t x[kMaxDepthwiseTaps], w[kMaxDepthwiseTaps];
};

// Calls f(k0, k1, offset) for each pair of taps on the two outer axes that reads the input at
// output position ix, in order; offset: that input row's distance from the batch start.
template <class F>
void for_each_outer_tap(const DepthwiseArgs& d, const RowIndex& ix, F&& f) {
  for (int64_t k0 = 0; k0 < d.axes[0].kernel; ++k0) {
    const int64_t i0 = d.axes[0].source(ix.o[0], k0);
    if (i0 < 0) continue;
    for (int64_t k1 = 0; k1 < d.axes[1].kernel; ++k1) {
      const int64_t i1 = d.axes[1].source(ix.o[1], k1);
      if (i1 >= 0) f(k0, k1, i0 * d.lx.strides[0] + i1 * d.lx.strides[1]);
    }
  }
}

void list_taps(const DepthwiseArgs& d, const RowIndex& ix, RowTaps& t) {
  const int64_t filters = d.in * d.multiplier;
  t.count = 0;
  for_each_outer_tap(d, ix, [&](int64_t k0, int64_t k1, int64_t row) {
    for (int64_t k2 = 0; k2 < d.axes[2].kernel; ++k2) {
      const int64_t i2 = d.axes[2].source(ix.o[2], k2);
      if (i2 < 0) continue;
      t.x[t.count] = row + i2 * d.lx.strides[2];
      t.w[t.count] = ((k0 * d.axes[1].kernel + k1) * d.axes[2].kernel + k2) * filters;
      ++t.count;
    }
  });
}

// One output position, channel multiplier 1: y[c] = bias[c] + sum over taps of x[c] * w[c], each
// block of channels summed in registers over all taps before it is stored once.
// Portable form (also the AVX2 build): products rounded before their sums, as in the reference.
KERASRT_CLONES("avx2", "default") void depthwise_position(const float* xb, const float* kernel,
                                                                           const float* bias, const RowTaps& t,
                                                                           float* y, int64_t channels) {
  constexpr int64_t kBlock = 64;
  for (int64_t c0 = 0; c0 < channels; c0 += kBlock) {
    const int64_t n = std::min(kBlock, channels - c0);
    float acc[kBlock];
    for (int64_t j = 0; j < n; ++j) acc[j] = bias ? bias[c0 + j] : 0.f;
    for (int64_t k = 0; k < t.count; ++k) {
      const float* x = xb + t.x[k] + c0;
      const float* w = kernel + t.w[k] + c0;
      for (int64_t j = 0; j < n; ++j) acc[j] += x[j] * w[j];
    }
    std::memcpy(y + c0, acc, static_cast<size_t>(n) * sizeof(float));
  }
}

#if defined(__x86_64__)
// AVX-512: 64 channels in four registers (then 16 at a time, the last masked), fused multiply-add.
// finish (may be null): the activation and fused steps, applied before each store.
__attribute__((target("avx512f"))) void depthwise_position_avx512(const float* xb, const float* kernel,
                                                                   const float* bias, const RowTaps& t, float* y,
                                                                   int64_t channels, const GemmFinish* finish) {
  int64_t c = 0;
  for (; c + 64 <= channels; c += 64) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    if (bias) {
      a0 = _mm512_loadu_ps(bias + c);
      a1 = _mm512_loadu_ps(bias + c + 16);
      a2 = _mm512_loadu_ps(bias + c + 32);
      a3 = _mm512_loadu_ps(bias + c + 48);
    }
    for (int64_t k = 0; k < t.count; ++k) {
      const float* x = xb + t.x[k] + c;
      const float* w = kernel + t.w[k] + c;
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x), _mm512_loadu_ps(w), a0);
      a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + 16), _mm512_loadu_ps(w + 16), a1);
      a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + 32), _mm512_loadu_ps(w + 32), a2);
      a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + 48), _mm512_loadu_ps(w + 48), a3);
    }
    if (finish) {
      a0 = finish16(*finish, a0, c, 0xFFFF);
      a1 = finish16(*finish, a1, c + 16, 0xFFFF);
      a2 = finish16(*finish, a2, c + 32, 0xFFFF);
      a3 = finish16(*finish, a3, c + 48, 0xFFFF);
    }
    _mm512_storeu_ps(y + c, a0);
    _mm512_storeu_ps(y + c + 16, a1);
    _mm512_storeu_ps(y + c + 32, a2);
    _mm512_storeu_ps(y + c + 48, a3);
  }
  for (; c < channels; c += 16) {
    const int64_t n = std::min<int64_t>(16, channels - c);
    const __mmask16 m = static_cast<__mmask16>((1u << n) - 1);
    __m512 a = bias ? _mm512_maskz_loadu_ps(m, bias + c) : _mm512_setzero_ps();
    for (int64_t k = 0; k < t.count; ++k)
      a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, xb + t.x[k] + c), _mm512_maskz_loadu_ps(m, kernel + t.w[k] + c), a);
    if (finish) a = finish16(*finish, a, c, m);
    _mm512_mask_storeu_ps(y + c, m, a);
  }
}
#endif

#if defined(__x86_64__)
// Along the innermost spatial axis (stride S of 1 or 2, no dilation), neighbouring outputs read
// overlapping inputs: a run of n interior outputs (every tap of the axis inside the input) is done
// four at a time, each input vector loaded once for the outputs that use it and the kernel's taps
// held in registers per channel block. lines[q] is input row q's first column the run reads (row q:
// the q-th pair (k0, k1) whose taps are inside), wrows[q] its KW kernel taps. Same tap order as the
// reference; fused multiply-add.
constexpr int kMaxLinePairs = 25;

template <int KW, int S>
__attribute__((target("avx512f"))) void depthwise_line_avx512(const float* const* lines, const float* const* wrows,
                                                               int pairs, const float* bias, float* y, int64_t n,
                                                               int64_t channels, const GemmFinish* finish) {
  constexpr int kOut = 4;
  for (int64_t c = 0; c < channels; c += 16) {
    const __mmask16 m = channels - c >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << (channels - c)) - 1);
    __m512 w[kMaxLinePairs][KW];
    for (int q = 0; q < pairs; ++q)
      for (int k = 0; k < KW; ++k) w[q][k] = _mm512_maskz_loadu_ps(m, wrows[q] + k * channels + c);
    const __m512 b = bias ? _mm512_maskz_loadu_ps(m, bias + c) : _mm512_setzero_ps();
    int64_t p = 0;
    for (; p + kOut <= n; p += kOut) {
      __m512 acc[kOut];
      for (int t = 0; t < kOut; ++t) acc[t] = b;
      for (int q = 0; q < pairs; ++q) {
        const float* xl = lines[q] + p * S * channels + c;
        __m512 xv[(kOut - 1) * S + KW];
        for (int j = 0; j < (kOut - 1) * S + KW; ++j) xv[j] = _mm512_maskz_loadu_ps(m, xl + j * channels);
        for (int k = 0; k < KW; ++k)
          for (int t = 0; t < kOut; ++t) acc[t] = _mm512_fmadd_ps(xv[t * S + k], w[q][k], acc[t]);
      }
      for (int t = 0; t < kOut; ++t) {
        if (finish) acc[t] = finish16(*finish, acc[t], c, m);
        _mm512_mask_storeu_ps(y + (p + t) * channels + c, m, acc[t]);
      }
    }
    for (; p < n; ++p) {
      __m512 acc = b;
      for (int q = 0; q < pairs; ++q) {
        const float* xl = lines[q] + p * S * channels + c;
        for (int k = 0; k < KW; ++k) acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, xl + k * channels), w[q][k], acc);
      }
      if (finish) acc = finish16(*finish, acc, c, m);
      _mm512_mask_storeu_ps(y + p * channels + c, m, acc);
    }
  }
}

// Outputs r, r+1, ... of one line that depthwise_line_avx512 can take from r on (0: none), with
// their input rows listed in lines/wrows.
int64_t interior_run(const DepthwiseArgs& d, const RowIndex& ix, int64_t limit, const float** lines,
                     const float** wrows, int& pairs) {
  const ir::ConvAxis& ax = d.axes[2];
  if (ax.stride > 2 || ax.dilation != 1 || ax.transpose || (ax.kernel != 3 && ax.kernel != 5)) return 0;
  if (d.axes[0].kernel * d.axes[1].kernel > kMaxLinePairs) return 0;
  // Interior: o*stride - offset >= 0 and o*stride - offset + kernel - 1 < in.
  const int64_t first = ix.o[2] * ax.stride - ax.offset;
  const int64_t last_interior = ax.in - ax.kernel + ax.offset < 0 ? -1 : (ax.in - ax.kernel + ax.offset) / ax.stride;
  if (first < 0 || ix.o[2] > last_interior) return 0;
  const int64_t n = std::min(limit, last_interior - ix.o[2] + 1);
  const int64_t filters = d.in;
  const float* xb = d.x + ix.b * d.lx.batch_stride;
  pairs = 0;
  for_each_outer_tap(d, ix, [&](int64_t k0, int64_t k1, int64_t row) {
    lines[pairs] = xb + row + first * d.lx.strides[2];
    wrows[pairs] = d.kernel + (k0 * d.axes[1].kernel + k1) * ax.kernel * filters;
    ++pairs;
  });
  return n;
}
#endif

// finish: applied by the AVX-512 paths as they store (the caller runs the steps itself otherwise).
void depthwise_rows(const DepthwiseArgs& d, int64_t begin, int64_t end, const GemmFinish* finish) {
  const int64_t filters = d.in * d.multiplier;
  RowTaps taps;
#if defined(__x86_64__)
  const bool avx512 = simd_level() == SimdLevel::avx512;
  const float* lines[kMaxLinePairs];
  const float* wrows[kMaxLinePairs];
#endif
  for (int64_t r = begin; r < end; ++r) {
    const RowIndex ix = row_index(r, d.ly);
#if defined(__x86_64__)
    if (avx512 && d.multiplier == 1 && d.lx.strides[2] == filters) {
      int pairs = 0;
      const int64_t limit = std::min(end - r, d.ly.dims[2] - ix.o[2]);
      const int64_t n = interior_run(d, ix, limit, lines, wrows, pairs);
      if (n > 0) {
        float* yp = d.y + r * filters;
        const bool stride1 = d.axes[2].stride == 1;
        if (d.axes[2].kernel == 3) {
          if (stride1) depthwise_line_avx512<3, 1>(lines, wrows, pairs, d.bias, yp, n, filters, finish);
          else depthwise_line_avx512<3, 2>(lines, wrows, pairs, d.bias, yp, n, filters, finish);
        } else {
          if (stride1) depthwise_line_avx512<5, 1>(lines, wrows, pairs, d.bias, yp, n, filters, finish);
          else depthwise_line_avx512<5, 2>(lines, wrows, pairs, d.bias, yp, n, filters, finish);
        }
        r += n - 1;
        continue;
      }
    }
#endif
    list_taps(d, ix, taps);
    const float* xb = d.x + ix.b * d.lx.batch_stride;
    float* yp = d.y + r * filters;
    if (d.multiplier == 1) {
#if defined(__x86_64__)
      if (avx512) {
        depthwise_position_avx512(xb, d.kernel, d.bias, taps, yp, filters, finish);
        continue;
      }
#endif
      depthwise_position(xb, d.kernel, d.bias, taps, yp, filters);
      continue;
    }
    if (d.bias) std::memcpy(yp, d.bias, static_cast<size_t>(filters) * sizeof(float));
    else std::fill(yp, yp + filters, 0.f);
    for (int64_t k = 0; k < taps.count; ++k) {
      const float* xp = xb + taps.x[k];
      const float* w = d.kernel + taps.w[k];
      for (int64_t c = 0; c < d.in; ++c)
        for (int64_t m = 0; m < d.multiplier; ++m) yp[c * d.multiplier + m] += xp[c] * w[c * d.multiplier + m];
    }
  }
}

size_t activation_scratch(const ir::ConvAttrs& a, std::span<const int64_t> out_shape) {
  return ref::activation_scratch_bytes(a.activation, out_shape.back());
}

size_t depthwise_scratch(const ir::Node& node, std::span<const TensorType>, std::span<const TensorType> out) {
  return activation_scratch(node.as<ir::ConvAttrs>(), out[0].shape);
}

void run_depthwise(const KernelCall& c) {
  const auto& a = c.node.as<ir::ConvAttrs>();
  DepthwiseArgs d;
  d.x = static_cast<const float*>(c.in[0].data);
  d.y = static_cast<float*>(c.out[0].data);
  d.kernel = c.node.weight(0).values<float>().data();
  d.bias = a.has_bias ? c.node.weight(1).values<float>().data() : nullptr;
  d.in = a.in_channels;
  d.multiplier = a.filters / a.in_channels;
  d.lx = spatial_layout(c.in[0].shape, false);
  d.ly = spatial_layout(c.out[0].shape, false);
  d.axes = conv_axes(a, d.lx);
  const int64_t rows = d.ly.batch * d.ly.dims[0] * d.ly.dims[1] * d.ly.dims[2];
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, a.filters * taps_of(a)));
  // An element-wise activation and the fused steps run on each block of rows while it is in cache.
  const bool in_rows = ir::is_elementwise(a.activation.fn);
  // At the AVX-512 level with multiplier 1 the steps run in registers before each store.
  GemmFinish finish;
  const bool in_registers = simd_level() == SimdLevel::avx512 && d.multiplier == 1 &&
                            as_gemm_finish(a.activation, c.post, finish);
  const GemmFinish* stored = in_registers && finish.count > 0 ? &finish : nullptr;
  const int64_t cached = std::max<int64_t>(1, 8192 / a.filters);  // rows of ~32 KiB
  c.ctx.parallel_for(rows, grain, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; r += cached) {
      const int64_t n = std::min(cached, e - r);
      depthwise_rows(d, r, r + n, stored);
      if (in_rows && !in_registers) finish_rows_here(a.activation, c.post, d.y + r * a.filters, n, a.filters);
    }
  });
  if (!in_rows)
    finish_rows(a.activation, c.post, d.y, rows, a.filters, reinterpret_cast<float*>(c.ctx.scratch.data()), c.ctx);
}

// ---- im2col + GEMM --------------------------------------------------------------------------------

bool gemm_supports(const ir::Node& node, std::span<const TensorType>, std::span<const TensorType>) {
  const auto& a = node.as<ir::ConvAttrs>();
  // A channels_first depthwise conv would be one tiny GEMM per channel: not worth it.
  return !a.transpose && !(a.channels_first && a.groups > 1 && a.groups == a.in_channels);
}

// The input itself is the GEMM's A (channels_last 1x1 stride-1 ungrouped).
bool direct_gemm(const ir::ConvAttrs& a) { return is_pointwise(a) && !a.channels_first; }

// One packed kernel per group: rows (tap, channel of the group), columns the group's filters.
std::shared_ptr<const void> gemm_prepare(const ir::Node& node) {
  const auto& a = node.as<ir::ConvAttrs>();
  const float* kernel = node.weight(0).values<float>().data();
  const int64_t cpg = a.in_channels / a.groups, fpg = a.filters / a.groups;
  auto packed = std::make_shared<std::vector<PackedB>>();
  for (int64_t g = 0; g < a.groups; ++g) packed->push_back(pack_b(taps_of(a) * cpg, fpg, kernel + g * fpg, a.filters));
  return packed;
}

size_t gemm_scratch(const ir::Node& node, std::span<const TensorType>, std::span<const TensorType> out) {
  const auto& a = node.as<ir::ConvAttrs>();
  size_t bytes = activation_scratch(a, out[0].shape);
  if (!direct_gemm(a)) {
    const Blocking b = blocking(a, out[0].shape);
    bytes += static_cast<size_t>(b.block * taps_of(a) * (a.in_channels / a.groups)) * sizeof(float);
    // channels_first: the block's output rows, transposed into y afterwards
    if (a.channels_first) bytes += static_cast<size_t>(b.block * a.filters) * sizeof(float);
  }
  return bytes;
}

// Rows [begin, end) of the block starting at output row r0, for group g: each row is the group's
// channels at every tap, zeros where a tap reads padding.
void im2col_rows(const ir::ConvAttrs& a, const float* x, const SpatialLayout& lx, const SpatialLayout& ly,
                 const std::array<ir::ConvAxis, 3>& axes, int64_t g, int64_t r0, int64_t begin, int64_t end,
                 float* A) {
  const int64_t cpg = a.in_channels / a.groups, k = taps_of(a) * cpg;
  // Channels last, ungrouped, undilated innermost axis: tap k2+1 starts where tap k2's channels end.
  const bool contiguous_taps = lx.channel_stride == 1 && a.groups == 1 && !axes[2].transpose &&
                               axes[2].dilation == 1 && lx.strides[2] == cpg;
  for (int64_t r = begin; r < end; ++r) {
    const RowIndex ix = row_index(r0 + r, ly);
    const float* xb = x + ix.b * lx.batch_stride + g * cpg * lx.channel_stride;
    float* dst = A + r * k;
    for (int64_t k0 = 0; k0 < axes[0].kernel; ++k0) {
      const int64_t i0 = axes[0].source(ix.o[0], k0);
      for (int64_t k1 = 0; k1 < axes[1].kernel; ++k1) {
        const int64_t i1 = axes[1].source(ix.o[1], k1);
        if (contiguous_taps && i0 >= 0 && i1 >= 0) {
          // Adjacent taps read adjacent input positions whose channels are contiguous: the in-bounds
          // taps are one copy, the padding on either side zeros.
          const float* row = xb + i0 * lx.strides[0] + i1 * lx.strides[1];
          // Taps [lo, hi) read input positions first + [lo, hi), all inside; the rest read padding.
          const ir::ConvAxis& ax = axes[2];
          const int64_t first = ix.o[2] * ax.stride - ax.offset, taps = ax.kernel;
          const int64_t lo = std::clamp<int64_t>(-first, 0, taps), hi = std::clamp<int64_t>(ax.in - first, lo, taps);
          std::fill(dst, dst + lo * cpg, 0.f);
          if (hi > lo)
            std::memcpy(dst + lo * cpg, row + (first + lo) * lx.strides[2], static_cast<size_t>((hi - lo) * cpg) * sizeof(float));
          std::fill(dst + hi * cpg, dst + taps * cpg, 0.f);
          dst += taps * cpg;
          continue;
        }
        for (int64_t k2 = 0; k2 < axes[2].kernel; ++k2, dst += cpg) {
          const int64_t i2 = axes[2].source(ix.o[2], k2);
          if (i0 < 0 || i1 < 0 || i2 < 0) {
            std::fill(dst, dst + cpg, 0.f);
          } else {
            const float* src = xb + i0 * lx.strides[0] + i1 * lx.strides[1] + i2 * lx.strides[2];
            if (lx.channel_stride == 1) std::memcpy(dst, src, static_cast<size_t>(cpg) * sizeof(float));
            else for (int64_t ch = 0; ch < cpg; ++ch) dst[ch] = src[ch * lx.channel_stride];
          }
        }
      }
    }
  }
}

void run_gemm(const KernelCall& c) {
  const auto& a = c.node.as<ir::ConvAttrs>();
  const auto& packed = *static_cast<const std::vector<PackedB>*>(c.prepared);
  const float* x = static_cast<const float*>(c.in[0].data);
  float* y = static_cast<float*>(c.out[0].data);
  const Blocking blk = blocking(a, c.out[0].shape);
  const float* bias = a.has_bias ? c.node.weight(1).values<float>().data() : nullptr;
  const size_t row_bytes = static_cast<size_t>(a.filters) * sizeof(float);
  float* act_scratch = reinterpret_cast<float*>(c.ctx.scratch.data());
  // channels_last: the GEMM's columns are the filters, so it can apply the activation and fused
  // steps itself before storing each block.
  GemmFinish finish;
  const bool in_gemm = !a.channels_first && as_gemm_finish(a.activation, c.post, finish);
  if (direct_gemm(a)) {
    if (bias)
      for (int64_t r = 0; r < blk.rows; ++r) std::memcpy(y + r * a.filters, bias, row_bytes);
    gemm_packed(blk.rows, x, a.in_channels, packed[0], y, a.filters, a.has_bias, c.ctx, in_gemm ? &finish : nullptr);
  } else {
    const int64_t cpg = a.in_channels / a.groups, fpg = a.filters / a.groups, k = taps_of(a) * cpg;
    float* A = act_scratch + activation_scratch(a, c.out[0].shape) / sizeof(float);
    float* block_out = A + blk.block * k;  // channels_first only
    const SpatialLayout lx = spatial_layout(c.in[0].shape, a.channels_first), ly = spatial_layout(c.out[0].shape, a.channels_first);
    const std::array<ir::ConvAxis, 3> axes = conv_axes(a, lx);
    const int64_t positions = ly.dims[0] * ly.dims[1] * ly.dims[2];
    const int64_t grain = std::max<int64_t>(1, 8192 / std::max<int64_t>(k, 1));
    for (int64_t r0 = 0; r0 < blk.rows; r0 += blk.block) {
      const int64_t m = std::min(blk.block, blk.rows - r0);
      float* C = a.channels_first ? block_out : y + r0 * a.filters;
      if (bias)
        for (int64_t r = 0; r < m; ++r) std::memcpy(C + r * a.filters, bias, row_bytes);
      for (int64_t g = 0; g < a.groups; ++g) {
        c.ctx.parallel_for(m, grain, [&](int64_t b, int64_t e) { im2col_rows(a, x, lx, ly, axes, g, r0, b, e, A); });
        const GemmFinish group_finish = finish.from_column(g * fpg);
        gemm_packed(m, A, k, packed[g], C + g * fpg, a.filters, a.has_bias, c.ctx, in_gemm ? &group_finish : nullptr);
      }
      if (a.channels_first)  // rows (batch, position) of filters -> y[batch, filter, position]
        for (int64_t r = 0; r < m; ++r) {
          const int64_t b = (r0 + r) / positions, p = (r0 + r) % positions;
          float* yp = y + b * ly.batch_stride + p;
          for (int64_t f = 0; f < a.filters; ++f) yp[f * ly.channel_stride] = C[r * a.filters + f];
        }
    }
  }
  // Rows of the last axis (for channels_first that is not the channels; the plan fuses only
  // element-wise steps then, and a scale/shift only over the last axis).
  if (in_gemm) return;
  const int64_t last = c.out[0].shape.back();
  finish_rows(a.activation, c.post, y, last ? element_count(c.out[0].shape) / last : 0, last, act_scratch, c.ctx);
}

// ---- transposed: GEMM, then gather ---------------------------------------------------------------
// Z = x · W' with W' (in, taps*filters): every input position's contribution through every tap.
// Each output position then sums, tap by tap, the row of Z its tap reads (ConvAxis::source), so
// threads write disjoint outputs. Z holds one batch element; larger ones stay on the reference.
constexpr int64_t kTransposeFloats = int64_t{1} << 22;

int64_t transpose_z_floats(const ir::ConvAttrs& a, std::span<const int64_t> in_shape) {
  return element_count(in_shape) / std::max<int64_t>(in_shape[0], 1) / a.in_channels * taps_of(a) * a.filters;
}

bool transpose_supports(const ir::Node& node, std::span<const TensorType> in, std::span<const TensorType>) {
  const auto& a = node.as<ir::ConvAttrs>();
  return a.transpose && !a.channels_first && a.groups == 1 && transpose_z_floats(a, in[0].shape) <= kTransposeFloats;
}

std::shared_ptr<const void> transpose_prepare(const ir::Node& node) {
  const auto& a = node.as<ir::ConvAttrs>();
  const float* kernel = node.weight(0).values<float>().data();
  const int64_t taps = taps_of(a), cols = taps * a.filters;
  std::vector<float> w(static_cast<size_t>(a.in_channels * cols));
  for (int64_t t = 0; t < taps; ++t)
    for (int64_t c = 0; c < a.in_channels; ++c)
      std::memcpy(&w[c * cols + t * a.filters], kernel + (t * a.in_channels + c) * a.filters,
                  static_cast<size_t>(a.filters) * sizeof(float));
  return std::make_shared<const PackedB>(pack_b(a.in_channels, cols, w.data(), cols));
}

size_t transpose_scratch(const ir::Node& node, std::span<const TensorType> in, std::span<const TensorType> out) {
  const auto& a = node.as<ir::ConvAttrs>();
  return activation_scratch(a, out[0].shape) + static_cast<size_t>(transpose_z_floats(a, in[0].shape)) * sizeof(float);
}

void run_transpose(const KernelCall& c) {
  const auto& a = c.node.as<ir::ConvAttrs>();
  const auto& packed = *static_cast<const PackedB*>(c.prepared);
  const float* x = static_cast<const float*>(c.in[0].data);
  float* y = static_cast<float*>(c.out[0].data);
  const float* bias = a.has_bias ? c.node.weight(1).values<float>().data() : nullptr;
  float* act_scratch = reinterpret_cast<float*>(c.ctx.scratch.data());
  float* Z = act_scratch + activation_scratch(a, c.out[0].shape) / sizeof(float);
  const SpatialLayout lx = spatial_layout(c.in[0].shape, false), ly = spatial_layout(c.out[0].shape, false);
  const std::array<ir::ConvAxis, 3> axes = conv_axes(a, lx);
  const int64_t taps = taps_of(a), filters = a.filters, cols = taps * filters;
  const int64_t in_rows = lx.dims[0] * lx.dims[1] * lx.dims[2], out_rows = ly.dims[0] * ly.dims[1] * ly.dims[2];
  for (int64_t b = 0; b < lx.batch; ++b) {
    gemm_packed(in_rows, x + b * lx.batch_stride, a.in_channels, packed, Z, cols, false, c.ctx);
    float* yb = y + b * ly.batch_stride;
    const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(cols, 1));
    c.ctx.parallel_for(out_rows, grain, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const RowIndex ix = row_index(r, ly);
        float* yp = yb + r * filters;
        if (bias) std::memcpy(yp, bias, static_cast<size_t>(filters) * sizeof(float));
        else std::fill(yp, yp + filters, 0.f);
        for (int64_t k0 = 0; k0 < axes[0].kernel; ++k0) {
          const int64_t i0 = axes[0].source(ix.o[0], k0);
          if (i0 < 0) continue;
          for (int64_t k1 = 0; k1 < axes[1].kernel; ++k1) {
            const int64_t i1 = axes[1].source(ix.o[1], k1);
            if (i1 < 0) continue;
            for (int64_t k2 = 0; k2 < axes[2].kernel; ++k2) {
              const int64_t i2 = axes[2].source(ix.o[2], k2);
              if (i2 < 0) continue;
              const int64_t row = (i0 * lx.dims[1] + i1) * lx.dims[2] + i2;
              const int64_t tap = (k0 * axes[1].kernel + k1) * axes[2].kernel + k2;
              const float* z = Z + row * cols + tap * filters;
              for (int64_t f = 0; f < filters; ++f) yp[f] += z[f];
            }
          }
        }
      }
    });
  }
  apply_unary(a.activation, y, y, element_count(c.out[0].shape), c.out[0].shape.back(), act_scratch, c.ctx);
}

}  // namespace

const Kernel kConvDepthwise{"depthwise", ir::OpKind::kConv, depthwise_supports, depthwise_scratch, nullptr,
                            run_depthwise, /*in_place=*/false, /*post_ops=*/true};
const Kernel kConvGemm{"gemm", ir::OpKind::kConv, gemm_supports, gemm_scratch, gemm_prepare, run_gemm,
                       /*in_place=*/false, /*post_ops=*/true};
const Kernel kConvTransposeGemm{"transpose_gemm", ir::OpKind::kConv, transpose_supports, transpose_scratch,
                                transpose_prepare, run_transpose};

}  // namespace kerasrt::kernels::x86
