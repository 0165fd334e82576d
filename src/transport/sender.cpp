// Connection serials have the top bit set and name hashes have it clear, so the two never collide.
#include "transport/sender.h"

#include <atomic>
#include <functional>
#include <string>

namespace edgeserve::transport {

namespace {
constexpr uint64_t kSerialBit = 1ull << 63;
}

uint64_t new_connection_sender() {
  static std::atomic<uint64_t> next{1};
  return kSerialBit | next.fetch_add(1, std::memory_order_relaxed);
}

uint64_t sender_from_name(std::string_view kind, std::string_view name) {
  std::string key;
  key.reserve(kind.size() + 1 + name.size());
  key.append(kind).append(1, '\0').append(name);
  return std::hash<std::string>{}(key) & ~kSerialBit;
}

}  // namespace edgeserve::transport
