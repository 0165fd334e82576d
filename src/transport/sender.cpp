// Connection serials have the top bit set and name hashes have it clear, so the two never collide.
#include "transport/sender.h"

#include <atomic>
#include <functional>

namespace edgeserve::transport {

namespace {
constexpr uint64_t kSerialBit = 1ull << 63;
}

uint64_t new_connection_sender() {
  static std::atomic<uint64_t> next{1};
  return kSerialBit | next.fetch_add(1, std::memory_order_relaxed);
}

// Called once per tcp request: hashes the two parts in place rather than joining them in a new string.
uint64_t sender_from_name(std::string_view kind, std::string_view name) {
  const uint64_t k = std::hash<std::string_view>{}(kind), n = std::hash<std::string_view>{}(name);
  return (n ^ (k + 0x9e3779b97f4a7c15ull + (n << 6) + (n >> 2))) & ~kSerialBit;  // boost::hash_combine's mix
}

}  // namespace edgeserve::transport
