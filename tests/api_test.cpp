// The public API on the bundled example (examples/digits_cnn.*, no corpus needed): loading from
// paths and buffers, named and positional predict, layer outputs by name, any batch size,
// concurrent predict, the summary, and input checks.
#include <thread>

#include "harness.hpp"
#include "io/npy.hpp"

namespace kerasrt::testing {
namespace {

std::string example(const std::string& file) { return std::string(KERASRT_SOURCE_DIR) + "/examples/" + file; }

Tensor example_array(const std::string& file) { return io::read_npz(example(file)).at(0).second.tensor; }

Tensor rows(const Tensor& t, int64_t begin, int64_t end) {
  int64_t per = t.size() / t.shape[0];
  Shape s = t.shape;
  s[0] = end - begin;
  return Tensor(s, std::vector<float>(t.floats().begin() + begin * per, t.floats().begin() + end * per));
}

TEST(Api, DigitsExampleMatchesKerasAndLabels) {
  Model m = Model::load(example("digits_cnn.keras"));
  ASSERT_EQ(m.inputs().size(), 1u);
  EXPECT_EQ(m.inputs()[0].name, "digits");
  EXPECT_EQ(m.inputs()[0].shape, (Shape{-1, 8, 8, 1}));
  ASSERT_EQ(m.outputs().size(), 1u);
  EXPECT_EQ(m.outputs()[0].name, "probs");
  EXPECT_EQ(m.outputs()[0].shape, (Shape{-1, 10}));

  Tensor x = example_array("digits_cnn.inputs.npz");
  auto out = m.predict({{"digits", x}});
  Tensor ref = example_array("digits_cnn.outputs.npz");
  EXPECT_EQ(compare(ref, out.at("probs"), 1e-4, 1e-4), "");

  Tensor labels = example_array("digits_cnn.labels.npz");
  int correct = 0;
  for (int64_t i = 0; i < labels.size(); ++i) {
    const float* p = out.at("probs").floats().data() + i * 10;
    correct += (std::max_element(p, p + 10) - p) == static_cast<int64_t>(labels.to_floats()[i]);
  }
  EXPECT_EQ(correct, labels.size());
}

TEST(Api, BufferLoadEqualsPathLoad) {
  auto bytes = io::read_file(example("digits_cnn.keras"), 1 << 26);
  Model a = Model::load(example("digits_cnn.keras"));
  Model b = Model::load_keras(bytes, "digits_cnn.keras");
  Tensor x = rows(example_array("digits_cnn.inputs.npz"), 0, 5);
  EXPECT_EQ(a.predict({x})[0].to_floats(), b.predict({x})[0].to_floats());
}

TEST(Api, LayerOutputsByNameAndAnyBatchSize) {
  Model m = Model::load(example("digits_cnn.keras"));
  Tensor x = example_array("digits_cnn.inputs.npz");
  auto full = m.predict({{"digits", x}}, {"conv1"});
  ASSERT_TRUE(full.count("conv1"));
  EXPECT_EQ(full.at("conv1").shape, (Shape{297, 8, 8, 16}));
  auto one = m.predict({rows(x, 7, 8)});
  EXPECT_EQ(compare(rows(full.at("probs"), 7, 8), one[0], 1e-6, 1e-6), "");
  EXPECT_THROW(m.predict({{"digits", x}}, {"no_such_layer"}), Error);
}

TEST(Api, ConcurrentPredictGivesSameResults) {
  Model m = Model::load(example("digits_cnn.keras"));
  Tensor x = example_array("digits_cnn.inputs.npz");
  Tensor expected = m.predict({x})[0];
  std::vector<std::string> problems(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 5; ++rep) {
        int64_t begin = (t * 37 + rep * 11) % 250, end = begin + 1 + (t + rep) % 40;
        Tensor got = m.predict({rows(x, begin, end)})[0];
        std::string d = compare(rows(expected, begin, end), got, 1e-6, 1e-6);
        if (!d.empty()) problems[t] = d;
      }
    });
  for (auto& th : threads) th.join();
  for (const auto& p : problems) EXPECT_EQ(p, "");
}

TEST(Api, SummaryListsLayersAndParams) {
  Model m = Model::load(example("digits_cnn.keras"));
  std::string s = m.summary();
  for (const char* name : {"digits", "conv1", "probs", "Total params"}) EXPECT_NE(s.find(name), std::string::npos) << s;
  int64_t total = 0;
  for (const auto& l : m.layers()) total += l.params;
  // conv1 3*3*1*16+16, conv2 3*3*16*32+32, bn 4*16, dense 32*10+10 (see the example's config)
  EXPECT_EQ(total, 160 + 4640 + 64 + 330);
}

TEST(Api, RejectsBadInputs) {
  Model m = Model::load(example("digits_cnn.keras"));
  EXPECT_THROW(m.predict({{"digits", Tensor({2, 8, 8, 2})}}), Error);
  EXPECT_THROW(m.predict({{"other", Tensor({2, 8, 8, 1})}}), Error);
  EXPECT_THROW(m.predict(std::vector<Tensor>{}), Error);
  Tensor short_data({1, 8, 8, 1});
  short_data.shape = {2, 8, 8, 1};  // a shape that claims more values than the tensor holds
  EXPECT_THROW(m.predict({short_data}), Error);

}

}  // namespace
}  // namespace kerasrt::testing
