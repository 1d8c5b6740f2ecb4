// Gather: rows of a table (the node's one weight, (rows, dim) float32) picked by integer indices;
// the output is the indices' shape plus dim. Negative indices count from the end; others out of
// range are an error at run time. The lookup of an Embedding layer.
#pragma once

#include <cstdint>

namespace kerasrt::ir {

struct GatherAttrs {
  int64_t rows = 0, dim = 0;
};

}  // namespace kerasrt::ir
