// The op nodes' shared parts (op_nodes.hpp).
#include "layers/op_nodes.hpp"

#include <algorithm>

namespace kerasrt::layers {
namespace op_nodes {

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t x = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t y = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (x == 1)
      out[i] = y;
    else if (y == 1)
      out[i] = x;
    else if (x < 0)
      out[i] = y;
    else if (y < 0 || x == y)
      out[i] = x;
    else
      throw Error("cannot broadcast shapes " + shape_to_string(a) + " and " + shape_to_string(b));
  }
  return out;
}

void expect_inputs(std::span<const Shape> in, size_t n) {
  if (in.size() != n) throw Error("takes " + std::to_string(n) + " tensor(s), got " + std::to_string(in.size()));
}

void add_op(const AddLayer& add, const std::string& cls, std::function<Binder(const Config&)> make) {
  add(op_node_key(cls), [make](const LayerSpec& spec) {
    Config c(spec);
    return std::make_shared<OpNode>(make(c));
  });
}

}  // namespace op_nodes
}  // namespace kerasrt::layers
