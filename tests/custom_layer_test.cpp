// The custom-layer registration API on the corpus case `custom_layer`, whose ScaledDense class
// (registered as "KerasRef>ScaledDense") exists only in its author's Python: y = scale * (x . kernel).
#include "harness.hpp"
#include "io/npy.hpp"

namespace kerasrt::testing {
namespace {

class ScaledDense : public Op {
 public:
  explicit ScaledDense(const LayerSpec& spec) {
    units_ = spec.config.at("units").get<int64_t>();
    scale_ = spec.config.at("scale").get<float>();
    const Weights::Entry* k = spec.weights.peek();
    if (!k || k->shape.size() != 2) spec.fail("missing kernel");
    in_ = k->shape[0];
    kernel_ = spec.weights.take("kernel", {in_, units_});
  }
  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    return {{in[0][0], units_}};
  }
  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    for (int64_t b = 0; b < in[0].shape[0]; ++b)
      for (int64_t u = 0; u < units_; ++u) {
        float acc = 0;
        for (int64_t k = 0; k < in_; ++k) acc += in[0].data[b * in_ + k] * kernel_[k * units_ + u];
        out[0].data[b * units_ + u] = scale_ * acc;
      }
  }
  int64_t param_count() const override { return static_cast<int64_t>(kernel_.size()); }

 private:
  int64_t in_ = 0, units_ = 0;
  float scale_ = 1;
  std::vector<float> kernel_;
};

class CustomLayer : public ::testing::Test {
 protected:
  void SetUp() override {
    register_layer("KerasRef>ScaledDense", [](const LayerSpec& s) { return std::make_shared<ScaledDense>(s); });
  }
  void TearDown() override { unregister_layer("KerasRef>ScaledDense"); }
};

TEST_F(CustomLayer, RegisteredClassRunsInEveryForm) {
  KERASRT_REQUIRE_CORPUS();
  auto dir = corpus_dir();
  std::map<std::string, Tensor> inputs;
  for (auto& [k, a] : io::read_npz((dir / "custom_layer.inputs.npz").string())) inputs[k] = a.tensor;
  auto ref = io::read_npz((dir / "custom_layer.outputs.npz").string());
  ASSERT_EQ(ref.size(), 1u);
  std::vector<Model> forms = {Model::load((dir / "custom_layer.keras").string()),
                              Model::load((dir / "custom_layer.h5").string()),
                              Model::load((dir / "custom_layer.config.json").string(),
                                          (dir / "custom_layer.weights.h5").string())};
  for (const Model& m : forms) {
    auto out = m.predict(inputs);
    ASSERT_TRUE(out.count(ref[0].first));
    EXPECT_EQ(compare(ref[0].second.tensor, out[ref[0].first], 1e-4, 1e-4), "");
  }
}

TEST_F(CustomLayer, UnregisteredClassIsRefusedWithHowTo) {
  KERASRT_REQUIRE_CORPUS();
  unregister_layer("KerasRef>ScaledDense");
  try {
    Model::load((corpus_dir() / "custom_layer.keras").string());
    FAIL() << "loaded without the custom class";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("ScaledDense"), std::string::npos) << msg;
    EXPECT_NE(msg.find("KerasRef>ScaledDense"), std::string::npos) << msg;
    EXPECT_NE(msg.find("register_layer"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace kerasrt::testing
