// Tensors made while a model loads live in that load's arena (src/api/tensor_arena.hpp); copies
// made elsewhere, and every tensor made outside a load, live on the heap.
#include "api/tensor_arena.hpp"

#include <thread>

#include "harness.hpp"

namespace kerasrt::testing {
namespace {

TEST(TensorArena, TensorsMadeInScopeShareOneBlockAndOutliveTheScope) {
  Tensor outside({3});
  Tensor a, b;
  {
    detail::ScopedTensorArena scope;
    a = Tensor({1000}, std::vector<float>(1000, 1.5f));
    b = Tensor({7}, DType::kInt32);
    // Bump allocation: b follows a in one block, 64-byte aligned.
    auto pa = reinterpret_cast<uintptr_t>(a.raw()), pb = reinterpret_cast<uintptr_t>(b.raw());
    EXPECT_EQ(pa % 64, 0u);
    EXPECT_EQ(pb - pa, 4032u);  // 1000 floats in 8-byte words, rounded up to 64 bytes
    Tensor copy = a;            // made in scope: in the arena as well
    EXPECT_EQ(reinterpret_cast<uintptr_t>(copy.raw()), pb + 64);
  }
  for (float v : a.floats()) ASSERT_EQ(v, 1.5f);  // still there after the scope: the tensors keep the arena
  EXPECT_EQ(b.values<int32_t>()[6], 0);
  Tensor later = a;  // outside any load: on the heap
  auto pa = reinterpret_cast<uintptr_t>(a.raw()), pl = reinterpret_cast<uintptr_t>(later.raw());
  EXPECT_TRUE(pl < pa || pl >= pa + (size_t{64} << 10));
  EXPECT_EQ(later.floats()[999], 1.5f);
}

TEST(TensorArena, ScopesNestAndStayOnTheirThread) {
  EXPECT_EQ(detail::current_tensor_arena(), nullptr);
  {
    detail::ScopedTensorArena outer;
    auto first = detail::current_tensor_arena();
    ASSERT_NE(first, nullptr);
    {
      detail::ScopedTensorArena inner;
      EXPECT_NE(detail::current_tensor_arena(), first);
    }
    EXPECT_EQ(detail::current_tensor_arena(), first);
    std::thread([] { EXPECT_EQ(detail::current_tensor_arena(), nullptr); }).join();
  }
  EXPECT_EQ(detail::current_tensor_arena(), nullptr);
}

// Blocks start small (a small model takes little) and double; a tensor larger than the next block
// gets one of its own size.
TEST(TensorArena, BlocksGrowWithTheModel) {
  detail::TensorArena arena;
  arena.allocate(100);
  EXPECT_EQ(arena.reserved(), size_t{64} << 10);
  arena.allocate(size_t{64} << 10);  // does not fit the rest of the first block
  EXPECT_EQ(arena.reserved(), size_t{128} << 10);
  arena.allocate(size_t{100} << 10);  // a third block, as large as both before it
  EXPECT_EQ(arena.reserved(), size_t{256} << 10);
  arena.allocate(size_t{40} << 20);
  EXPECT_EQ(arena.reserved(), (size_t{256} << 10) + (size_t{40} << 20));
}

// A model's weights come from its load's arena and stay valid as long as the model does.
TEST(TensorArena, ModelsOutliveTheirLoads) {
  std::vector<Model> models;
  for (int i = 0; i < 3; ++i) models.push_back(Model::load(std::string(KERASRT_SOURCE_DIR) + "/examples/digits_cnn.keras"));
  EXPECT_EQ(detail::current_tensor_arena(), nullptr);
  Tensor x({1, 8, 8, 1}, std::vector<float>(64, 0.25f));
  auto first = models[0].predict({{"digits", x}}).at("probs");
  models.erase(models.begin());
  for (const Model& m : models) {
    auto out = m.predict({{"digits", x}}).at("probs");
    for (int64_t k = 0; k < 10; ++k) EXPECT_EQ(out.floats()[k], first.floats()[k]);
  }
}

}  // namespace
}  // namespace kerasrt::testing
