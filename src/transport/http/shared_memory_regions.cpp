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
    : SharedRegion(std::move(status)), base_(base), mapped_(mapped) {}

MappedRegion::~MappedRegion() { ::munmap(base_, mapped_); }

Status MappedRegion::read(uint64_t offset, std::span<std::byte> dst) const {
  std::memcpy(dst.data(), base_ + status().offset + offset, dst.size());
  return {};
}

Status MappedRegion::write(uint64_t offset, std::span<const std::byte> src) const {
  std::memcpy(base_ + status().offset + offset, src.data(), src.size());
  return {};
}

Status SharedMemoryRegions::check_name(const std::string& name) const {
  if (name.empty()) return {StatusCode::kInvalidArgument, "a shared memory region needs a name"};
  if (regions_.contains(name))
    return {StatusCode::kInvalidArgument,
            fmt::format("shared memory region '{}' is already registered", name.substr(0, 64))};
  if (regions_.size() >= kMaxRegions)
    return {StatusCode::kInvalidArgument,
            fmt::format("{} shared memory regions are registered already (the most this server keeps)", kMaxRegions)};
  return {};
}

Status SharedMemoryRegions::insert(std::shared_ptr<const SharedRegion> region) {
  std::lock_guard lock(mutex_);
  if (Status s = check_name(region->status().name); !s.ok()) return s;  // registered meanwhile by another request
  const std::string name = region->status().name;
  regions_.emplace(name, std::move(region));
  return {};
}

Status SharedMemoryRegions::add(const std::string& name, const std::string& key, uint64_t offset, uint64_t byte_size) {
  if (byte_size == 0) return {StatusCode::kInvalidArgument, "a shared memory region's byte_size is at least 1"};
  {
    std::lock_guard lock(mutex_);
    if (Status s = check_name(name); !s.ok()) return s;
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
  SharedMemoryRegionStatus status{name, RegionKind::kSystem, key, offset, byte_size, 0};
  return insert(std::make_shared<const MappedRegion>(std::move(status), static_cast<std::byte*>(base), mapped));
}

Status SharedMemoryRegions::add_cuda(const std::string& name, std::span<const std::byte> raw_handle, int64_t device_id,
                                     uint64_t byte_size) {
  if (byte_size == 0) return {StatusCode::kInvalidArgument, "a shared memory region's byte_size is at least 1"};
  {
    std::lock_guard lock(mutex_);
    if (Status s = check_name(name); !s.ok()) return s;
  }
  auto region = open_cuda_region({name, RegionKind::kCuda, "", 0, byte_size, device_id}, raw_handle);
  if (!region.ok()) return region.status();
  return insert(std::move(region.value()));
}

namespace {

const char* kind_name(RegionKind kind) { return kind == RegionKind::kCuda ? "CUDA" : "system"; }

}  // namespace

Status SharedMemoryRegions::remove(const std::string& name, RegionKind kind) {
  std::lock_guard lock(mutex_);
  if (name.empty()) {
    std::erase_if(regions_, [kind](const auto& entry) { return entry.second->status().kind == kind; });
    return {};
  }
  const auto it = regions_.find(name);
  if (it == regions_.end() || it->second->status().kind != kind)
    return {StatusCode::kInvalidArgument,
            fmt::format("no {} shared memory region '{}' is registered", kind_name(kind), name.substr(0, 64))};
  regions_.erase(it);
  return {};
}

core::Result<std::vector<SharedMemoryRegionStatus>> SharedMemoryRegions::status(const std::string& name,
                                                                                RegionKind kind) const {
  std::lock_guard lock(mutex_);
  std::vector<SharedMemoryRegionStatus> out;
  for (const auto& [n, region] : regions_)
    if ((name.empty() || n == name) && region->status().kind == kind) out.push_back(region->status());
  if (!name.empty() && out.empty())
    return Status(StatusCode::kInvalidArgument,
                  fmt::format("no {} shared memory region '{}' is registered", kind_name(kind), name.substr(0, 64)));
  return out;
}

core::Result<SharedMemoryView> SharedMemoryRegions::view(const SharedMemoryAsk& ref) const {
  std::shared_ptr<const SharedRegion> region;
  {
    std::lock_guard lock(mutex_);
    const auto it = regions_.find(ref.region);
    if (it == regions_.end())
      return Status(StatusCode::kInvalidArgument,
                    fmt::format("no shared memory region '{}' is registered", ref.region.substr(0, 64)));
    region = it->second;
  }
  const uint64_t size = region->status().byte_size;
  if (ref.offset > size || ref.byte_size > size - ref.offset)
    return Status(StatusCode::kInvalidArgument,
                  fmt::format("shared memory region '{}' holds {} bytes: offset {} + byte_size {} is past its end",
                              ref.region.substr(0, 64), size, ref.offset, ref.byte_size));
  return SharedMemoryView{std::move(region), ref.offset, ref.byte_size};
}

}  // namespace edgeserve::transport::http
