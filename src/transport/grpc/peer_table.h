// The clients of a grpc:// listener, by peer address, held to --max-clients. gRPC tells a server of no
// connection's end, so a client counts from its first request until it has been idle for `idle` (the listener has
// gRPC close connections idle that long, so the two agree).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace edgeserve::transport::grpc {

class PeerTable {
 public:
  PeerTable(size_t max_clients, std::chrono::nanoseconds idle);
  // Counts a request from `peer` at `now_ns` (core::now_ns()); false when `peer` is a new client and
  // max_clients others are active. Thread-safe.
  bool admit(const std::string& peer, uint64_t now_ns);

 private:
  size_t max_clients_;
  uint64_t idle_ns_;
  std::mutex mutex_;
  std::unordered_map<std::string, uint64_t> last_seen_ns_;
};

}  // namespace edgeserve::transport::grpc
