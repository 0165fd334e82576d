// The load generator: N client threads, each with its own connection, each sending M requests (after a few
// unrecorded warm-up requests), recording every stage of every request. Closed loop by default: each client
// sends its next request when the last reply arrives. Open loop with `rate`: requests go out on a Poisson
// schedule (rate/N per client, R in all) and total-time is measured from the *intended* send time, so a
// server that falls behind cannot hide it by delaying the sends (no coordinated omission).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bench/input_source.h"
#include "core/status.h"
#include "transport/client_connection.h"
#include "transport/delivery.h"
#include "transport/transport_settings.h"

namespace edgeserve::bench {

struct BenchOptions {
  // "local", "tcp://HOST:PORT", "ucx://HOST:PORT", or several remote targets separated by commas: client i then
  // talks to the (i mod n)-th (one server process per client: the paper's multi-process and MPS runs).
  std::string target = "local";
  std::string model = "tiny";
  int clients = 1;
  int requests = 1000;  // per client
  int warmup = 10;      // per client, not recorded
  std::chrono::milliseconds timeout{10000};
  bool progress = true;      // a progress line on stderr every few seconds
  int priority_clients = 0;  // clients 0..K-1 send priority 1
  // A client that gets this many timeouts/transport errors in a row gives up on its remaining requests
  // (a dead server must not keep a run waiting timeout × requests); 0 = never.
  int max_consecutive_failures = 10;
  bool payload_on_device = false;  // recorded in summary.json: target local with the input in GPU memory
  double rate = 0;                 // open loop: requests/s over all clients (Poisson); 0 = closed loop
  // Set from a signal handler: clients stop after the request in flight, and what was measured is returned.
  const std::atomic<bool>* stop = nullptr;
  transport::TransportSettings transports;  // the targets' transports' own settings (tcp: CURVE keys), from cli/
  core::OutputChoice output;                // which outputs to get back, in what dtype, after which postprocessing
};

// One request as the client saw it. Times in milliseconds; NaN where not measured.
struct RequestRecord {
  uint32_t client = 0;
  uint32_t seq = 0;
  uint8_t priority = 0;
  uint64_t request_id = 0;
  std::string status = "ok";  // a core::StatusCode name: the server's, or the client's (timeout, transport-error)
  bool replied = false;       // a reply came back (its status may still be an error: a server's or a gateway's)
  std::string error;
  double total_ms = 0, request_ms = 0, response_ms = 0, copy_ms = 0, preprocess_ms = 0, postprocess_ms = 0,
         inference_ms = 0, queue_ms = 0, handling_ms = 0, server_ms = 0;
  double decode_ms = 0;        // JPEG input: the server's decode; NaN for other input
  double batching_ms = 0;      // the part of queue_ms spent waiting for the batch to fill
  double batch_size = 0;       // requests in this one's forward pass; NaN when there was no reply
  double request_post_ms = 0;  // UCX: request send posted → completed (the paper's RDMA request-time); NaN elsewhere
  double gateway_ms = 0, backend_hop_ms = 0;  // through a gateway: time in it, and its backend call; NaN direct
  double server_cpu_ms = 0;                   // server process CPU time so far (cumulative)
  double server_rss_mb = 0;
  double gpu_mem_mb = 0;
  bool same_clock = false;  // request/response split from a shared monotonic clock (same host)
  uint64_t start_ns = 0;    // client monotonic clock when sent (open loop: when it was meant to be sent)
  double send_lag_ms = 0;   // open loop: actual send − intended send (the client was still waiting for a reply)
};

struct BenchResult {
  std::vector<RequestRecord> records;  // client-major, in send order
  double wall_s = 0;                   // first measured send → last measured reply
  uint64_t sent = 0, replied = 0, ok = 0, server_errors = 0, timeouts = 0, transport_errors = 0;
  uint64_t not_sent = 0;             // requests of clients that gave up (max_consecutive_failures)
  std::vector<std::string> gave_up;  // one line per client that gave up, saying after what
  std::string setup_error;           // set when clients could not even start (connection refused, warm-up failed)
  bool interrupted = false;          // options.stop was set before every request was sent
  transport::LinkReport link;        // what client 0's connection ran over (UCX: the lanes each side used)
  // This process over the measured phase (getrusage): every client thread, and for target local the in-process
  // server too. Minor page faults show a client paying for fresh memory per reply (the allocator's choice).
  double client_cpu_s = 0;
  uint64_t client_minor_faults = 0;
};

// Runs the benchmark. `local_handler` serves target "local" in-process (may be null otherwise). A non-empty
// `device_payload` (target local on a GPU) is the input already in the server's GPU memory: clients send
// it instead of input.bytes, so `local` is the paper's lower bound with no data movement.
BenchResult run_bench(const BenchOptions& options, const Input& input, transport::RequestHandler* local_handler,
                      std::span<const std::byte> device_payload = {});

}  // namespace edgeserve::bench
