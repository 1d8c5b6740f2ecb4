// Softmax (or log-softmax) over a set of axes taken together: each group of elements that differ
// only along `axes` is shifted by its max, exponentiated and divided by its sum. float32 only.
#pragma once

#include <vector>

namespace kerasrt::ir {

struct SoftmaxAttrs {
  std::vector<int> axes;  // distinct, ascending, within the input's rank; empty: groups of one
  bool log = false;
};

}  // namespace kerasrt::ir
