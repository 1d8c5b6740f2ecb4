// The explicit resolver: for each op kind, its kernels in order of preference, reference last.
#include <array>
#include <cstdlib>
#include <string>

#include "kernels/kernel.hpp"
#include "kernels/ref/ref.hpp"
#include "kernels/x86/x86.hpp"

namespace kerasrt::kernels {
namespace {

struct Table {
  std::array<std::vector<const Kernel*>, static_cast<size_t>(ir::OpKind::kCount)> by_kind;

  Table() {
    add({&ref::kCustom});
    add({&x86::kUnaryLoop, &ref::kUnary});
    add({&x86::kBinaryLoop, &ref::kBinary});
    add({&ref::kCast});
    add({&x86::kDenseGemm, &ref::kDense});
    add({&x86::kConvDepthwise, &x86::kConvGemm, &x86::kConvTransposeGemm, &ref::kConv});
    add({&x86::kPoolChannelsLast, &ref::kPool});
    add({&x86::kBatchNormChannelsLast, &ref::kBatchNorm});
    add({&x86::kNormalizeLastAxis, &ref::kNormalize});
    add({&ref::kGroupNorm});
    add({&ref::kReshape});
    add({&x86::kTransposeStrided, &ref::kTranspose});
    add({&ref::kRepeat});
    add({&ref::kConstant});
    add({&ref::kWhere});
    add({&ref::kGather});
    add({&ref::kExpandDims});
    add({&x86::kRnnGemm, &ref::kRnn});
    add({&x86::kAttentionGemm, &ref::kAttention});
    add({&x86::kConcatSplit, &ref::kConcat});
    add({&x86::kSoftmaxLastAxis, &ref::kSoftmax});
    add({&x86::kPadRuns, &ref::kPad});
    add({&ref::kUpsample});
    add({&ref::kReduce});
    add({&x86::kMatmulGemm, &ref::kMatmul});
    add({&x86::kEinsumGemm, &ref::kEinsum});
    add({&ref::kCategoryEncode});
    add({&ref::kBucketize});
    add({&ref::kResize});
    add({&ref::kAutoContrast});
    add({&ref::kEqualize});
    add({&ref::kClahe});
    add({&ref::kStft});
    add({&ref::kPowerToDb});
    add({&x86::kConvLstmGemm, &ref::kConvLstm});
    add({&x86::kSliceStrided, &ref::kSlice});
  }

  void add(std::initializer_list<const Kernel*> kernels) {
    for (const Kernel* k : kernels) by_kind[static_cast<size_t>(k->kind)].push_back(k);
  }
};

const Table& table() {
  static const Table t;
  return t;
}

}  // namespace

std::span<const Kernel* const> kernels_for(ir::OpKind kind) { return table().by_kind.at(static_cast<size_t>(kind)); }

const Kernel& choose_kernel(const ir::Node& node, std::span<const TensorType> in, std::span<const TensorType> out,
                            KernelChoice choice) {
  std::span<const Kernel* const> list = kernels_for(node.kind);
  if (list.empty()) throw Error(std::string("no kernel for op kind '") + ir::op_kind_name(node.kind) + "'");
  if (choice == KernelChoice::kReference) return *list.back();
  for (const Kernel* k : list)
    if (!k->supports || k->supports(node, in, out)) return *k;
  return *list.back();
}

KernelChoice kernel_choice_from_env(KernelChoice fallback) {
  const char* env = std::getenv("KERASRT_KERNELS");
  if (!env || !*env) return fallback;
  return std::string(env) == "ref" ? KernelChoice::kReference : KernelChoice::kFastest;
}

}  // namespace kerasrt::kernels
