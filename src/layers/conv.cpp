// (family under construction)
#include "layers/common.hpp"
#include "layers/registry.hpp"

namespace kerasrt::layers {

void register_conv(const AddLayer&) {}

}  // namespace kerasrt::layers
