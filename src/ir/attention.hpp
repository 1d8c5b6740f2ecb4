// Scaled dot-product attention over projected heads: for each batch b, query head n (sharing
// key/value head n / (heads / kv_heads)) and query step t,
//   out(b, t, n, :) = sum_s softmax_s(scale * q(b, t, n) · k(b, s, kvh)) v(b, s, kvh)
// over the keys the masks allow. The projections around it are ordinary dense nodes.
#pragma once

#include <cstdint>

namespace kerasrt::ir {

// Inputs: q (B, T, heads * key_dim), k (B, S, kv_heads * key_dim), v (B, S, kv_heads * value_dim),
// then in this order the masks that are present (any value != 0 allows):
//   attention_mask, rank 4, each axis 1 or equal to the scores' (B, heads, T, S);
//   query_mask (B, T); value_mask (B, S); key_mask (B, S).
// Outputs: (B, T, heads * value_dim), then with return_scores the weights (B, heads, T, S).
struct AttentionAttrs {
  int64_t heads = 1, kv_heads = 1, key_dim = 1, value_dim = 1;
  float scale = 1.f;  // applied to the query before the dot product
  bool causal = false;
  int64_t window = 0;  // keys with |t - s| >= window are masked; 0 for none
  bool has_attention_mask = false, has_query_mask = false, has_value_mask = false, has_key_mask = false;
  // A query whose every key is masked attends to all keys equally (true) or to none (false).
  bool uniform_if_fully_masked = false;
  bool return_scores = false;
};

}  // namespace kerasrt::ir
