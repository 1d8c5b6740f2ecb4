#include "ir/infer.hpp"

#include <kerasrt/op.hpp>

#include "ir/rules.hpp"

namespace kerasrt::ir {
namespace {

std::vector<TensorType> infer_custom(const Node& node, std::span<const TensorType> inputs) {
  std::vector<Shape> shapes;
  shapes.reserve(inputs.size());
  for (const TensorType& t : inputs) shapes.push_back(t.shape);
  std::vector<TensorType> out;
  for (Shape& s : node.as<CustomAttrs>().op->output_shapes(shapes)) out.push_back({std::move(s), DType::kFloat32});
  return out;
}

}  // namespace

void expect_inputs(std::span<const TensorType> in, size_t n) {
  if (in.size() != n)
    throw Error("takes " + std::to_string(n) + " input" + (n == 1 ? "" : "s") + ", got " + std::to_string(in.size()));
}

const char* op_kind_name(OpKind k) {
  switch (k) {
    case OpKind::kCustom: return "custom";
    case OpKind::kUnary: return "unary";
    case OpKind::kBinary: return "binary";
    case OpKind::kCast: return "cast";
    case OpKind::kDense: return "dense";
    case OpKind::kConv: return "conv";
    case OpKind::kPool: return "pool";
    case OpKind::kBatchNorm: return "batch_norm";
    case OpKind::kNormalize: return "normalize";
    case OpKind::kGroupNorm: return "group_norm";
    case OpKind::kReshape: return "reshape";
    case OpKind::kTranspose: return "transpose";
    case OpKind::kRepeat: return "repeat";
    case OpKind::kConstant: return "constant";
    case OpKind::kWhere: return "where";
    case OpKind::kGather: return "gather";
    case OpKind::kExpandDims: return "expand_dims";
    case OpKind::kRnn: return "rnn";
    case OpKind::kAttention: return "attention";
    case OpKind::kConcat: return "concat";
    case OpKind::kSoftmax: return "softmax";
    case OpKind::kPad: return "pad";
    case OpKind::kUpsample: return "upsample";
    case OpKind::kReduce: return "reduce";
    case OpKind::kMatmul: return "matmul";
    case OpKind::kEinsum: return "einsum";
    case OpKind::kCategoryEncode: return "category_encode";
    case OpKind::kBucketize: return "bucketize";
    case OpKind::kResize: return "resize";
    case OpKind::kAutoContrast: return "auto_contrast";
    case OpKind::kEqualize: return "equalize";
    case OpKind::kClahe: return "clahe";
    case OpKind::kStft: return "stft";
    case OpKind::kPowerToDb: return "power_to_db";
    case OpKind::kConvLstm: return "conv_lstm";
    case OpKind::kSlice: return "slice";
    case OpKind::kCount: break;
  }
  return "?";
}

std::vector<TensorType> infer_types(const Node& node, std::span<const TensorType> inputs) {
  switch (node.kind) {
    case OpKind::kCustom: return infer_custom(node, inputs);
    case OpKind::kUnary: return infer_unary(node, inputs);
    case OpKind::kBinary: return infer_binary(node, inputs);
    case OpKind::kCast: return infer_cast(node, inputs);
    case OpKind::kDense: return infer_dense(node, inputs);
    case OpKind::kConv: return infer_conv(node, inputs);
    case OpKind::kPool: return infer_pool(node, inputs);
    case OpKind::kBatchNorm: return infer_batch_norm(node, inputs);
    case OpKind::kNormalize: return infer_normalize(node, inputs);
    case OpKind::kGroupNorm: return infer_group_norm(node, inputs);
    case OpKind::kReshape: return infer_reshape(node, inputs);
    case OpKind::kTranspose: return infer_transpose(node, inputs);
    case OpKind::kRepeat: return infer_repeat(node, inputs);
    case OpKind::kConstant: return infer_constant(node, inputs);
    case OpKind::kWhere: return infer_where(node, inputs);
    case OpKind::kGather: return infer_gather(node, inputs);
    case OpKind::kExpandDims: return infer_expand_dims(node, inputs);
    case OpKind::kRnn: return infer_rnn(node, inputs);
    case OpKind::kAttention: return infer_attention(node, inputs);
    case OpKind::kConcat: return infer_concat(node, inputs);
    case OpKind::kSoftmax: return infer_softmax(node, inputs);
    case OpKind::kPad: return infer_pad(node, inputs);
    case OpKind::kUpsample: return infer_upsample(node, inputs);
    case OpKind::kReduce: return infer_reduce(node, inputs);
    case OpKind::kMatmul: return infer_matmul(node, inputs);
    case OpKind::kEinsum: return infer_einsum(node, inputs);
    case OpKind::kCategoryEncode: return infer_category_encode(node, inputs);
    case OpKind::kBucketize: return infer_bucketize(node, inputs);
    case OpKind::kResize: return infer_resize(node, inputs);
    case OpKind::kAutoContrast:
    case OpKind::kEqualize:
    case OpKind::kClahe: return infer_image_same(node, inputs);
    case OpKind::kStft: return infer_stft(node, inputs);
    case OpKind::kPowerToDb: return infer_power_to_db(node, inputs);
    case OpKind::kConvLstm: return infer_conv_lstm(node, inputs);
    case OpKind::kSlice: return infer_slice(node, inputs);
    case OpKind::kCount: break;
  }
  throw Error("unknown op kind");
}

}  // namespace kerasrt::ir
