// The flags `serve` and `gateway` share (transport::FrontDoorOptions): one set of names, one meaning, one check.
#pragma once

#include <spdlog/logger.h>
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "cli/limit_flags.h"
#include "core/status.h"
#include "transport/front_door.h"

namespace edgeserve::cli {

// The words that differ between the two commands' help and errors.
struct FrontDoorRole {
  const char* process;      // "server": "this server's key pair file"
  const char* listen_what;  // "Address to listen on"
  const char* waits_for;    // "a worker": what a queued request waits for
  const char* served;       // "served": what the other clients are while one floods
};

struct FrontDoorFlags {
  std::vector<std::string> listen;
  int io_threads = 1;
  double max_payload_mb = 64;
  size_t max_queue = 1024;
  size_t max_queue_per_client = 32;
  ConnectionLimitFlags limits;
  std::string ready_file, curve_key, curve_clients;
};

// Adds --listen, --io-threads, --max-payload-mb, --max-queue, --max-queue-per-client, the connection limits,
// --curve-key, --curve-clients and --ready-file; the defaults are what `flags` holds.
void add_front_door_flags(CLI::App& cmd, FrontDoorFlags& flags, const FrontDoorRole& role);

// Checks what was typed (every listen address resolved, the ready file's folder writable, the CURVE keys read)
// and makes the options. An error is a usage error: its message is for the user.
core::Result<transport::FrontDoorOptions> front_door_options(FrontDoorFlags& flags, spdlog::logger& log);

}  // namespace edgeserve::cli
