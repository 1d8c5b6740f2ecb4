// (family under construction)
#include "layers/common.hpp"
#include "layers/registry.hpp"

namespace kerasrt::layers {

void register_embedding(const AddLayer&) {}

}  // namespace kerasrt::layers
