// Active clients by peer address.
#include "transport/grpc/peer_table.h"

#include <algorithm>

namespace edgeserve::transport::grpc {

namespace {
// With idle closing disabled (--idle-timeout 0) a client still stops counting after this long without a request.
constexpr uint64_t kDefaultIdleNs = 300'000'000'000ull;
}  // namespace

PeerTable::PeerTable(size_t max_clients, std::chrono::nanoseconds idle)
    : max_clients_(std::max<size_t>(max_clients, 1)),
      idle_ns_(idle.count() > 0 ? static_cast<uint64_t>(idle.count()) : kDefaultIdleNs) {}

bool PeerTable::admit(const std::string& peer, uint64_t now_ns) {
  std::lock_guard lock(mutex_);
  if (auto it = last_seen_ns_.find(peer); it != last_seen_ns_.end()) {
    it->second = now_ns;
    return true;
  }
  if (last_seen_ns_.size() >= max_clients_)
    std::erase_if(last_seen_ns_, [&](const auto& entry) { return now_ns - entry.second > idle_ns_; });
  if (last_seen_ns_.size() >= max_clients_) return false;
  last_seen_ns_.emplace(peer, now_ns);
  return true;
}

}  // namespace edgeserve::transport::grpc
