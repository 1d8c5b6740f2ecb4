// The reference kernels: one per op kind, plain loops written to be obviously right.
#pragma once

#include "kernels/kernel.hpp"

namespace kerasrt::kernels::ref {

// A float32 unary function over `n` values (rows of `last_len` for the last-axis functions), `y`
// may be `x`. Sparsemax needs `last_len` floats of scratch. Used by producers with an activation.
void apply_unary(const ir::UnaryAttrs& u, const float* x, float* y, int64_t n, int64_t last_len, float* scratch);
size_t activation_scratch_bytes(const ir::Activation& a, int64_t last_len);

// Concat (or stack) of call c's inputs: the number of indices before the join axis, and the copy for
// indices [begin, end) of them (every input's block for each index in turn), which the reference
// runs over all of them and the fast kernel splits over the pool.
int64_t concat_outer(const KernelCall& c);
void concat_rows(const KernelCall& c, int64_t begin, int64_t end);
// A convolution without its activation (ConvAttrs' formula), for ops built on convolutions (conv_lstm).
// `acc`: a.filters floats of scratch.
void conv_reference(const ir::ConvAttrs& a, const float* x, std::span<const int64_t> x_shape, const float* kernel,
                    const float* bias, float* y, std::span<const int64_t> y_shape, float* acc);

extern const Kernel kCustom;
extern const Kernel kUnary;
extern const Kernel kBinary;
extern const Kernel kCast;
extern const Kernel kDense;
extern const Kernel kConv;
extern const Kernel kPool;
extern const Kernel kBatchNorm;
extern const Kernel kNormalize;
extern const Kernel kGroupNorm;
extern const Kernel kReshape;
extern const Kernel kTranspose;
extern const Kernel kRepeat;
extern const Kernel kConstant;
extern const Kernel kWhere;
extern const Kernel kGather;
extern const Kernel kExpandDims;
extern const Kernel kRnn;
extern const Kernel kAttention;
extern const Kernel kConcat;
extern const Kernel kSoftmax;
extern const Kernel kPad;
extern const Kernel kUpsample;
extern const Kernel kReduce;
extern const Kernel kMatmul;
extern const Kernel kEinsum;
extern const Kernel kCategoryEncode;
extern const Kernel kBucketize;
extern const Kernel kResize;
extern const Kernel kAutoContrast;
extern const Kernel kEqualize;
extern const Kernel kClahe;
extern const Kernel kStft;
extern const Kernel kPowerToDb;
extern const Kernel kConvLstm;
extern const Kernel kSlice;

}  // namespace kerasrt::kernels::ref
