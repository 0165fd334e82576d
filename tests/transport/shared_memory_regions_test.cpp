// KServe's shared memory regions without a client: system and CUDA regions share one set of names, and unregister
// and status act on one kind only. (The infer paths through them are tested with tritonclient.)
#include "transport/http/shared_memory_regions.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace edgeserve::transport::http {
namespace {

using core::StatusCode;

// A POSIX shared memory object of `bytes`, removed at the end of the test.
class ShmObject {
 public:
  explicit ShmObject(size_t bytes) : key_("/edgeserve_regions_test_" + std::to_string(::getpid())) {
    const int fd = ::shm_open(key_.c_str(), O_CREAT | O_RDWR, 0600);
    ok_ = fd >= 0 && ::ftruncate(fd, static_cast<off_t>(bytes)) == 0;
    if (fd >= 0) ::close(fd);
  }
  ~ShmObject() { ::shm_unlink(key_.c_str()); }
  const std::string& key() const { return key_; }
  bool ok() const { return ok_; }

 private:
  std::string key_;
  bool ok_ = false;
};

TEST(SharedMemoryRegions, SystemAndCudaRegionsShareNamesButNotStatusOrUnregister) {
  ShmObject object(4096);
  ASSERT_TRUE(object.ok());
  SharedMemoryRegions regions;
  ASSERT_TRUE(regions.add("frames", object.key(), 0, 4096).ok());

  const std::vector<std::byte> handle(64);
  const auto taken = regions.add_cuda("frames", handle, 0, 64);
  EXPECT_EQ(taken.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(taken.message().find("already registered"), std::string::npos) << taken.to_string();

  const auto cuda = regions.status("", RegionKind::kCuda);
  ASSERT_TRUE(cuda.ok());
  EXPECT_TRUE(cuda->empty()) << "a system region listed as a CUDA one";
  const auto named = regions.status("frames", RegionKind::kCuda);
  EXPECT_EQ(named.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(named.status().message().find("no CUDA shared memory region 'frames'"), std::string::npos);

  const auto wrong_kind = regions.remove("frames", RegionKind::kCuda);
  EXPECT_EQ(wrong_kind.code(), StatusCode::kInvalidArgument) << "a CUDA unregister removed a system region";
  ASSERT_TRUE(regions.remove("", RegionKind::kCuda).ok());  // every CUDA region: none, and the system one stays
  const auto system = regions.status("", RegionKind::kSystem);
  ASSERT_TRUE(system.ok());
  ASSERT_EQ(system->size(), 1u);
  EXPECT_EQ(system->front().name, "frames");
  EXPECT_TRUE(regions.remove("frames", RegionKind::kSystem).ok());
}

TEST(SharedMemoryRegions, ACudaHandleThatIsNot64BytesIsRefusedSayingSo) {
  SharedMemoryRegions regions;
  const std::vector<std::byte> handle(8);
  const auto refused = regions.add_cuda("c", handle, 0, 64);
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  // A build without the CUDA runtime says that instead; either way the message names the region.
  EXPECT_NE(refused.message().find("'c'"), std::string::npos) << refused.to_string();
  if (cuda_regions_supported()) {
    EXPECT_NE(refused.message().find("64 bytes"), std::string::npos) << refused.to_string();
  }
}

TEST(SharedMemoryRegions, AViewReadsAndWritesTheRangeItNames) {
  ShmObject object(4096);
  ASSERT_TRUE(object.ok());
  SharedMemoryRegions regions;
  ASSERT_TRUE(regions.add("r", object.key(), 1024, 2048).ok());
  const std::vector<std::byte> bytes{std::byte{1}, std::byte{2}, std::byte{3}};
  auto view = regions.view({"r", 100, 3});
  ASSERT_TRUE(view.ok()) << view.status().to_string();
  ASSERT_TRUE(view->write(bytes).ok());
  auto wider = regions.view({"r", 99, 5});
  ASSERT_TRUE(wider.ok());
  std::vector<std::byte> around(5);
  ASSERT_TRUE(wider->read(around).ok());
  EXPECT_EQ(around, (std::vector<std::byte>{std::byte{0}, std::byte{1}, std::byte{2}, std::byte{3}, std::byte{0}}));
  EXPECT_EQ(regions.view({"r", 2046, 3}).status().code(), StatusCode::kInvalidArgument) << "past the region's end";
}

}  // namespace
}  // namespace edgeserve::transport::http
