// Reply block pools: blocks made once and lent; a dry pool allocates instead of blocking; leases go back from
// any thread and keep the pool's memory alive after the pool object is gone.
#include "core/buffer_pool.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace edgeserve::core {
namespace {

std::shared_ptr<BufferPool> make_pool(size_t block_bytes, size_t count) {
  auto pool = BufferPool::create("test blocks", block_bytes, count, nullptr);
  EXPECT_TRUE(pool.ok()) << pool.status().to_string();
  return pool.value();
}

TEST(BufferPool, LendsItsBlocksAndTakesThemBack) {
  auto pool = make_pool(1 << 20, 2);
  auto a = pool->take(100);
  auto b = pool->take(1 << 20);
  EXPECT_EQ(a->bytes().size(), 100u);
  EXPECT_EQ(b->bytes().size(), 1u << 20);
  EXPECT_NE(a->bytes().data(), b->bytes().data());
  EXPECT_EQ(pool->available(), 0u);
  std::byte* first = a->bytes().data();
  a.reset();
  EXPECT_EQ(pool->available(), 1u);
  auto again = pool->take(10);
  EXPECT_EQ(again->bytes().data(), first) << "the block given back is lent again";
  EXPECT_EQ(pool->fallbacks(), 0u);
}

TEST(BufferPool, ADryPoolAllocatesInsteadOfBlocking) {
  auto pool = make_pool(4096, 1);
  auto held = pool->take(4096);
  auto spare = pool->take(4096);  // would deadlock if it waited for `held`
  ASSERT_NE(spare, nullptr);
  EXPECT_EQ(spare->bytes().size(), 4096u);
  auto big = pool->take(8192);  // larger than a block
  EXPECT_EQ(big->bytes().size(), 8192u);
  EXPECT_EQ(pool->fallbacks(), 2u);
  spare.reset();
  big.reset();
  EXPECT_EQ(pool->available(), 0u) << "allocated memory is freed, not added to the pool";
}

TEST(BufferPool, LeasesGoBackFromOtherThreadsAndOutliveThePool) {
  auto pool = make_pool(4096, 8);
  std::vector<std::unique_ptr<MemoryBuffer>> leases;
  for (int i = 0; i < 8; ++i) leases.push_back(pool->take(4096));
  std::vector<std::jthread> threads;
  for (auto& lease : leases) threads.emplace_back([l = std::move(lease)]() mutable { l.reset(); });
  threads.clear();  // joins
  EXPECT_EQ(pool->available(), 8u);
  auto survivor = pool->take(16);
  pool.reset();
  survivor->bytes()[15] = std::byte{7};  // still valid memory (ASan would say otherwise)
  survivor.reset();
}

}  // namespace
}  // namespace edgeserve::core
