// Active clients by peer address, numbered.
#include "transport/grpc/peer_table.h"

#include <algorithm>
#include <vector>

namespace edgeserve::transport::grpc {

namespace {
// With idle closing disabled (--idle-timeout 0) a client still stops counting after this long without a request.
constexpr uint64_t kDefaultIdleNs = 300'000'000'000ull;
}  // namespace

PeerTable::PeerTable(size_t max_clients, std::chrono::nanoseconds idle)
    : max_clients_(std::max<size_t>(max_clients, 1)),
      idle_ns_(idle.count() > 0 ? static_cast<uint64_t>(idle.count()) : kDefaultIdleNs) {}

std::optional<uint32_t> PeerTable::admit(const std::string& peer, uint64_t now_ns) {
  std::lock_guard lock(mutex_);
  if (auto it = peers_.find(peer); it != peers_.end()) {
    it->second.last_seen_ns = now_ns;
    return it->second.number;
  }
  // A new client (once per connection): the idle ones leave first, and their numbers are free again.
  std::erase_if(peers_, [&](const auto& entry) { return now_ns - entry.second.last_seen_ns > idle_ns_; });
  if (peers_.size() >= max_clients_) return std::nullopt;
  std::vector<bool> taken(peers_.size() + 1, false);
  for (const auto& [name, p] : peers_)
    if (p.number < taken.size()) taken[p.number] = true;
  const auto number = static_cast<uint32_t>(std::find(taken.begin(), taken.end(), false) - taken.begin());
  peers_.emplace(peer, Peer{now_ns, number});
  return number;
}

}  // namespace edgeserve::transport::grpc
