// The kernel seam. Each op kind has a list of implementations, most specialised first; a plan takes
// the first whose supports() accepts the node and its tensor types. `ref` (kernels/ref/) exists for
// every kind, is plain and obviously right, and is what the differential test measures the others by.
#pragma once

#include <memory>
#include <span>

#include "ir/graph.hpp"
#include "kernels/context.hpp"

namespace kerasrt::kernels {

using ir::TensorType;

// An element-wise step a producer applies to its float32 output before it is written, in place of a
// separate node (the plan fuses a following batch-norm or activation this way, saving a pass over
// memory): y = y * scale[c] + shift[c] with c the index on the last axis, or y = unary(y).
struct PostOp {
  const float* scale = nullptr;  // null: a unary step
  const float* shift = nullptr;
  ir::UnaryAttrs unary;
};

struct KernelCall {
  const ir::Node& node;
  std::span<const ConstTensorView> in;
  std::span<const TensorView> out;
  const ExecContext& ctx;
  const void* prepared;  // what prepare() made for this node, or null
  std::span<const PostOp> post = {};  // applied in order to output 0 (only for kernels with post_ops)
};

struct Kernel {
  const char* name;  // "ref", "loop", "gemm", ...: shown by `info --ir` and in profiles
  ir::OpKind kind;
  // Whether this implementation handles the node for these concrete types. Null: always.
  bool (*supports)(const ir::Node& node, std::span<const TensorType> in, std::span<const TensorType> out) = nullptr;
  // Scratch bytes the kernel wants from the arena for these types. Null: none.
  size_t (*scratch_bytes)(const ir::Node& node, std::span<const TensorType> in, std::span<const TensorType> out) = nullptr;
  // Work done once per node and reused by every call (packing weights). Null: nothing.
  std::shared_ptr<const void> (*prepare)(const ir::Node& node) = nullptr;
  void (*run)(const KernelCall& call) = nullptr;
  // Output 0 may share input 0's memory (element-wise kernels that read each element before writing it).
  bool in_place = false;
  // run() applies KernelCall::post to output 0 (a float32 tensor whose last axis is the channels).
  bool post_ops = false;
};

enum class KernelChoice { kFastest, kReference };

// The implementations of `kind`, most specialised first; the last is always the reference.
std::span<const Kernel* const> kernels_for(ir::OpKind kind);
// The kernel a plan uses for this node.
const Kernel& choose_kernel(const ir::Node& node, std::span<const TensorType> in, std::span<const TensorType> out,
                            KernelChoice choice);
// KERASRT_KERNELS=ref forces the reference kernels; anything else (or unset) picks the fastest.
KernelChoice kernel_choice_from_env(KernelChoice fallback);

}  // namespace kerasrt::kernels
