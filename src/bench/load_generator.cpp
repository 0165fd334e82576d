// Closed-loop clients, each on its own thread and connection.
#include "bench/load_generator.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <mutex>
#include <random>
#include <thread>

#include "core/clock.h"
#include "core/log.h"
#include "metrics/process_stats.h"
#include "transport/client_connection.h"

namespace edgeserve::bench {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// A tcp target with nothing listening must fail at once, not after the warm-up request's timeout.
constexpr std::chrono::milliseconds kConnectBound{3000};

std::vector<std::string> split_targets(const std::string& target) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= target.size()) {
    const size_t comma = std::min(target.find(',', start), target.size());
    if (comma > start) out.push_back(target.substr(start, comma - start));
    start = comma + 1;
  }
  if (out.empty()) out.push_back(target);
  return out;
}

// Sleeps until the monotonic clock reaches `when_ns`, waking every 20 ms to see whether to stop.
void sleep_until_ns(uint64_t when_ns, const std::atomic<bool>* stop) {
  while (true) {
    const uint64_t now = core::now_ns();
    if (now >= when_ns || (stop && stop->load())) return;
    std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<uint64_t>(when_ns - now, 20'000'000)));
  }
}

RequestRecord record_reply(const transport::Reply& reply, uint64_t send_ns) {
  RequestRecord r;
  const auto& t = reply.header.timings;
  r.status = core::to_string(reply.header.status);
  r.replied = true;
  r.error = reply.header.error;
  r.start_ns = send_ns;
  r.total_ms = core::ns_to_ms(reply.recv_clock_ns - send_ns);
  r.server_ms = core::ns_to_ms(t.server_ns);
  r.copy_ms = core::ns_to_ms(t.copy_ns);
  r.preprocess_ms = core::ns_to_ms(t.preprocess_ns);
  r.inference_ms = core::ns_to_ms(t.inference_ns);
  r.postprocess_ms = core::ns_to_ms(t.postprocess_ns);
  r.queue_ms = core::ns_to_ms(t.queue_ns);
  r.batching_ms = core::ns_to_ms(t.batching_ns);
  r.batch_size = t.batch_size ? static_cast<double>(t.batch_size) : kNaN;
  r.decode_ms = t.decode_ns ? core::ns_to_ms(t.decode_ns) : kNaN;
  r.handling_ms = core::ns_to_ms(t.handling_ns);
  r.request_post_ms = reply.request_post_ns ? core::ns_to_ms(reply.request_post_ns) : kNaN;
  r.gateway_ms = t.gateway_ns ? core::ns_to_ms(t.gateway_ns) : kNaN;
  r.backend_hop_ms = t.backend_ns ? core::ns_to_ms(t.backend_ns) : kNaN;
  r.server_cpu_ms = core::ns_to_ms(t.server_cpu_ns);
  r.server_rss_mb = static_cast<double>(t.server_rss_bytes) / (1 << 20);
  r.gpu_mem_mb = static_cast<double>(t.gpu_mem_bytes) / (1 << 20);
  r.same_clock =
      t.clock_domain == core::clock_domain() && t.recv_clock_ns >= send_ns && reply.recv_clock_ns >= t.send_clock_ns;
  if (r.same_clock) {
    r.request_ms = core::ns_to_ms(t.recv_clock_ns - send_ns);
    r.response_ms = core::ns_to_ms(reply.recv_clock_ns - t.send_clock_ns);
  } else {
    // Different hosts: clocks are not comparable; the paper's definition for TCP.
    r.request_ms = r.total_ms - r.server_ms;
    r.response_ms = kNaN;
  }
  return r;
}

RequestRecord record_failure(const core::Status& status, uint64_t send_ns) {
  RequestRecord r;
  r.status = core::to_string(status.code());
  r.error = status.message();
  r.start_ns = send_ns;
  for (double* m : {&r.total_ms, &r.request_ms, &r.response_ms, &r.copy_ms, &r.preprocess_ms, &r.inference_ms,
                    &r.postprocess_ms, &r.queue_ms, &r.handling_ms, &r.server_ms, &r.server_cpu_ms, &r.server_rss_mb,
                    &r.gpu_mem_mb, &r.request_post_ms, &r.decode_ms, &r.batching_ms, &r.batch_size})
    *m = kNaN;
  return r;
}

}  // namespace

BenchResult run_bench(const BenchOptions& o, const Input& input, transport::RequestHandler* local_handler,
                      std::span<const std::byte> device_payload) {
  const bool on_device = !device_payload.empty();
  const std::span<const std::byte> payload = on_device ? device_payload : std::span<const std::byte>(input.bytes);
  auto log = core::logger("bench");
  const int clients = std::max(1, o.clients);
  std::vector<std::vector<RequestRecord>> per_client(static_cast<size_t>(clients));
  std::vector<std::chrono::steady_clock::time_point> finished(static_cast<size_t>(clients));
  std::atomic<uint64_t> done{0};
  std::atomic<int> ready{0};
  std::atomic<bool> go{false}, abort{false};
  std::mutex error_mutex;
  std::string setup_error;
  std::vector<std::string> gave_up;  // guarded by error_mutex
  transport::LinkReport link;        // written by client 0 before it reports ready
  uint64_t not_sent = 0;             // guarded by error_mutex
  std::atomic<uint64_t> t0_ns{0};    // open loop: the schedule's origin, set before go
  const auto targets = split_targets(o.target);
  const auto stopped = [&] { return o.stop && o.stop->load(); };

  auto client_main = [&](uint32_t client) {
    auto fail_setup = [&](const std::string& why) {
      std::lock_guard lock(error_mutex);
      if (setup_error.empty()) setup_error = fmt::format("client {}: {}", client, why);
      abort = true;
      ready.fetch_add(1);
    };
    const std::string& target = targets[client % targets.size()];
    auto conn = transport::connect(target, {local_handler, on_device, o.transports});
    if (!conn.ok()) return fail_setup(conn.status().message());
    // tcp connects in the background: a refused connection or no handshake is an error now, not a timeout later.
    if (auto s = (*conn)->ready(std::min(o.timeout, kConnectBound)); !s.ok()) return fail_setup(s.message());
    core::RequestHeader header;
    header.client_id = client;
    header.model = o.model;
    header.input_kind = input.kind;
    header.dtype = input.dtype;
    header.shape = input.shape;
    header.payload_bytes = input.bytes.size();
    header.output = o.output;
    header.priority = static_cast<int>(client) < o.priority_clients ? 1 : 0;
    transport::Reply reply;
    // Request ids: client << 32, then 1, 2, ... for the measured requests (requests.csv); the warm-up's carry bit
    // 31 as well, so they neither take the first ids nor can be mistaken for a measured request's reply.
    uint64_t next_id = static_cast<uint64_t>(client) << 32;
    // Warm-up: connection set-up and first-touch costs stay out of the measurements. Also the place where
    // a wrong model name or an unreachable server shows up, before any thread starts measuring.
    for (int i = 0; i < o.warmup && !stopped(); ++i) {
      header.request_id = next_id | (1ull << 31) | static_cast<uint64_t>(i + 1);
      header.client_send_ns = core::now_ns();
      const core::Status s = (*conn)->call(header, payload, reply, o.timeout);
      if (!s.ok()) return fail_setup("warm-up request failed: " + s.message());
      if (reply.header.status != core::StatusCode::kOk)
        return fail_setup("warm-up request refused by the server: " + reply.header.error);
    }
    // After the warm-up, when UCX has wired up every lane it will use.
    if (client == 0) link = (*conn)->link();
    ready.fetch_add(1);
    while (!go.load()) {
      if (abort.load()) return;
      std::this_thread::yield();
    }
    auto& records = per_client[client];
    records.reserve(static_cast<size_t>(o.requests));
    int failures_in_a_row = 0;
    // Open loop: this client's share of a Poisson process (independent shares add up to one of rate R).
    std::mt19937_64 rng(0x5eedULL + client);
    std::exponential_distribution<double> gap_s(o.rate > 0 ? o.rate / clients : 1.0);
    uint64_t intended_ns = t0_ns.load();
    for (int seq = 0; seq < o.requests && !abort.load() && !stopped(); ++seq) {
      if (o.rate > 0) {
        intended_ns += static_cast<uint64_t>(gap_s(rng) * 1e9);
        sleep_until_ns(intended_ns, o.stop);
        if (stopped()) break;
      }
      header.request_id = ++next_id;
      const uint64_t send_ns = core::now_ns();
      header.client_send_ns = send_ns;
      const core::Status s = (*conn)->call(header, payload, reply, o.timeout);
      RequestRecord r = s.ok() ? record_reply(reply, send_ns) : record_failure(s, send_ns);
      if (o.rate > 0) {
        // Latency as the user meant it: from when the request should have gone out.
        r.start_ns = intended_ns;
        r.send_lag_ms = core::ns_to_ms(send_ns - std::min(send_ns, intended_ns));
        if (s.ok()) r.total_ms = core::ns_to_ms(reply.recv_clock_ns - intended_ns);
      }
      r.client = client;
      r.seq = static_cast<uint32_t>(seq);
      r.priority = header.priority;
      r.request_id = header.request_id;
      records.push_back(std::move(r));
      done.fetch_add(1, std::memory_order_relaxed);
      failures_in_a_row = s.ok() ? 0 : failures_in_a_row + 1;
      if (o.max_consecutive_failures > 0 && failures_in_a_row >= o.max_consecutive_failures) {
        const int left = o.requests - seq - 1;
        std::lock_guard lock(error_mutex);
        gave_up.push_back(fmt::format("client {} gave up after {} failures in a row (last: {}); {} request(s) not sent",
                                      client, failures_in_a_row, s.to_string(), left));
        not_sent += static_cast<uint64_t>(left);
        done.fetch_add(static_cast<uint64_t>(left), std::memory_order_relaxed);
        break;
      }
    }
    finished[client] = std::chrono::steady_clock::now();
  };

  std::vector<std::jthread> threads;
  for (int c = 0; c < clients; ++c) threads.emplace_back(client_main, static_cast<uint32_t>(c));
  while (ready.load() < clients) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  BenchResult result;
  if (abort.load() || stopped()) {
    const bool setup_failed = abort.load();
    abort = true;
    threads.clear();
    result.setup_error = setup_failed ? setup_error : "interrupted before the first measured request";
    result.interrupted = stopped();
    return result;
  }
  const uint64_t total = static_cast<uint64_t>(clients) * static_cast<uint64_t>(o.requests);
  const uint64_t cpu0_ns = metrics::process_cpu_ns(), faults0 = metrics::process_minor_faults();
  const auto t0 = std::chrono::steady_clock::now();
  t0_ns = core::now_ns();
  go = true;
  auto last_print = t0;
  while (done.load() < total && !stopped()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const auto now = std::chrono::steady_clock::now();
    if (o.progress && now - last_print > std::chrono::seconds(3)) {
      const double s = std::chrono::duration<double>(now - t0).count();
      const uint64_t n = done.load();
      log->info("{}/{} requests ({:.0f}%), {:.1f} req/s", n, total,
                100.0 * static_cast<double>(n) / static_cast<double>(total), static_cast<double>(n) / s);
      last_print = now;
    }
  }
  threads.clear();  // joins: after a stop, each client finishes the request it has in flight
  result.client_cpu_s = static_cast<double>(metrics::process_cpu_ns() - cpu0_ns) * 1e-9;
  result.client_minor_faults = metrics::process_minor_faults() - faults0;
  result.interrupted = done.load() < total;
  result.gave_up = gave_up;
  result.link = link;
  result.not_sent = not_sent;
  result.wall_s = std::chrono::duration<double>(*std::max_element(finished.begin(), finished.end()) - t0).count();

  for (auto& records : per_client)
    for (auto& r : records) {
      ++result.sent;
      // Whoever answered decides: an error reply (a gateway's "transport-error" for a dead backend among them)
      // is a server error, never unanswered; only what the client itself saw go wrong is a timeout or a
      // transport error.
      if (r.replied) {
        ++result.replied;
        ++(r.status == "ok" ? result.ok : result.server_errors);
      } else if (r.status == core::to_string(core::StatusCode::kTimeout)) {
        ++result.timeouts;
      } else {
        ++result.transport_errors;
      }
      result.records.push_back(std::move(r));
    }
  return result;
}

}  // namespace edgeserve::bench
