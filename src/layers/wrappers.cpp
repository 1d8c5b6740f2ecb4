// TimeDistributed over a layer that has no typed form yet (format/keras/wrappers.cpp types it over
// typed layers; Bidirectional is typed there).
#include "layers/common.hpp"
#include "layers/registry.hpp"

namespace kerasrt::layers {
namespace {

// ---- TimeDistributed ------------------------------------------------------------------------------
// (batch, time, ...) is (batch*time, ...) in memory, so the inner layer runs on the same buffers.
class TimeDistributed : public Op {
 public:
  explicit TimeDistributed(const LayerSpec& spec) {
    Config c(spec);
    const Json& layer = c.raw("layer");
    if (!layer.is_object()) c.fail("'layer' should be a serialized layer");
    inner_ = spec.make_sublayer(layer);
  }

  // A mask only reaches layers that take one; the per-step layers Keras allows here ignore it.
  std::shared_ptr<const Op> bind(const Call& call) const override {
    int data = -1;
    for (size_t i = 0; i < call.roles.size(); ++i) {
      const std::string& r = call.roles[i];
      if (r.empty() && data < 0) data = static_cast<int>(i);
      else if (r != "mask") throw Error(call.where + ": TimeDistributed takes one input tensor (and an optional mask)");
    }
    if (data < 0) throw Error(call.where + ": TimeDistributed was called without an input");
    Call c;
    c.where = call.where;
    c.roles = {""};
    c.args = Json::array({tensor_placeholder(0)});
    auto bound = std::make_shared<TimeDistributed>(*this);
    bound->inner_ = inner_->bind(c);
    bound->data_ = data;
    bound->n_inputs_ = call.roles.size();
    return bound;
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, n_inputs_, "TimeDistributed");
    const Shape& s = in[data_];
    if (s.size() < 3)
      throw Error("TimeDistributed expects an input of rank 3 or more (batch, time, ...), got " + shape_to_string(s));
    std::vector<Shape> inner_out = inner_->output_shapes(std::vector<Shape>{step_shape(s)});
    if (inner_out.size() != 1 || inner_out[0].empty())
      throw Error("TimeDistributed supports wrapped layers with one batched output");
    Shape out{s[0], s[1]};
    out.insert(out.end(), inner_out[0].begin() + 1, inner_out[0].end());
    return {out};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    const Shape x_shape = step_shape(Shape(in[data_].shape.begin(), in[data_].shape.end()));
    Shape y_shape{x_shape[0]};
    y_shape.insert(y_shape.end(), out[0].shape.begin() + 2, out[0].shape.end());
    const ConstView x{in[data_].data, x_shape};
    const MutView y{out[0].data, y_shape};
    inner_->run(std::span(&x, 1), std::span(&y, 1));
  }

  int64_t param_count() const override { return inner_->param_count(); }

 private:
  static Shape step_shape(const Shape& s) {
    Shape step{s[0] < 0 || s[1] < 0 ? -1 : s[0] * s[1]};
    step.insert(step.end(), s.begin() + 2, s.end());
    return step;
  }

  std::shared_ptr<const Op> inner_;
  int data_ = 0;
  size_t n_inputs_ = 1;
};

}  // namespace

void register_wrappers(const AddLayer& add) {
  add("TimeDistributed", [](const LayerSpec& s) { return std::make_shared<TimeDistributed>(s); });
}

}  // namespace kerasrt::layers
