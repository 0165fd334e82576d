// Sender keys: the name a transport gives the connection (or authenticated identity) a request came from.
// Per-client limits in the server and the gateway are keyed on it, never on the client_id a client writes
// into its own request header, which any client can set to anything.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <unordered_map>

namespace edgeserve::transport {

// A fresh key for a connection the transport itself tracks (a UCX endpoint, a local connection): unique in
// the process.
uint64_t new_connection_sender();

// The key for a name the transport vouches for: a ZeroMQ routing id (unique among a ROUTER's live peers) or
// a CURVE public key (one key, one share, however many connections it opens). `kind` keeps kinds apart.
// Never equal to a key from new_connection_sender().
uint64_t sender_from_name(std::string_view kind, std::string_view name);

// How many requests each sender has waiting, held to a per-client limit (the server's scheduler, the
// gateway's queue). Not thread-safe: its owner's lock guards it.
class SenderShares {
 public:
  explicit SenderShares(size_t limit) : limit_(limit) {}
  size_t limit() const { return limit_; }
  // Counts one more waiting request of `sender`; false (nothing counted) when it already has `limit` waiting.
  bool take(uint64_t sender) {
    size_t& mine = waiting_[sender];
    if (mine >= limit_) {
      if (mine == 0) waiting_.erase(sender);
      return false;
    }
    ++mine;
    return true;
  }
  // One of `sender`'s requests stopped waiting.
  void give_back(uint64_t sender) {
    if (auto it = waiting_.find(sender); it != waiting_.end() && --it->second == 0) waiting_.erase(it);
  }

 private:
  size_t limit_;
  std::unordered_map<uint64_t, size_t> waiting_;  // only senders with requests waiting: bounded by the queue
};

}  // namespace edgeserve::transport
