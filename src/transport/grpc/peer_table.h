// The clients of a grpc:// listener, by peer address ("ipv4:127.0.0.1:40312": one per connection), held to
// --max-clients and numbered 0, 1, 2, ... while active (the lowest free number first), so that a plain KServe
// client, which names no client id, is scheduled as its connection, as on http://. gRPC tells a server of no
// connection's end, so a client counts from its first request until it has been idle for `idle` (the listener has
// gRPC close connections idle that long, so the two agree); its number is then free again.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace edgeserve::transport::grpc {

class PeerTable {
 public:
  PeerTable(size_t max_clients, std::chrono::nanoseconds idle);
  // Counts a request from `peer` at `now_ns` (core::now_ns()) and returns the peer's number; nullopt when `peer`
  // is a new client and max_clients others are active. Thread-safe.
  std::optional<uint32_t> admit(const std::string& peer, uint64_t now_ns);

 private:
  struct Peer {
    uint64_t last_seen_ns;
    uint32_t number;
  };
  size_t max_clients_;
  uint64_t idle_ns_;
  std::mutex mutex_;
  std::unordered_map<std::string, Peer> peers_;
};

}  // namespace edgeserve::transport::grpc
