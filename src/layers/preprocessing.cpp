// (family under construction)
#include "layers/common.hpp"
#include "layers/registry.hpp"

namespace kerasrt::layers {

void register_preprocessing(const AddLayer&) {}

}  // namespace kerasrt::layers
