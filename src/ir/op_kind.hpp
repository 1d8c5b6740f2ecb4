// The kinds of operation the ir knows. One kind per piece of math users think in (a convolution,
// a dense layer, an element-wise function), shared by every Keras class that computes it.
#pragma once

#include <cstdint>

namespace kerasrt::ir {

enum class OpKind : uint8_t {
  kCustom,  // a layer implemented as a kerasrt::Op (user registrations; built-ins not yet typed)
  kUnary,   // UnaryAttrs: activations and math functions
  kBinary,  // BinaryAttrs: arithmetic, comparison and logic with broadcasting
  kCast,    // CastAttrs
  kDense,   // DenseAttrs
  kConv,    // ConvAttrs: Conv*, DepthwiseConv*, SeparableConv* (two nodes), Conv*Transpose
  kPool,       // PoolAttrs: max/average pooling, sliding, adaptive and global
  kBatchNorm,  // BatchNormAttrs
  kNormalize,  // NormalizeAttrs: layer, RMS and unit normalization
  kGroupNorm,  // GroupNormAttrs
  kReshape,    // ReshapeAttrs: same bytes, new shape (also the inference no-ops)
  kTranspose,  // TransposeAttrs
  kRepeat,     // RepeatAttrs
  kConstant,  // ConstantAttrs: a weight as a value
  kWhere,     // WhereAttrs
  kGather,    // GatherAttrs: rows of a table by integer index (Embedding)
  kExpandDims,  // ExpandDimsAttrs
  kRnn,         // RnnAttrs: SimpleRNN, LSTM, GRU (and the CuDNN variants)
  kAttention,   // AttentionAttrs: scaled dot-product attention over heads (MultiHeadAttention, GQA)
  kConcat,      // ConcatAttrs: Concatenate, Stack
  kSoftmax,     // SoftmaxAttrs: softmax and log-softmax over any axes
  kPad,         // PadAttrs: ZeroPadding (zeros) and Cropping (negative amounts)
  kUpsample,    // UpsampleAttrs: nearest UpSampling
  kReduce,      // ReduceAttrs: sum, mean, max, ..., argmax over axes
  kMatmul,      // MatmulAttrs: batched matrix product (Dot, keras.ops.matmul, attention scores)
  kEinsum,      // EinsumAttrs: einsum over a parsed equation (EinsumDense, keras.ops.einsum)
  kCategoryEncode,  // CategoryEncodeAttrs: one_hot / multi_hot / count of integer ids
  kBucketize,       // BucketizeAttrs: bucket index by sorted boundaries (Discretization)
  kResize,          // ResizeAttrs: Resizing, CenterCrop, bilinear/bicubic UpSampling2D
  kAutoContrast,    // AutoContrastAttrs
  kEqualize,        // EqualizeAttrs: histogram equalization
  kClahe,           // ClaheAttrs: contrast-limited adaptive histogram equalization
  kStft,            // StftAttrs: STFTSpectrogram, MelSpectrogram's spectrum
  kPowerToDb,       // PowerToDbAttrs: MelSpectrogram's decibels
  kConvLstm,    // ConvLstmAttrs: ConvLSTM1D/2D/3D
  kSlice,       // SliceAttrs: basic indexing x[key] (keras.ops GetItem)
  kCount,
};

const char* op_kind_name(OpKind k);  // "custom", ... (what `info --ir` prints)

}  // namespace kerasrt::ir
