// tcp:// connection lifecycle, from ZeroMQ's socket monitor on the ROUTER: which connections are open (by
// file descriptor), how many from each source address, when each last completed a request, and roughly how
// many bytes of an unfinished request it holds. Enforces transport::ConnectionLimits on them.
//
// ZeroMQ has no call to drop one peer of a ROUTER, so a connection is closed with shutdown(2) on ZeroMQ's own
// descriptor: ZeroMQ then reads the end of the stream and tears the connection down itself (a DISCONNECTED
// event follows). The descriptor is checked to still belong to the same peer first, so a number reused by a
// newer connection is never shut down by mistake.
//
// Used only by the listener's I/O thread. It also owns the handshake-failure log lines (CURVE refusals),
// because a ZeroMQ socket has one monitor at most.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <zmq.hpp>

#include "core/log.h"
#include "core/log_limiter.h"
#include "transport/connection_limits.h"

namespace edgeserve::transport::tcp {

class ConnectionGuard {
 public:
  using Clock = std::chrono::steady_clock;

  ConnectionGuard(zmq::context_t& context, zmq::socket_t& router, const ConnectionLimits& limits, bool curve);

  // The monitor's socket, for the I/O loop's poll; on_events() when it is readable.
  zmq::pollitem_t pollitem() { return {events_.handle(), 0, ZMQ_POLLIN, 0}; }
  void on_events();

  // A whole message of `bytes` (all frames) arrived on descriptor `fd` (ZMQ_SRCFD). False when it comes from a
  // connection that holds no client slot and every slot is taken: the caller answers "overloaded".
  bool on_message(int fd, size_t bytes);

  // Deadlines and the bound on unfinished requests; the loop calls it when sweep_due() says so.
  bool sweep_due(Clock::time_point now) const { return now >= next_sweep_; }
  void sweep(Clock::time_point now);
  // How long the loop may sleep before the next sweep.
  std::chrono::milliseconds until_sweep(Clock::time_point now) const;

 private:
  struct Connection {
    std::string peer;    // "127.0.0.1:51234", for log lines
    std::string source;  // "127.0.0.1": what max_connections_per_source counts
    sockaddr_storage address{};
    socklen_t address_length = 0;
    bool counted = false;  // in sources_ (false when refused at accept)
    bool has_slot = false;
    bool closing = false;
    Clock::time_point last_request;
    uint64_t bytes_in = 0;            // TCP_INFO's bytes received, at the last sweep
    uint64_t consumed = 0;            // bytes of whole messages since the last sweep (frames plus framing)
    uint64_t pending = 0;             // estimated bytes of an unfinished message
    Clock::time_point pending_since;  // when `pending` first passed kPendingThreshold
  };

  void accepted(int fd, Clock::time_point now);
  void disconnected(int fd);
  void handshake_failed(uint16_t event, uint32_t value, const std::string& endpoint);
  // Shuts the descriptor down if it is still this connection's; logs why (rate-limited per reason).
  void close(int fd, Connection& c, core::LogLimiter& limiter, const std::string& why);

  ConnectionLimits limits_;
  bool curve_;
  int fd_limit_;  // RLIMIT_NOFILE's soft limit when the listener was made
  std::chrono::milliseconds sweep_interval_;
  Clock::time_point next_sweep_;
  zmq::socket_t events_;
  std::unordered_map<int, Connection> open_;
  SourceCounts sources_;
  size_t slots_in_use_ = 0;
  std::shared_ptr<spdlog::logger> log_;
  // Peers decide how often these happen: each kind is logged at most 5 times per 10 s, the rest counted.
  core::LogLimiter per_source_log_, fd_limit_log_, idle_log_, slow_log_, memory_log_;
  core::LogLimiter auth_failed_log_, handshake_failed_log_;
};

}  // namespace edgeserve::transport::tcp
