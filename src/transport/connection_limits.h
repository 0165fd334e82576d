// What one peer may hold of a listener: slots, connections per source, time, and memory of unfinished
// requests. Shared by every transport's listener; each enforces what its library lets it see (see README,
// "Security and limits").
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace edgeserve::transport {

struct ConnectionLimits {
  // Clients served at once: a connection counts from its first request until it closes; requests from
  // further clients are answered "overloaded".
  size_t max_clients = 1024;
  // Connections open at once from one source address (an IP for tcp://, the peer's address for ucx://);
  // further ones are closed at once (logged), so one host cannot take every slot or file descriptor.
  size_t max_connections_per_source = 256;
  // A connection that completes no request for this long is closed (logged); 0 disables.
  std::chrono::seconds idle_timeout{300};
  // A request whose bytes have started arriving must be complete within this; otherwise its connection is
  // closed (logged) and what it held is freed; 0 disables.
  std::chrono::seconds request_timeout{30};
  // tcp://: bytes of unfinished requests held across all connections; past it, the connections holding the
  // most are closed (logged). ucx:// pulls a payload only once its whole size is known and fits.
  uint64_t max_pending_bytes = 1ull << 30;
};

// Open connections per source address, bounded per source. Thread-safe: connection set-up is never a hot path.
class SourceCounts {
 public:
  // Counts one more connection from `source`; false (and nothing counted) when it already has `limit`.
  bool try_add(const std::string& source, size_t limit);
  void remove(const std::string& source);

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, size_t> counts_;
};

// Raises this process's soft limit on open files (RLIMIT_NOFILE) to its hard limit, once at start: every
// connection holds a descriptor, and the common soft limit of 1024 would cap a server below --max-clients.
// Returns the soft limit now in force.
uint64_t raise_open_file_limit();

// "IP:PORT" ("[IPv6]:PORT") of a socket address, for log lines; "?" for other families.
std::string address_text(const sockaddr_storage& address);
// The address part of "IP:PORT" or "[IPv6]:PORT": what a per-source limit keys on.
std::string source_of(const std::string& address_and_port);

}  // namespace edgeserve::transport
