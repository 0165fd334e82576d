// The request trace's lock-free recording and its Chrome trace-event JSON.
#include "server/request_trace.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <system_error>

#include "core/clock.h"

namespace edgeserve::server {

// The size --help and the README promise.
static_assert(sizeof(TracedRequest) == 112);

namespace {

constexpr int kPid = 1;
constexpr uint64_t kClientTrackBase = 1000;  // tids of connection tracks; lanes are 1..lanes

// Appends one "X" (complete) event; ts and dur in µs with ns precision.
void span(fmt::memory_buffer& out, const char* name, uint64_t tid, uint64_t from_ns, uint64_t to_ns, uint64_t origin_ns,
          const std::string& args) {
  const uint64_t start = from_ns > origin_ns ? from_ns - origin_ns : 0;
  const uint64_t dur = to_ns > from_ns ? to_ns - from_ns : 0;
  fmt::format_to(std::back_inserter(out),
                 ",\n{{\"name\":\"{}\",\"cat\":\"stage\",\"ph\":\"X\",\"pid\":{},\"tid\":{},\"ts\":{}.{:03},"
                 "\"dur\":{}.{:03},\"args\":{}}}",
                 name, kPid, tid, start / 1000, start % 1000, dur / 1000, dur % 1000, args);
}

void track_name(fmt::memory_buffer& out, uint64_t tid, const std::string& name, uint64_t sort_index) {
  fmt::format_to(
      std::back_inserter(out),
      ",\n{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":{},\"tid\":{},\"args\":{{\"name\":\"{}\"}}}}"
      ",\n{{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":{},\"tid\":{},\"args\":{{\"sort_index\":{}}}}}",
      kPid, tid, name, kPid, tid, sort_index);
}

}  // namespace

RequestTrace::RequestTrace(TraceOptions options, int lanes, std::vector<std::string> models,
                           std::vector<std::string> listener_schemes)
    : options_(std::move(options)),
      lane_count_(static_cast<size_t>(std::max(1, lanes))),
      per_lane_(std::max<size_t>(1, options_.max_requests / lane_count_)),
      lanes_(std::make_unique<Lane[]>(lane_count_)),
      models_(std::move(models)),
      listener_schemes_(std::move(listener_schemes)),
      origin_ns_(core::now_ns()) {
  options_.sample_every = std::max<uint64_t>(1, options_.sample_every);
  // Uninitialised: the pages are touched as records arrive, not all at start-up.
  for (size_t i = 0; i < lane_count_; ++i) lanes_[i].slots = std::make_unique_for_overwrite<TracedRequest[]>(per_lane_);
}

bool RequestTrace::sample(int lane_index) noexcept {
  return lane(lane_index).seen.fetch_add(1, std::memory_order_relaxed) % options_.sample_every == 0;
}

void RequestTrace::record(int lane_index, const TracedRequest& request) noexcept {
  Lane& l = lane(lane_index);
  const size_t slot = l.used.fetch_add(1, std::memory_order_relaxed);
  if (slot >= per_lane_) {
    l.dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  l.slots[slot] = request;
}

uint64_t RequestTrace::recorded() const {
  uint64_t n = 0;
  for (size_t i = 0; i < lane_count_; ++i) n += std::min(lanes_[i].used.load(), per_lane_);
  return n;
}

uint64_t RequestTrace::dropped() const {
  uint64_t n = 0;
  for (size_t i = 0; i < lane_count_; ++i) n += lanes_[i].dropped.load();
  return n;
}

core::Status RequestTrace::write() const {
  fmt::memory_buffer out;
  fmt::format_to(std::back_inserter(out),
                 "{{\"displayTimeUnit\":\"ns\",\"otherData\":{{\"sample_every\":{},\"recorded\":{},\"dropped\":{}}},"
                 "\"traceEvents\":[\n{{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":{},\"args\":{{\"name\":"
                 "\"edgeserve serve\"}}}}",
                 options_.sample_every, recorded(), dropped(), kPid);
  for (size_t i = 0; i < lane_count_; ++i) track_name(out, i + 1, fmt::format("lane {}", i), i);
  const std::string kLocal = "local";
  std::map<uint64_t, uint64_t> connection_tracks;  // sender → tid, in order of first appearance
  for (size_t i = 0; i < lane_count_; ++i) {
    const size_t n = std::min(lanes_[i].used.load(), per_lane_);
    for (size_t k = 0; k < n; ++k) {
      const TracedRequest& r = lanes_[i].slots[k];
      const std::string& model = r.model < models_.size() ? models_[r.model] : std::string();
      const std::string& transport = r.listener < listener_schemes_.size() ? listener_schemes_[r.listener] : kLocal;
      auto [track, fresh] = connection_tracks.try_emplace(r.sender, kClientTrackBase + connection_tracks.size());
      if (fresh)
        track_name(out, track->second, fmt::format("client {} ({} connection)", r.client_id, transport), track->second);
      const std::string args = fmt::format(R"({{"id":{},"client":{},"model":"{}","transport":"{}","batch":{}}})",
                                           r.request_id, r.client_id, model, transport, r.batch_size);
      // The connection's track: the whole request, its handling (decode and admission) and its wait for a lane.
      span(out, "request", track->second, r.recv_ns, r.send_ns, origin_ns_, args);
      span(out, "handling", track->second, r.recv_ns, r.admitted_ns, origin_ns_, args);
      span(out, "queue", track->second, r.admitted_ns, r.started_ns, origin_ns_, args);
      // The lane's track: the engine's stage times laid end to end in the engine's order (the durations are
      // measured; their places within the run are not: copy is the host-to-device and device-to-host copies
      // together), kept inside the run, then the reply's assembly.
      uint64_t cursor = r.started_ns;
      const auto stage = [&](const char* name, uint64_t ns, bool always) {
        if (ns == 0 && !always) return;
        const uint64_t from = std::min(cursor, r.run_end_ns);
        const uint64_t to = std::min(from + ns, r.run_end_ns);
        span(out, name, i + 1, from, to, origin_ns_, args);
        cursor = to;
      };
      stage("decode", r.decode_ns, false);
      stage("preprocess", r.preprocess_ns, true);
      stage("copy", r.copy_ns, true);
      stage("inference", r.inference_ns, true);
      stage("postprocess", r.postprocess_ns, false);
      span(out, "response", i + 1, r.run_end_ns, r.send_ns, origin_ns_, args);
    }
  }
  fmt::format_to(std::back_inserter(out), "\n]}}\n");

  const std::filesystem::path tmp = options_.file.string() + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr)
    return {core::StatusCode::kInvalidArgument,
            fmt::format("cannot write the trace {}: {}", tmp.string(), std::generic_category().message(errno))};
  const bool written = std::fwrite(out.data(), 1, out.size(), f) == out.size();
  const bool closed = std::fclose(f) == 0;
  std::error_code ec;
  if (written && closed) std::filesystem::rename(tmp, options_.file, ec);
  if (!written || !closed || ec) {
    std::filesystem::remove(tmp, ec);
    return {core::StatusCode::kInternal, fmt::format("cannot write the trace {}", options_.file.string())};
  }
  return {};
}

}  // namespace edgeserve::server
