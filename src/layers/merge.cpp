// Merge layer Dot (the element-wise merges and Concatenate are typed: format/keras/merge.cpp, concat.cpp). It
// takes its tensors as positional inputs.
#include <algorithm>
#include <cmath>

#include "layers/common.hpp"
#include "layers/matmul.hpp"
#include "layers/registry.hpp"

namespace kerasrt::layers {
namespace {

// ---- Dot --------------------------------------------------------------------------------------
// Keras's batch_dot: for each batch item, contracts x's axis a0 with y's axis a1; the output
// holds x's remaining axes, then y's remaining axes, with a trailing 1 when nothing remains.
// normalize=True first l2-normalizes each input along its contracted axis.
class Dot : public Op {
 public:
  explicit Dot(const LayerSpec& spec) {
    Config c(spec);
    const Json& axes = c.raw("axes");
    if (axes.is_number_integer()) {
      axes_ = {axes.get<int64_t>(), axes.get<int64_t>()};
    } else {
      axes_ = c.int_list("axes");
      if (axes_.size() != 2) c.fail("'axes' should be an integer or a pair, got " + axes.dump());
    }
    normalize_ = c.flag("normalize", false);
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, 2, "Dot");
    const Shape &x = in[0], &y = in[1];
    if (x.size() < 2 || y.size() < 2)
      throw Error("Dot needs inputs of rank >= 2, got " + shape_to_string(x) + " and " + shape_to_string(y));
    auto [a0, a1] = resolve(x.size(), y.size());
    if (!dims_agree(x[0], y[0]))
      throw Error("Dot inputs have different batch sizes: " + shape_to_string(x) + " and " + shape_to_string(y));
    if (!dims_agree(x[a0], y[a1]))
      throw Error("Dot: axis " + std::to_string(a0) + " of " + shape_to_string(x) + " does not match axis " +
                  std::to_string(a1) + " of " + shape_to_string(y));
    Shape out{x[0] >= 0 ? x[0] : y[0]};
    for (size_t a = 1; a < x.size(); ++a)
      if (static_cast<int>(a) != a0) out.push_back(x[a]);
    for (size_t a = 1; a < y.size(); ++a)
      if (static_cast<int>(a) != a1) out.push_back(y[a]);
    if (out.size() == 1) out.push_back(1);
    return {out};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    const ConstView &x = in[0], &y = in[1];
    auto [a0, a1] = resolve(x.shape.size(), y.shape.size());
    const int64_t batch = x.shape[0], depth = x.shape[a0];
    // Per batch item, x is (pre_x, depth, post_x) around a0 and y is (pre_y, depth, post_y).
    const int64_t pre_x = element_count(x.shape.subspan(1, a0 - 1)), post_x = element_count(x.shape.subspan(a0 + 1));
    const int64_t pre_y = element_count(y.shape.subspan(1, a1 - 1)), post_y = element_count(y.shape.subspan(a1 + 1));
    const int64_t rest_x = pre_x * post_x, rest_y = pre_y * post_y;
    const int64_t item_x = rest_x * depth, item_y = rest_y * depth;
    std::vector<float> xs(static_cast<size_t>(item_x)), ys(static_cast<size_t>(item_y));  // (rest, depth) rows
    for (int64_t b = 0; b < batch; ++b) {
      gather_rows(x.data + b * item_x, pre_x, depth, post_x, xs.data());
      gather_rows(y.data + b * item_y, pre_y, depth, post_y, ys.data());
      if (normalize_) {
        l2_normalize_rows(xs.data(), rest_x, depth);
        l2_normalize_rows(ys.data(), rest_y, depth);
      }
      // o (rest_x, rest_y) = xs · ys^T, summed in float from zero
      float* o = out[0].data + b * rest_x * rest_y;
      std::fill(o, o + rest_x * rest_y, 0.f);
      matmul(1, rest_x, depth, rest_y, row_major(xs.data(), depth), transposed(ys.data(), depth), row_major(o, rest_y),
             MatmulSum::kFloatOntoC);
    }
  }

 private:
  std::pair<int, int> resolve(size_t rank_x, size_t rank_y) const {
    int a0 = normalize_axis(axes_[0], rank_x, "Dot: "), a1 = normalize_axis(axes_[1], rank_y, "Dot: ");
    if (a0 == 0 || a1 == 0) throw Error("Dot cannot contract the batch axis (axes " + shape_to_string(axes_) + ")");
    return {a0, a1};
  }

  // (pre, depth, post) -> rows of `depth` values, one per (pre, post) pair in that order.
  static void gather_rows(const float* src, int64_t pre, int64_t depth, int64_t post, float* rows) {
    for (int64_t p = 0; p < pre; ++p)
      for (int64_t q = 0; q < post; ++q)
        for (int64_t k = 0; k < depth; ++k) rows[(p * post + q) * depth + k] = src[(p * depth + k) * post + q];
  }

  // x * rsqrt(max(sum(x^2), epsilon^2)) with Keras's default epsilon 1e-7.
  static void l2_normalize_rows(float* rows, int64_t count, int64_t depth) {
    constexpr double kEpsilon = 1e-7;
    for (int64_t r = 0; r < count; ++r) {
      float* row = rows + r * depth;
      double sq = 0;
      for (int64_t k = 0; k < depth; ++k) sq += static_cast<double>(row[k]) * row[k];
      const double inv = 1.0 / std::sqrt(std::max(sq, kEpsilon * kEpsilon));
      for (int64_t k = 0; k < depth; ++k) row[k] = static_cast<float>(row[k] * inv);
    }
  }

  std::vector<int64_t> axes_;
  bool normalize_ = false;
};

}  // namespace

void register_merge(const AddLayer& add) {
  add("Dot", [](const LayerSpec& s) { return std::make_shared<Dot>(s); });
}

}  // namespace kerasrt::layers
