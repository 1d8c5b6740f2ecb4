// The op nodes' shared parts (op_nodes.hpp), and the Masking layer, whose mask reaches later layers
// through NotEqual/Any op nodes.
#include "layers/op_nodes.hpp"

#include <algorithm>

namespace kerasrt::layers {
namespace op_nodes {

int64_t product_or_unknown(std::span<const int64_t> dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) return -1;
    n *= d;
  }
  return n;
}

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

std::vector<int> axes_in(const std::vector<int64_t>& axes, size_t rank) {
  std::vector<int> out;
  for (int64_t a : axes) out.push_back(axis_in(a, rank));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) throw Error("repeated axis in " + shape_to_string(axes));
  return out;
}

std::optional<std::vector<int64_t>> optional_axes(const Config& c, const char* key) {
  if (!c.has(key)) return std::nullopt;
  const Json& v = c.raw(key);
  if (v.is_number_integer()) return std::vector<int64_t>{v.get<int64_t>()};
  return c.int_list(key);
}

std::string dtype_name(const Config& c, const char* key) {
  const Json& v = c.raw(key);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("config") && v["config"].is_object() && v["config"].contains("name") &&
      v["config"]["name"].is_string())
    return v["config"]["name"].get<std::string>();
  c.fail(std::string("'") + key + "' should be a dtype name, got " + v.dump());
}

void add_op(const AddLayer& add, const std::string& cls, std::function<Binder(const Config&)> make) {
  add(op_node_key(cls), [make](const LayerSpec& spec) {
    Config c(spec);
    return std::make_shared<OpNode>(make(c));
  });
}

}  // namespace op_nodes

namespace {

// Zeroes every timestep (last-axis vector) whose values all equal mask_value; the mask itself
// reaches later layers through separate NotEqual/Any nodes.
class Masking : public ElementwiseOp {
 public:
  explicit Masking(const LayerSpec& spec) {
    Config c(spec);
    if (c.has("mask_value") && !c.raw("mask_value").is_number())
      c.fail("'mask_value' should be a number, got " + c.raw("mask_value").dump().substr(0, 200));
    mask_value_ = static_cast<float>(c.number("mask_value", 0.0));
  }
  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, 1, "Masking");
    if (in[0].empty()) throw Error("Masking needs an input of rank 1 or more");
    return {in[0]};
  }
  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    int64_t len = in[0].shape.back();
    if (len == 0) return;
    int64_t rows = in[0].size() / len;
    for (int64_t r = 0; r < rows; ++r) {
      const float* x = in[0].data + r * len;
      bool keep = std::any_of(x, x + len, [this](float v) { return v != mask_value_; });
      if (keep)
        std::copy(x, x + len, out[0].data + r * len);
      else
        std::fill(out[0].data + r * len, out[0].data + (r + 1) * len, 0.f);
    }
  }

 private:
  float mask_value_ = 0.f;
};

}  // namespace

void register_op_nodes(const AddLayer& add) {
  add("Masking", [](const LayerSpec& s) { return std::make_shared<Masking>(s); });
}

}  // namespace kerasrt::layers
