// The allocator a result records is the one whose malloc this process calls: the test binaries are not linked
// with tcmalloc, so they run on glibc's malloc, or on a sanitizer's, which replaces it.
#include "core/allocator_info.h"

#include <gtest/gtest.h>

namespace edgeserve::core {
namespace {

TEST(AllocatorInfo, NamesTheMallocThisProcessCalls) {
  const std::string name = allocator_name();
#if defined(__SANITIZE_ADDRESS__)
  EXPECT_EQ(name, "AddressSanitizer");
#elif defined(__SANITIZE_THREAD__)
  EXPECT_EQ(name, "ThreadSanitizer");
#else
  EXPECT_EQ(name.rfind("glibc 2.", 0), 0u) << name;
  EXPECT_NE(name.find(" malloc"), std::string::npos) << name;
#endif
}

}  // namespace
}  // namespace edgeserve::core
