// The connection limits of `serve` and `gateway` (transport::ConnectionLimits): one set of flags, one meaning.
#pragma once

#include <CLI/CLI.hpp>

#include "transport/connection_limits.h"

namespace edgeserve::cli {

struct ConnectionLimitFlags {
  size_t max_clients = 1024;
  size_t max_connections_per_source = 256;
  int idle_timeout_s = 300;
  int request_timeout_s = 30;
  double max_pending_mb = 1024;

  transport::ConnectionLimits limits() const;
};

// Adds --max-clients, --max-connections-per-source, --idle-timeout-s, --request-timeout-s, --max-pending-mb.
void add_connection_limit_flags(CLI::App& cmd, ConnectionLimitFlags& flags);

}  // namespace edgeserve::cli
