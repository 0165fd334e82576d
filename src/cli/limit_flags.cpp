#include "cli/limit_flags.h"

namespace edgeserve::cli {

transport::ConnectionLimits ConnectionLimitFlags::limits() const {
  transport::ConnectionLimits l;
  l.max_clients = max_clients;
  l.max_connections_per_source = max_connections_per_source;
  l.idle_timeout = std::chrono::seconds(idle_timeout_s);
  l.request_timeout = std::chrono::seconds(request_timeout_s);
  l.max_pending_bytes = static_cast<uint64_t>(max_pending_mb * (1 << 20));
  return l;
}

void add_connection_limit_flags(CLI::App& cmd, ConnectionLimitFlags& f) {
  cmd.add_option("--max-clients", f.max_clients,
                 "Clients served at once: a connection counts from its first request until it closes; requests "
                 "from further clients are answered 'overloaded'")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd.add_option("--max-connections-per-source", f.max_connections_per_source,
                 "Connections open at once from one address (IP); further ones are closed at once and logged, so "
                 "one host cannot take every slot or file descriptor")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20))
      ->capture_default_str();
  cmd.add_option("--idle-timeout-s", f.idle_timeout_s,
                 "A connection that completes no request for this long is closed and logged (0: never)")
      ->check(CLI::Range(0, 7 * 24 * 3600))
      ->capture_default_str();
  cmd.add_option("--request-timeout-s", f.request_timeout_s,
                 "A request whose bytes have started to arrive must be whole within this, or its connection is "
                 "closed and logged (slow or stalled senders; 0: never)")
      ->check(CLI::Range(0, 24 * 3600))
      ->capture_default_str();
  cmd.add_option("--max-pending-mb", f.max_pending_mb,
                 "tcp://: memory all unfinished requests together may hold; past it, the connections holding the "
                 "most are closed and logged")
      ->check(CLI::Range(1.0, 1048576.0))
      ->capture_default_str();
}

}  // namespace edgeserve::cli
