// Layers implemented as a kerasrt::Op: float32 views in, float32 views out. Inputs of another type
// are converted into scratch first.
#include <kerasrt/op.hpp>

#include <cstring>

#include "kernels/ref/ref.hpp"

namespace kerasrt::kernels::ref {
namespace {

constexpr size_t kMaxTensors = 16;  // views live on the stack: no allocation per call

size_t custom_scratch(const ir::Node&, std::span<const TensorType> in, std::span<const TensorType>) {
  size_t bytes = 0;
  for (const TensorType& t : in)
    if (t.dtype != DType::kFloat32) bytes += static_cast<size_t>(element_count(t.shape)) * sizeof(float);
  return bytes;
}

template <class T>
void to_float(const void* src, int64_t n, float* dst) {
  const T* s = static_cast<const T*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(s[i]);
}

void run_custom(const KernelCall& call) {
  if (call.in.size() > kMaxTensors || call.out.size() > kMaxTensors)
    throw Error("a custom layer with more than 16 inputs or outputs");
  ConstView in[kMaxTensors];
  MutView out[kMaxTensors];
  float* scratch = reinterpret_cast<float*>(call.ctx.scratch.data());
  for (size_t i = 0; i < call.in.size(); ++i) {
    const ConstTensorView& v = call.in[i];
    int64_t n = element_count(v.shape);
    const float* data = static_cast<const float*>(v.data);
    if (v.dtype != DType::kFloat32) {
      switch (v.dtype) {
        case DType::kInt32: to_float<int32_t>(v.data, n, scratch); break;
        case DType::kInt64: to_float<int64_t>(v.data, n, scratch); break;
        case DType::kUInt8:
        case DType::kBool: to_float<uint8_t>(v.data, n, scratch); break;
        case DType::kFloat32: break;
      }
      data = scratch;
      scratch += n;
    }
    in[i] = {data, v.shape};
  }
  for (size_t i = 0; i < call.out.size(); ++i) {
    if (call.out[i].dtype != DType::kFloat32) throw Error("a custom layer's outputs are float32");
    out[i] = {static_cast<float*>(call.out[i].data), call.out[i].shape};
    // The Op contract promises zero-filled outputs; arena memory holds whatever was there before.
    std::memset(out[i].data, 0, static_cast<size_t>(element_count(out[i].shape)) * sizeof(float));
  }
  call.node.as<ir::CustomAttrs>().op->run({in, call.in.size()}, {out, call.out.size()});
}

}  // namespace

const Kernel kCustom{"ref", ir::OpKind::kCustom, nullptr, custom_scratch, nullptr, run_custom};

}  // namespace kerasrt::kernels::ref
