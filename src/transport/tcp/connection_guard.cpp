#include "transport/tcp/connection_guard.h"

#include <fmt/format.h>
#include <linux/tcp.h>  // its tcp_info has tcpi_bytes_received (Linux 4.1+); glibc's netinet/tcp.h lacks it
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <vector>
#include <zmq_addon.hpp>

namespace edgeserve::transport::tcp {

namespace {

// Below this many bytes a connection counts as idle, not as sending: the ZMTP greeting and handshake (a few
// hundred bytes, more under CURVE) and the small error of the framing estimate stay under it.
constexpr uint64_t kPendingThreshold = 4096;
// Descriptors kept free for everything else the process opens (model files, UCX, ZeroMQ's own mailboxes).
constexpr int kFdReserve = 64;

// The most ZMTP adds on the wire to a message of `frames` frames: per frame a flag byte and an 8-byte length
// (NULL mechanism); under CURVE each frame is a MESSAGE command (name 8, nonce 8, MAC 16, flags 1).
uint64_t framing_bytes(size_t frames, bool curve) { return frames * (curve ? 9 + 33 : 9); }

int soft_fd_limit() {
  rlimit limit{};
  return getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < (1u << 30) ? static_cast<int>(limit.rlim_cur)
                                                                              : (1 << 30);
}

std::chrono::milliseconds sweep_interval_for(const ConnectionLimits& limits) {
  // Often enough that a deadline is kept to within a quarter of itself, at most four times a second.
  std::chrono::milliseconds interval(250);
  for (auto t : {limits.idle_timeout, limits.request_timeout})  // in ms before dividing: 1 s / 4 is not 0
    if (t.count() > 0) interval = std::min(interval, std::chrono::duration_cast<std::chrono::milliseconds>(t) / 4);
  return std::max(interval, std::chrono::milliseconds(20));
}

}  // namespace

ConnectionGuard::ConnectionGuard(zmq::context_t& context, zmq::socket_t& router, const ConnectionLimits& limits,
                                 bool curve)
    : limits_(limits),
      curve_(curve),
      fd_limit_(soft_fd_limit()),
      sweep_interval_(sweep_interval_for(limits)),
      next_sweep_(Clock::now() + sweep_interval_),
      events_(context, zmq::socket_type::pair),
      log_(core::logger("transport")) {
  const std::string endpoint = fmt::format("inproc://edgeserve-connections-{}", reinterpret_cast<uintptr_t>(this));
  const int events = ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
  if (zmq_socket_monitor(router.handle(), endpoint.c_str(), events) != 0) throw zmq::error_t();
  events_.connect(endpoint);
}

void ConnectionGuard::on_events() {
  std::vector<zmq::message_t> event;
  const auto now = Clock::now();
  while (true) {
    event.clear();
    if (!zmq::recv_multipart(events_, std::back_inserter(event), zmq::recv_flags::dontwait)) return;
    if (event.size() < 2 || event[0].size() < 6) continue;
    uint16_t id = 0;
    uint32_t value = 0;
    std::memcpy(&id, event[0].data(), 2);
    std::memcpy(&value, event[0].data<uint8_t>() + 2, 4);
    if (id == ZMQ_EVENT_ACCEPTED)
      accepted(static_cast<int>(value), now);
    else if (id == ZMQ_EVENT_DISCONNECTED)
      disconnected(static_cast<int>(value));
    else
      handshake_failed(id, value, event[1].to_string());
  }
}

void ConnectionGuard::accepted(int fd, Clock::time_point now) {
  disconnected(fd);  // a record under this number belongs to an earlier connection whose end went unseen
  Connection c;
  c.address_length = sizeof c.address;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&c.address), &c.address_length) != 0) return;  // gone already
  c.peer = address_text(c.address);
  c.source = source_of(c.peer);
  c.last_request = now;
  Connection& conn = open_.emplace(fd, std::move(c)).first->second;
  log_->debug("tcp connection from {} (descriptor {}): {} open", conn.peer, fd, open_.size());
  if (fd >= fd_limit_ - kFdReserve)
    return close(fd, conn, fd_limit_log_,
                 fmt::format("the process is near its limit of {} open files (RLIMIT_NOFILE); raise it (ulimit -n) "
                             "to serve more connections",
                             fd_limit_));
  if (!sources_.try_add(conn.source, limits_.max_connections_per_source))
    return close(fd, conn, per_source_log_,
                 fmt::format("{} connections from {} are open already (--max-connections-per-source)",
                             limits_.max_connections_per_source, conn.source));
  conn.counted = true;
}

void ConnectionGuard::disconnected(int fd) {
  auto it = open_.find(fd);
  if (it == open_.end()) return;
  log_->debug("tcp connection from {} (descriptor {}) closed", it->second.peer, fd);
  if (it->second.counted) sources_.remove(it->second.source);
  if (it->second.has_slot) --slots_in_use_;
  open_.erase(it);
}

bool ConnectionGuard::on_message(int fd, size_t bytes) {
  auto it = open_.find(fd);
  if (it == open_.end()) {
    on_events();  // its ACCEPTED event may still be queued behind the message
    it = open_.find(fd);
    if (it == open_.end()) {
      log_->trace("a message from descriptor {}, which no tcp connection of this listener holds", fd);
      return slots_in_use_ < limits_.max_clients;  // untracked: only the slot bound applies
    }
  }
  Connection& c = it->second;
  c.last_request = Clock::now();
  c.consumed += bytes + framing_bytes(3, curve_);
  if (c.has_slot) return true;
  if (slots_in_use_ >= limits_.max_clients) return false;
  c.has_slot = true;
  ++slots_in_use_;
  return true;
}

std::chrono::milliseconds ConnectionGuard::until_sweep(Clock::time_point now) const {
  if (now >= next_sweep_) return std::chrono::milliseconds(0);
  return std::chrono::ceil<std::chrono::milliseconds>(next_sweep_ - now);
}

void ConnectionGuard::sweep(Clock::time_point now) {
  next_sweep_ = now + sweep_interval_;
  uint64_t pending_total = 0;
  for (auto& [fd, c] : open_) {
    if (c.closing) continue;
    const bool completed_one = c.consumed > 0;  // a whole message arrived since the last sweep
    tcp_info info{};
    socklen_t length = sizeof info;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) == 0 &&
        length >= offsetof(tcp_info, tcpi_bytes_received) + sizeof info.tcpi_bytes_received) {
      // What arrived since the last sweep, less what whole messages took: the rest is an unfinished message.
      const uint64_t received = info.tcpi_bytes_received;
      const uint64_t arrived = received - std::min(c.bytes_in, received);
      c.bytes_in = received;
      c.pending = c.pending + arrived > c.consumed ? c.pending + arrived - c.consumed : 0;
      c.consumed = 0;
    }
    if (c.pending <= kPendingThreshold) {
      c.pending_since = {};
      if (limits_.idle_timeout.count() > 0 && now - c.last_request > limits_.idle_timeout)
        close(fd, c, idle_log_, fmt::format("idle for over {} s (--idle-timeout-s)", limits_.idle_timeout.count()));
      continue;
    }
    // The deadline is per request: it starts again whenever one completed, so a client streaming request after
    // request (found half-way through one at every sweep) is never taken for a stalled sender.
    if (c.pending_since == Clock::time_point{} || completed_one) c.pending_since = now;
    if (limits_.request_timeout.count() > 0 && now - c.pending_since > limits_.request_timeout) {
      close(fd, c, slow_log_,
            fmt::format("a request still incomplete after {} s ({} KiB of it arrived; --request-timeout-s)",
                        limits_.request_timeout.count(), c.pending >> 10));
      continue;
    }
    pending_total += c.pending;
  }
  if (pending_total <= limits_.max_pending_bytes) return;
  // Over the bound: close the connections holding the most until the rest fit.
  std::vector<std::pair<uint64_t, int>> holders;
  for (const auto& [fd, c] : open_)
    if (!c.closing && c.pending > kPendingThreshold) holders.emplace_back(c.pending, fd);
  std::sort(holders.rbegin(), holders.rend());
  for (const auto& [pending, fd] : holders) {
    if (pending_total <= limits_.max_pending_bytes) break;
    close(fd, open_.at(fd), memory_log_,
          fmt::format("it holds {} MiB of an unfinished request and all connections together hold over {} MiB "
                      "(--max-pending-mb)",
                      pending >> 20, limits_.max_pending_bytes >> 20));
    pending_total -= pending;
  }
}

void ConnectionGuard::close(int fd, Connection& c, core::LogLimiter& limiter, const std::string& why) {
  sockaddr_storage now_address{};
  socklen_t length = sizeof now_address;
  c.closing = true;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&now_address), &length) != 0 || length != c.address_length ||
      std::memcmp(&now_address, &c.address, length) != 0)
    return;  // no longer this connection's descriptor
  ::shutdown(fd, SHUT_RDWR);
  if (std::string note; limiter.allow(note)) log_->warn("closed the tcp connection from {}: {}{}", c.peer, why, note);
}

void ConnectionGuard::handshake_failed(uint16_t event, uint32_t value, const std::string& endpoint) {
  std::string note;
  if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
    if (auth_failed_log_.allow(note))
      log_->warn("refused a client on {}: authentication failed (ZAP status {}){}", endpoint, value, note);
  } else if (curve_) {
    if (handshake_failed_log_.allow(note))
      log_->warn(
          "refused a client on {}: CURVE handshake failed (ZMTP error 0x{:x}; a client without CURVE or "
          "without this server's public key?){}",
          endpoint, value, note);
  } else if (handshake_failed_log_.allow(note)) {
    log_->warn("dropped a connection on {}: not a ZeroMQ peer (ZMTP handshake error 0x{:x}){}", endpoint, value, note);
  }
}

}  // namespace edgeserve::transport::tcp
