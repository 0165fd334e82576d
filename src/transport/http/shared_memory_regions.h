// KServe's system shared memory extension: POSIX shared memory objects that a client on this host made and
// registered by name, so that tensors reach the server and come back without crossing the HTTP connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "transport/http/kserve_request.h"

namespace edgeserve::transport::http {

struct SharedMemoryRegionStatus {
  std::string name;
  std::string key;
  uint64_t offset = 0;
  uint64_t byte_size = 0;
};

// One registered region: the object `key` mapped from its start through offset + byte_size (mmap's offset must
// be page-aligned; a region's need not be). Unmapped when the last holder lets go, so a request in flight keeps
// the region it reads or writes even when a client unregisters it meanwhile.
class MappedRegion {
 public:
  MappedRegion(SharedMemoryRegionStatus status, std::byte* base, size_t mapped);
  ~MappedRegion();
  MappedRegion(const MappedRegion&) = delete;
  MappedRegion& operator=(const MappedRegion&) = delete;

  const SharedMemoryRegionStatus& status() const { return status_; }
  std::span<std::byte> bytes() const { return {base_ + status_.offset, status_.byte_size}; }

 private:
  SharedMemoryRegionStatus status_;
  std::byte* base_;
  size_t mapped_;
};

// A tensor's bytes inside a region, with the region held for as long as the view is.
struct SharedMemoryView {
  std::shared_ptr<const MappedRegion> region;
  std::span<std::byte> bytes;
};

class SharedMemoryRegions {
 public:
  // Registration is open to every client of the port (as Triton's is), so its count is bounded.
  static constexpr size_t kMaxRegions = 256;

  // kInvalidArgument: the name is taken or empty, `key` names no shared memory object this process may open
  // read-write, offset + byte_size is past the object's end, or kMaxRegions are registered.
  core::Status add(const std::string& name, const std::string& key, uint64_t offset, uint64_t byte_size);
  // An empty name removes every region; kInvalidArgument for a name not registered.
  core::Status remove(const std::string& name);
  // Every region, or the one named (kInvalidArgument when it is not registered).
  core::Result<std::vector<SharedMemoryRegionStatus>> status(const std::string& name) const;
  // kInvalidArgument when the region is not registered or [offset, offset + byte_size) is not inside it.
  core::Result<SharedMemoryView> view(const SharedMemoryAsk& ref) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const MappedRegion>> regions_;
};

}  // namespace edgeserve::transport::http
