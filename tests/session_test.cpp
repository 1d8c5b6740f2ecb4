// Sessions: a model bound to input shapes, running into caller-owned buffers; the plan's arena;
// no heap allocation in a warmed-up call.
#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "io/npy.hpp"
#include "support/alloc_counter.hpp"

namespace kerasrt::testing {
namespace {

std::string example(const std::string& file) { return std::string(KERASRT_SOURCE_DIR) + "/examples/" + file; }

std::map<std::string, Tensor> corpus_inputs(const std::string& name) {
  std::map<std::string, Tensor> in;
  for (auto& [k, a] : io::read_npz((corpus_dir() / (name + ".inputs.npz")).string())) in[k] = a.tensor;
  return in;
}

TEST(Session, WritesIntoCallerBuffersAndMatchesPredict) {
  Model m = Model::load(example("digits_cnn.keras"));
  Tensor x = io::read_npz(example("digits_cnn.inputs.npz")).at(0).second.tensor;
  Session s = m.session({x.shape}, {"conv1"});
  ASSERT_EQ(s.outputs().size(), 2u);
  EXPECT_EQ(s.outputs()[0].name, "probs");
  EXPECT_EQ(s.outputs()[1].name, "conv1");
  Tensor probs(s.outputs()[0].shape), conv1(s.outputs()[1].shape);
  ConstTensorView in[] = {x.view()};
  TensorView out[] = {probs.view(), conv1.view()};
  s.run(in, out);
  auto want = m.predict({{"digits", x}}, {"conv1"});
  EXPECT_EQ(probs.to_floats(), want.at("probs").to_floats());
  EXPECT_EQ(conv1.to_floats(), want.at("conv1").to_floats());
  EXPECT_GT(s.arena_bytes(), 0u);
}

// The bundled digits CNN (Rescaling, Conv2D, BatchNormalization, pooling, Dropout, Dense) runs on
// typed kernels only: a warm call makes no heap allocation.
TEST(Session, DigitsCnnWarmCallAllocatesNothing) {
  Model m = Model::load(example("digits_cnn.keras"));
  Tensor x = io::read_npz(example("digits_cnn.inputs.npz")).at(0).second.tensor;
  Session s = m.session({x.shape});
  Tensor probs(s.outputs()[0].shape);
  ConstTensorView in[] = {x.view()};
  TensorView out[] = {probs.view()};
  s.run(in, out);
  long before = heap_allocations();
  for (int i = 0; i < 5; ++i) s.run(in, out);
  EXPECT_EQ(heap_allocations() - before, 0);
}

// Profiling times every step of the plan under its layer's name, allocates nothing per call, and
// leaves the outputs as they were.
TEST(Session, ProfileTimesEveryStep) {
  Model m = Model::load(example("digits_cnn.keras"));
  Tensor x = io::read_npz(example("digits_cnn.inputs.npz")).at(0).second.tensor;
  Session s = m.session({x.shape});
  Tensor plain(s.outputs()[0].shape), profiled(s.outputs()[0].shape);
  ConstTensorView in[] = {x.view()};
  TensorView plain_out[] = {plain.view()}, profiled_out[] = {profiled.view()};
  s.run(in, plain_out);
  EXPECT_TRUE(s.profile().empty());  // off by default
  s.set_profiling(true);
  long before = heap_allocations();
  for (int i = 0; i < 3; ++i) s.run(in, profiled_out);
  EXPECT_EQ(heap_allocations() - before, 0);
  EXPECT_EQ(plain.to_floats(), profiled.to_floats());
  std::vector<StepTime> steps = s.profile();
  ASSERT_FALSE(steps.empty());
  double total = 0;
  bool saw_conv1 = false;
  for (const StepTime& t : steps) {
    EXPECT_GE(t.ms, 0.0);
    EXPECT_FALSE(t.op.empty());
    EXPECT_FALSE(t.kernel.empty());
    total += t.ms;
    if (t.layer == "conv1") {
      saw_conv1 = true;
      EXPECT_EQ(t.op, "conv");
    }
  }
  EXPECT_TRUE(saw_conv1);
  EXPECT_GT(total, 0.0);
  s.set_profiling(false);
  EXPECT_TRUE(s.profile().empty());
}

TEST(Session, RefusesOtherShapesAndDtypes) {
  Model m = Model::load(example("digits_cnn.keras"));
  Session s = m.session({{4, 8, 8, 1}});
  Tensor out(s.outputs()[0].shape);
  Tensor x5({5, 8, 8, 1}), x_int({4, 8, 8, 1}, DType::kInt32), x({4, 8, 8, 1});
  TensorView o[] = {out.view()};
  ConstTensorView wrong_shape[] = {x5.view()}, wrong_dtype[] = {x_int.view()}, right[] = {x.view()};
  EXPECT_THROW(s.run(wrong_shape, o), Error);
  EXPECT_THROW(s.run(wrong_dtype, o), Error);
  Tensor small_out({3, 10});
  TensorView wrong_out[] = {small_out.view()};
  EXPECT_THROW(s.run(right, wrong_out), Error);
  EXPECT_NO_THROW(s.run(right, o));
  EXPECT_THROW(m.session({{4, 8, 8, 2}}), Error);
}

// Models whose every node has a typed kernel: their calls must not touch the heap once warm.
// (Layers still running through a kerasrt::Op allocate inside their run(); each family joins this
// list as it moves to typed kernels.)
class ZeroAllocation : public ::testing::TestWithParam<std::string> {};

TEST_P(ZeroAllocation, WarmCallAllocatesNothing) {
  KERASRT_REQUIRE_CORPUS();
  for (int threads : {1, 2}) {
    Model m = Model::load((corpus_dir() / (GetParam() + ".keras")).string(), "", LoadOptions{threads});
    auto inputs = corpus_inputs(GetParam());
    std::vector<Tensor> ordered;
    std::vector<Shape> shapes;
    for (const auto& info : m.inputs()) {
      ordered.push_back(inputs.at(info.name).cast(info.dtype));
      shapes.push_back(ordered.back().shape);
    }
    Session s = m.session(shapes);
    std::vector<Tensor> outs;
    for (const auto& info : s.outputs()) outs.emplace_back(info.shape, info.dtype);
    std::vector<ConstTensorView> in;
    for (const Tensor& t : ordered) in.push_back(t.view());
    std::vector<TensorView> out;
    for (Tensor& t : outs) out.push_back(t.view());
    s.run(in, out);  // warm-up
    long before = heap_allocations();
    for (int i = 0; i < 3; ++i) s.run(in, out);
    EXPECT_EQ(heap_allocations() - before, 0) << GetParam() << " with " << threads << " thread(s)";
    auto want = m.predict(inputs);
    for (size_t i = 0; i < outs.size(); ++i)
      EXPECT_EQ(outs[i].to_floats(), want.at(s.outputs()[i].name).to_floats());
  }
}

INSTANTIATE_TEST_SUITE_P(Corpus, ZeroAllocation,
                         ::testing::Values("app_mobilenetv2_035_96", "activation_layers", "dense_act_softmax", "dense_act_gelu", "dense_act_log_softmax",
                                           "conv1d_causal", "conv2d_groups", "depthwise_conv2d", "separable_conv2d",
                                           "conv2d_transpose_same_stride2", "conv2d_channels_first",
                                           "batchnorm_dense", "dropout_noops", "flatten_channels_first", "maxpool2d_same",
                                           "gap1d_channels_first", "layernorm_axes12", "groupnorm", "repeat_vector",
                                           "spatial_dropout2d_3d",
                                           "ops_cast", "ops_where_clip", "ops_arith_scalar_broadcast", "ops_unary_math",
                                           "merge_average", "merge_add3",
                                           "lstm_last", "gru_reset_after", "gru_backwards", "lstm_return_state",
                                           "simplernn_last", "embedding_mask_lstm", "dialect_rnn_initial_state",
                                           "mha_self", "mha_cross", "group_query_attention",
                                           "group_query_attention_self_causal", "transformer_block",
                                           "concat_axis1", "ops_concat_stack", "softmax_layer_axis1", "ops_softmax_relu",
                                           "rescaling", "zeropad2d", "cropping2d_channels_first", "cropping3d",
                                           "upsampling2d_nearest", "upsampling3d",
                                           "ops_reductions", "ops_sequential_style_chain",
                                           "attention_dot", "attention_concat", "additive_attention", "dot_3d",
                                           "dot_normalize", "einsum_dense", "ops_einsum", "ternary_dense",
                                           "reversible_embedding_untied",
                                           "random_aug_stack", "random_color_stack", "normalization_fixed",
                                           "category_encoding_count", "discretization_one_hot", "resizing_bilinear",
                                           "center_crop", "clahe", "upsampling2d_bilinear",
                                           "equalization_pipeline_training", "mel_spectrogram", "stft_spectrogram_log",
                                           "bidirectional_lstm_concat", "bidirectional_lstm_ave", "bidirectional_lstm_None",
                                           "rnn_stacked_cells", "conv_lstm2d", "timedistributed_conv2d", "spectral_norm_dense",
                                           "prelu_shared_axes", "masking_lstm", "ops_slice_neg_step", "ops_expand_squeeze_transpose"));

// The planner reuses memory: DenseNet121's arena is a small part of all its intermediate values.
TEST(Session, ArenaReusesMemory) {
  KERASRT_REQUIRE_CORPUS();
  Model m = Model::load((corpus_dir() / "app_densenet121.keras").string());
  Session s = m.session({{1, 224, 224, 3}});
  auto ir = nlohmann::json::parse(m.ir_json({{1, 224, 224, 3}}));
  double all_values = 0;
  for (const auto& v : ir["values"]) {
    double n = 4;
    for (const auto& d : v["shape"]) n *= d.is_null() ? 1 : d.get<double>();
    all_values += n;
  }
  EXPECT_EQ(ir["arena_bytes"].get<size_t>(), s.arena_bytes());
  EXPECT_LT(static_cast<double>(s.arena_bytes()), 0.1 * all_values)
      << "arena " << s.arena_bytes() << " bytes for " << all_values << " bytes of values";
}

}  // namespace
}  // namespace kerasrt::testing
