// Reference attention: one query row at a time, logits and sums in double, as the formula reads.
#include <algorithm>
#include <cmath>

#include "kernels/attention_mask.hpp"
#include "kernels/ref/ref.hpp"

namespace kerasrt::kernels::ref {
namespace {

size_t attention_scratch(const ir::Node& node, std::span<const TensorType> in, std::span<const TensorType>) {
  const auto& a = node.as<ir::AttentionAttrs>();
  const int64_t tk = in[1].shape[1];
  return static_cast<size_t>(tk) * (sizeof(double) + sizeof(float) + 1) + static_cast<size_t>(a.key_dim) * sizeof(float);
}

void run_attention(const KernelCall& c) {
  const auto& a = c.node.as<ir::AttentionAttrs>();
  const float* q = static_cast<const float*>(c.in[0].data);
  const float* k = static_cast<const float*>(c.in[1].data);
  const float* v = static_cast<const float*>(c.in[2].data);
  float* out = static_cast<float*>(c.out[0].data);
  float* scores = a.return_scores ? static_cast<float*>(c.out[1].data) : nullptr;
  const AttentionGeometry g{c.in[0].shape[0], c.in[0].shape[1], c.in[1].shape[1]};
  const AttentionMask mask(a, c.in, g);
  const int64_t H = a.heads, KVH = a.kv_heads, K = a.key_dim, V = a.value_dim, group = H / KVH;

  std::byte* p = c.ctx.scratch.data();
  double* logits = reinterpret_cast<double*>(p);
  float* weights = reinterpret_cast<float*>(logits + g.tk);
  float* qs = weights + g.tk;
  char* ok = reinterpret_cast<char*>(qs + K);

  for (int64_t b = 0; b < g.batch; ++b)
    for (int64_t n = 0; n < H; ++n) {
      const int64_t kvh = n / group;
      for (int64_t t = 0; t < g.tq; ++t) {
        const float* qr = q + ((b * g.tq + t) * H + n) * K;
        for (int64_t ch = 0; ch < K; ++ch) qs[ch] = qr[ch] * a.scale;  // Keras scales the query first
        double mx = -INFINITY;
        bool any = false;
        for (int64_t s = 0; s < g.tk; ++s) {
          ok[s] = !mask.any() || mask.allowed(b, n, t, s);
          if (!ok[s]) continue;
          const float* kr = k + ((b * g.tk + s) * KVH + kvh) * K;
          double acc = 0;
          for (int64_t ch = 0; ch < K; ++ch) acc += static_cast<double>(qs[ch]) * kr[ch];
          logits[s] = static_cast<float>(acc);
          mx = std::max(mx, logits[s]);
          any = true;
        }
        if (any) {
          double sum = 0;
          for (int64_t s = 0; s < g.tk; ++s) sum += ok[s] ? std::exp(logits[s] - mx) : 0.0;
          for (int64_t s = 0; s < g.tk; ++s)
            weights[s] = ok[s] ? static_cast<float>(std::exp(logits[s] - mx) / sum) : 0.f;
        } else {
          std::fill(weights, weights + g.tk, a.uniform_if_fully_masked ? 1.f / static_cast<float>(g.tk) : 0.f);
        }
        if (scores) std::copy(weights, weights + g.tk, scores + ((b * H + n) * g.tq + t) * g.tk);
        float* orow = out + ((b * g.tq + t) * H + n) * V;
        for (int64_t ch = 0; ch < V; ++ch) {
          double acc = 0;
          for (int64_t s = 0; s < g.tk; ++s)
            if (weights[s] != 0.f) acc += static_cast<double>(weights[s]) * v[((b * g.tk + s) * KVH + kvh) * V + ch];
          orow[ch] = static_cast<float>(acc);
        }
      }
    }
}

}  // namespace

const Kernel kAttention{"ref", ir::OpKind::kAttention, nullptr, attention_scratch, nullptr, run_attention};

}  // namespace kerasrt::kernels::ref
