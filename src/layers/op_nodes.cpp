// (family under construction)
#include "layers/common.hpp"
#include "layers/registry.hpp"

namespace kerasrt::layers {

void register_op_nodes(const AddLayer&) {}

}  // namespace kerasrt::layers
