#include "ir/attention.hpp"

#include "ir/rules.hpp"

namespace kerasrt::ir {

std::vector<TensorType> infer_attention(const Node& node, std::span<const TensorType> in) {
  const auto& a = node.as<AttentionAttrs>();
  const size_t masks = a.has_attention_mask + a.has_query_mask + a.has_value_mask + a.has_key_mask;
  expect_inputs(in, 3 + masks);
  if (a.heads <= 0 || a.kv_heads <= 0 || a.key_dim <= 0 || a.value_dim <= 0 || a.heads % a.kv_heads != 0)
    throw Error("attention needs positive sizes and heads divisible by kv_heads");
  for (const TensorType& t : in)
    if (t.dtype != DType::kFloat32) throw Error(std::string("attention takes float32, got ") + dtype_name(t.dtype));
  const Shape &q = in[0].shape, &k = in[1].shape, &v = in[2].shape;
  if (q.size() != 3 || k.size() != 3 || v.size() != 3)
    throw Error("attention takes rank-3 query, key and value, got " + shape_to_string(q) + ", " +
                shape_to_string(k) + ", " + shape_to_string(v));
  auto agree = [](int64_t x, int64_t y) { return x < 0 || y < 0 || x == y; };
  if (!agree(q[2], a.heads * a.key_dim) || !agree(k[2], a.kv_heads * a.key_dim) ||
      !agree(v[2], a.kv_heads * a.value_dim))
    throw Error("attention: query " + shape_to_string(q) + ", key " + shape_to_string(k) + " and value " +
                shape_to_string(v) + " do not hold the heads' features");
  if (!agree(q[0], k[0]) || !agree(q[0], v[0]) || !agree(k[0], v[0]))
    throw Error("attention: query, key and value have different batch sizes");
  if (!agree(k[1], v[1]))
    throw Error("attention: key " + shape_to_string(k) + " and value " + shape_to_string(v) +
                " must have the same number of steps");
  const int64_t steps = k[1] >= 0 ? k[1] : v[1];
  const Shape scores{q[0], a.heads, q[1], steps};
  size_t next = 3;
  if (a.has_attention_mask) {
    const Shape& m = in[next++].shape;
    bool ok = m.size() == 4;
    for (size_t i = 0; ok && i < 4; ++i) ok = m[i] == 1 || agree(m[i], scores[i]);
    if (!ok)
      throw Error("attention_mask of shape " + shape_to_string(m) + " cannot be broadcast to the attention scores " +
                  shape_to_string(scores));
  }
  auto seq_mask = [&](bool present, const Shape& seq, const char* what) {
    if (!present) return;
    const Shape& m = in[next++].shape;
    if (m.size() != 2 || !agree(m[0], seq[0]) || !agree(m[1], seq[1]))
      throw Error(std::string(what) + " of shape " + shape_to_string(m) + " does not match " + shape_to_string(seq));
  };
  seq_mask(a.has_query_mask, q, "query_mask");
  seq_mask(a.has_value_mask, v, "value_mask");
  seq_mask(a.has_key_mask, k, "key_mask");
  std::vector<TensorType> out{{{q[0], q[1], a.heads * a.value_dim}, DType::kFloat32}};
  if (a.return_scores) out.push_back({scores, DType::kFloat32});
  return out;
}

}  // namespace kerasrt::ir
