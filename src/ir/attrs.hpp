// Typed attributes, one struct per op family. Filled by a format reader (format/keras), read by
// shape inference, the kernels and the exporters. No file or framework knowledge lives here.
#pragma once

#include <memory>
#include <string>
#include <variant>

#include "ir/attention.hpp"
#include "ir/concat.hpp"
#include "ir/conv.hpp"
#include "ir/dense.hpp"
#include "ir/elementwise.hpp"
#include "ir/normalization.hpp"
#include "ir/pooling.hpp"
#include "ir/shape.hpp"
#include "ir/reduce.hpp"
#include "ir/softmax.hpp"
#include "ir/spatial.hpp"
#include "ir/gather.hpp"
#include "ir/op_kind.hpp"
#include "ir/reshape.hpp"
#include "ir/recurrent.hpp"
#include "ir/linalg.hpp"
#include "ir/preprocessing.hpp"
#include "ir/audio.hpp"
#include "ir/conv_recurrent.hpp"
#include "ir/slice.hpp"

namespace kerasrt {
class Op;
}

namespace kerasrt::ir {

// A layer computed by a kerasrt::Op (include/kerasrt/op.hpp): the custom-layer API's seam.
// Its tensors travel as float32.
struct CustomAttrs {
  std::shared_ptr<const Op> op;
  std::string class_name;  // the layer class the Op implements, for printing
};

using Attrs = std::variant<CustomAttrs, UnaryAttrs, BinaryAttrs, CastAttrs, DenseAttrs, ConvAttrs,
                           PoolAttrs, BatchNormAttrs, NormalizeAttrs, GroupNormAttrs,
                           ReshapeAttrs, TransposeAttrs, RepeatAttrs,
                           ConstantAttrs, WhereAttrs, GatherAttrs, ExpandDimsAttrs,
                           RnnAttrs, AttentionAttrs, ConcatAttrs, SoftmaxAttrs, PadAttrs, UpsampleAttrs,
                           ReduceAttrs,
                           MatmulAttrs, EinsumAttrs,
                           CategoryEncodeAttrs, BucketizeAttrs, ResizeAttrs, AutoContrastAttrs, EqualizeAttrs,
                           ClaheAttrs, StftAttrs, PowerToDbAttrs,
                           ConvLstmAttrs,
                           SliceAttrs>;

}  // namespace kerasrt::ir
