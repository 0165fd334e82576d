// KServe's shared memory extensions: POSIX shared memory objects (system) and CUDA IPC allocations (cuda) that a
// client on this host made and registered by name, so that tensors reach the server and come back without crossing
// the connection. One set of names for both kinds, as Triton keeps.
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

enum class RegionKind { kSystem, kCuda };

struct SharedMemoryRegionStatus {
  std::string name;
  RegionKind kind = RegionKind::kSystem;
  std::string key;  // system: the shm object's name
  uint64_t offset = 0;
  uint64_t byte_size = 0;
  int64_t device_id = 0;  // cuda: the GPU the allocation is on
};

// One registered region. A request in flight holds the region it reads or writes, so a client that unregisters it
// meanwhile does not pull the memory from under the request; it is released when the last holder lets go.
class SharedRegion {
 public:
  explicit SharedRegion(SharedMemoryRegionStatus status) : status_(std::move(status)) {}
  virtual ~SharedRegion() = default;
  SharedRegion(const SharedRegion&) = delete;
  SharedRegion& operator=(const SharedRegion&) = delete;

  const SharedMemoryRegionStatus& status() const { return status_; }
  // Copies [offset, offset + dst.size()) of the region into `dst` (host memory; GPU memory too for a CUDA region);
  // the caller has checked the range.
  virtual core::Status read(uint64_t offset, std::span<std::byte> dst) const = 0;
  // Copies host `src` into the region at `offset`; the caller has checked the range.
  virtual core::Status write(uint64_t offset, std::span<const std::byte> src) const = 0;
  // The region's own memory when it is on GPU `device`, for the engine to read a tensor in place (a CUDA region on
  // the server's GPU); null otherwise.
  virtual std::byte* device_base(int /*device*/) const { return nullptr; }

 private:
  SharedMemoryRegionStatus status_;
};

// A system region: the object mapped from its start through offset + byte_size (mmap's offset must be
// page-aligned; a region's need not be).
class MappedRegion final : public SharedRegion {
 public:
  MappedRegion(SharedMemoryRegionStatus status, std::byte* base, size_t mapped);
  ~MappedRegion() override;
  core::Status read(uint64_t offset, std::span<std::byte> dst) const override;
  core::Status write(uint64_t offset, std::span<const std::byte> src) const override;

 private:
  std::byte* base_;
  size_t mapped_;
};

// A tensor's range inside a region, with the region held for as long as the view is.
struct SharedMemoryView {
  std::shared_ptr<const SharedRegion> region;
  uint64_t offset = 0;  // within the region
  uint64_t byte_size = 0;

  core::Status read(std::span<std::byte> dst) const { return region->read(offset, dst); }
  core::Status write(std::span<const std::byte> src) const { return region->write(offset, src); }
};

class SharedMemoryRegions {
 public:
  // Registration is open to every client of the port (as Triton's is), so its count is bounded.
  static constexpr size_t kMaxRegions = 256;

  // A system region. kInvalidArgument: the name is taken or empty, `key` names no shared memory object this
  // process may open read-write, offset + byte_size is past the object's end, or kMaxRegions are registered.
  core::Status add(const std::string& name, const std::string& key, uint64_t offset, uint64_t byte_size);
  // A CUDA region from a cudaIpcMemHandle_t's bytes. kInvalidArgument: as above, a handle that is not 64 bytes,
  // one CUDA cannot open (its reason), or a build without CUDA.
  core::Status add_cuda(const std::string& name, std::span<const std::byte> raw_handle, int64_t device_id,
                        uint64_t byte_size);
  // Removes the region of `kind` named, or every region of that kind for an empty name; kInvalidArgument for a
  // name not registered as that kind.
  core::Status remove(const std::string& name, RegionKind kind = RegionKind::kSystem);
  // Every region of `kind`, or the one named (kInvalidArgument when it is not registered as that kind).
  core::Result<std::vector<SharedMemoryRegionStatus>> status(const std::string& name,
                                                             RegionKind kind = RegionKind::kSystem) const;
  // A region of either kind. kInvalidArgument when it is not registered or [offset, offset + byte_size) is not
  // inside it.
  core::Result<SharedMemoryView> view(const SharedMemoryAsk& ref) const;

 private:
  core::Status check_name(const std::string& name) const;  // under mutex_
  core::Status insert(std::shared_ptr<const SharedRegion> region);

  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const SharedRegion>> regions_;
};

// Whether this build can open CUDA regions (it has the CUDA runtime); the server metadata says so.
bool cuda_regions_supported();
// The GPU that `device_memory` is on, or -1 (host memory, or a build without CUDA).
int cuda_device_of(const void* device_memory);

// Opens a CUDA IPC handle on `device_id` (cuda_ipc_region.cpp): kInvalidArgument with CUDA's reason, or saying
// that this build has no CUDA runtime.
core::Result<std::shared_ptr<const SharedRegion>> open_cuda_region(SharedMemoryRegionStatus status,
                                                                   std::span<const std::byte> raw_handle);

}  // namespace edgeserve::transport::http
