#include "transport/http/shared_memory_regions.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace edgeserve::transport::http {

using core::Status;
using core::StatusCode;

MappedRegion::MappedRegion(SharedMemoryRegionStatus status, std::byte* base, size_t mapped)
    : status_(std::move(status)), base_(base), mapped_(mapped) {}

MappedRegion::~MappedRegion() { ::munmap(base_, mapped_); }

Status SharedMemoryRegions::add(const std::string& name, const std::string& key, uint64_t offset, uint64_t byte_size) {
  if (name.empty()) return {StatusCode::kInvalidArgument, "a shared memory region needs a name"};
  if (byte_size == 0) return {StatusCode::kInvalidArgument, "a shared memory region's byte_size is at least 1"};
  {
    std::lock_guard lock(mutex_);
    if (regions_.contains(name))
      return {StatusCode::kInvalidArgument,
              fmt::format("shared memory region '{}' is already registered", name.substr(0, 64))};
    if (regions_.size() >= kMaxRegions)
      return {StatusCode::kInvalidArgument,
              fmt::format("{} shared memory regions are registered already (the most this server keeps)", kMaxRegions)};
  }
  const int fd = ::shm_open(key.c_str(), O_RDWR, 0);
  if (fd < 0)
    return {StatusCode::kInvalidArgument,
            fmt::format("cannot open shared memory key '{}': {}", key.substr(0, 64), std::strerror(errno))};
  struct stat st {};
  const bool sized = ::fstat(fd, &st) == 0;
  const auto object_bytes = sized ? static_cast<uint64_t>(st.st_size) : 0;
  if (!sized || offset > object_bytes || byte_size > object_bytes - offset) {
    ::close(fd);
    return {StatusCode::kInvalidArgument,
            fmt::format("shared memory key '{}' holds {} bytes: offset {} + byte_size {} is past its end",
                        key.substr(0, 64), object_bytes, offset, byte_size)};
  }
  const size_t mapped = static_cast<size_t>(offset + byte_size);
  void* base = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int map_errno = errno;
  ::close(fd);  // the mapping keeps the object
  if (base == MAP_FAILED)
    return {StatusCode::kInvalidArgument,
            fmt::format("cannot map shared memory key '{}': {}", key.substr(0, 64), std::strerror(map_errno))};
  auto region = std::make_shared<const MappedRegion>(SharedMemoryRegionStatus{name, key, offset, byte_size},
                                                     static_cast<std::byte*>(base), mapped);
  std::lock_guard lock(mutex_);
  if (!regions_.emplace(name, std::move(region)).second)  // registered meanwhile by another request
    return {StatusCode::kInvalidArgument,
            fmt::format("shared memory region '{}' is already registered", name.substr(0, 64))};
  return {};
}

Status SharedMemoryRegions::remove(const std::string& name) {
  std::lock_guard lock(mutex_);
  if (name.empty()) {
    regions_.clear();
    return {};
  }
  if (regions_.erase(name) == 0)
    return {StatusCode::kInvalidArgument,
            fmt::format("no shared memory region '{}' is registered", name.substr(0, 64))};
  return {};
}

core::Result<std::vector<SharedMemoryRegionStatus>> SharedMemoryRegions::status(const std::string& name) const {
  std::lock_guard lock(mutex_);
  std::vector<SharedMemoryRegionStatus> out;
  for (const auto& [n, region] : regions_)
    if (name.empty() || n == name) out.push_back(region->status());
  if (!name.empty() && out.empty())
    return Status(StatusCode::kInvalidArgument,
                  fmt::format("no shared memory region '{}' is registered", name.substr(0, 64)));
  return out;
}

core::Result<SharedMemoryView> SharedMemoryRegions::view(const SharedMemoryAsk& ref) const {
  std::shared_ptr<const MappedRegion> region;
  {
    std::lock_guard lock(mutex_);
    const auto it = regions_.find(ref.region);
    if (it == regions_.end())
      return Status(StatusCode::kInvalidArgument,
                    fmt::format("no shared memory region '{}' is registered", ref.region.substr(0, 64)));
    region = it->second;
  }
  const auto bytes = region->bytes();
  if (ref.offset > bytes.size() || ref.byte_size > bytes.size() - ref.offset)
    return Status(StatusCode::kInvalidArgument,
                  fmt::format("shared memory region '{}' holds {} bytes: offset {} + byte_size {} is past its end",
                              ref.region.substr(0, 64), bytes.size(), ref.offset, ref.byte_size));
  return SharedMemoryView{region, bytes.subspan(ref.offset, ref.byte_size)};
}

}  // namespace edgeserve::transport::http
