// Shape rules per op family (one .cpp each), dispatched by infer_types, and the checks they share.
#pragma once

#include <span>
#include <vector>

#include "ir/graph.hpp"

namespace kerasrt::ir {

// a * b for sizes from a model file: an Error instead of signed overflow.
inline int64_t checked_mul(int64_t a, int64_t b, const char* what) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) throw Error(std::string(what) + " is too large");
  return r;
}

std::vector<TensorType> infer_unary(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_binary(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_cast(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_dense(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_conv(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_pool(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_batch_norm(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_normalize(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_group_norm(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_reshape(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_transpose(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_repeat(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_constant(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_where(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_gather(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_expand_dims(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_rnn(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_attention(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_concat(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_softmax(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_pad(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_upsample(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_reduce(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_matmul(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_einsum(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_category_encode(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_bucketize(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_resize(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_stft(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_power_to_db(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_image_same(const Node& node, std::span<const TensorType> in);  // auto contrast, equalize, clahe
std::vector<TensorType> infer_conv_lstm(const Node& node, std::span<const TensorType> in);
std::vector<TensorType> infer_slice(const Node& node, std::span<const TensorType> in);

void expect_inputs(std::span<const TensorType> in, size_t n);

}  // namespace kerasrt::ir
