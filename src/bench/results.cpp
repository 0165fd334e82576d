// requests.csv, summary.json and the terminal table.
#include "bench/results.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <limits>

#include "core/allocator_info.h"
#include "core/build_info.h"
#include "metrics/host_info.h"
#include "metrics/summary_stats.h"

namespace edgeserve::bench {

namespace {

double metric_of(const RequestRecord& r, std::string_view name) {
  if (name == "total-time") return r.total_ms;
  if (name == "request-time") return r.request_ms;
  if (name == "response-time") return r.response_ms;
  if (name == "copy-time") return r.copy_ms;
  if (name == "preprocessing-time") return r.preprocess_ms;
  if (name == "inference-time") return r.inference_ms;
  if (name == "postprocessing-time") return r.postprocess_ms;
  if (name == "queue-time") return r.queue_ms;
  if (name == "batching-time") return r.batching_ms;
  if (name == "decode-time") return r.decode_ms;
  if (name == "batch-size") return r.batch_size;
  if (name == "handling-time") return r.handling_ms;
  if (name == "server-time") return r.server_ms;
  if (name == "transport-time") return r.total_ms - r.server_ms;
  if (name == "request-post-time") return r.request_post_ms;
  if (name == "gateway-time") return r.gateway_ms;
  if (name == "backend-hop-time") return r.backend_hop_ms;
  return std::numeric_limits<double>::quiet_NaN();
}

nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

nlohmann::json stats_json(const metrics::SummaryStats& s) {
  // count is the number of samples behind every percentile; p99 of fewer than 100 is flagged.
  return {{"unit", metrics::kTimeUnit},
          {"count", s.count},
          {"mean", s.mean},
          {"std", s.std},
          {"cov", s.cov},
          {"min", s.min},
          {"p50", s.p50},
          {"p90", s.p90},
          {"p99", s.p99},
          {"max", s.max},
          {"p99_reliable", s.count >= metrics::kMinSamplesForP99}};
}

std::string utc_now_iso8601() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

// The command line as a shell would take it back: words with spaces or quotes single-quoted.
std::string shell_join(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    if (!a.empty() && a.find_first_of(" \t'\"$\\") == std::string::npos) {
      out += a;
      continue;
    }
    out += '\'';
    for (char c : a) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    out += '\'';
  }
  return out;
}

nlohmann::json metric_table(const std::vector<const RequestRecord*>& records) {
  nlohmann::json table = nlohmann::json::object();
  std::vector<double> samples;
  for (const char* name : kTimeMetrics) {
    samples.clear();
    for (const auto* r : records) samples.push_back(metric_of(*r, name));
    table[name] = stats_json(metrics::summarize(samples));
  }
  samples.clear();
  for (const auto* r : records) samples.push_back(r->batch_size);
  table[metrics::kBatchSize] = stats_json(metrics::summarize(samples));
  table[metrics::kBatchSize]["unit"] = "requests";
  return table;
}

}  // namespace

nlohmann::json describe_run(const RunContext& context) {
  const metrics::HostInfo host = metrics::host_info();
  nlohmann::json gpu = nullptr;
  if (!host.gpus.empty() || !host.gpu_driver.empty())
    gpu = {{"names", host.gpus},
           {"driver", host.gpu_driver.empty() ? nlohmann::json(nullptr) : nlohmann::json(host.gpu_driver)},
           {"cuda", context.cuda_runtime.empty() ? nlohmann::json(nullptr) : nlohmann::json(context.cuda_runtime)}};
  return {
      {"edgeserve",
       {{"version", core::build_version()}, {"commit", core::build_commit()}, {"allocator", core::allocator_name()}}},
      {"date", utc_now_iso8601()},
      {"machine",
       {{"host", host.hostname},
        {"cpu_model", host.cpu_model},
        {"cpus", host.cpus},
        {"kernel", host.kernel},
        {"gpu", gpu}}},
      {"command_line", shell_join(context.command_line)},
      {"environment",
       context.environment ? *context.environment : metrics::environment_with_prefixes(kRecordedEnvironment)}};
}

nlohmann::json summarize(const BenchResult& result, const BenchOptions& o, const Input& input,
                         const RunContext& context) {
  nlohmann::json j = describe_run(context);
  j["schema_version"] = 2;
  j["config"] = {{"target", o.target},
                 {"model", o.model},
                 {"clients", o.clients},
                 {"requests_per_client", o.requests},
                 {"warmup_per_client", o.warmup},
                 {"input_kind", core::to_string(input.kind)},
                 {"input", input.description},
                 {"input_bytes", input.bytes.size()},
                 {"timeout_ms", o.timeout.count()},
                 {"payload", o.payload_on_device ? "device memory (local on GPU: no H2D)" : "host memory"},
                 {"host", j["machine"]["host"]}};
  const uint64_t unanswered = result.sent - result.replied;
  j["requests"] = {{"sent", result.sent},
                   {"replied", result.replied},
                   {"ok", result.ok},
                   {"server_errors", result.server_errors},
                   {"timeouts", result.timeouts},
                   {"transport_errors", result.transport_errors},
                   {"unanswered", unanswered},
                   {"not_sent", result.not_sent},
                   {"gave_up", result.gave_up}};
  // What the link really was: for UCX the transports each side's endpoint uses (shared memory on one host
  // is not RDMA, whatever the landing memory is called).
  j["link"] = {{"kind", result.link.kind},
               {"library", result.link.library},
               {"landing", result.link.landing},
               {"client_transports", result.link.client_transports},
               {"server_transports", result.link.server_transports}};
  j["wall_s"] = result.wall_s;
  j["throughput_rps"] = result.wall_s > 0 ? static_cast<double>(result.ok) / result.wall_s : 0.0;

  std::vector<const RequestRecord*> ok;
  for (const auto& r : result.records)
    if (r.status == "ok") ok.push_back(&r);
  j["metrics"] = metric_table(ok);
  // Processing time (preprocessing + inference): its CoV is the paper's predictability measure (Fig. 15c).
  {
    std::vector<double> processing;
    for (const auto* r : ok) processing.push_back(r->preprocess_ms + r->inference_ms);
    j["metrics"][metrics::kProcessingTime] = stats_json(metrics::summarize(processing));
  }
  if (o.priority_clients > 0) {
    std::vector<const RequestRecord*> urgent, normal;
    for (const auto* r : ok) (r->priority > 0 ? urgent : normal).push_back(r);
    j["by_priority"] = {{"priority", metric_table(urgent)}, {"normal", metric_table(normal)}};
  }

  // Server CPU per request: the growth of the server's cumulative CPU time over the measured replies.
  double cpu_lo = std::numeric_limits<double>::infinity(), cpu_hi = -cpu_lo, rss_max = 0, gpu_max = 0;
  bool same_clock = !ok.empty();
  for (const auto* r : ok) {
    cpu_lo = std::min(cpu_lo, r->server_cpu_ms);
    cpu_hi = std::max(cpu_hi, r->server_cpu_ms);
    rss_max = std::max(rss_max, r->server_rss_mb);
    gpu_max = std::max(gpu_max, r->gpu_mem_mb);
    same_clock = same_clock && r->same_clock;
  }
  const double cpu_per_request = ok.size() > 1 ? (cpu_hi - cpu_lo) / static_cast<double>(ok.size() - 1) : NAN;
  j[metrics::kCpuUsage] = {
      {"unit", "ms CPU per request (server process, user+system)"},
      {"server_cpu_ms_per_request", number_or_null(cpu_per_request)},
      {"note",
       o.target == "local" ? "local: the server pipeline shares the process with the clients" : "server process only"}};
  // A server without a GPU reports 0 bytes of GPU memory: not measured, so null (never 0).
  j[metrics::kMemoryUsage] = {{"unit", "MB"},
                              {"server_rss_mb_max", rss_max},
                              {"gpu_mem_mb_max", gpu_max > 0 ? nlohmann::json(gpu_max) : nlohmann::json(nullptr)}};
  const double sent = static_cast<double>(std::max<uint64_t>(result.sent, 1));
  j[metrics::kClientUsage] = {{"unit", "per request sent (the bench process: every client thread, user+system CPU)"},
                              {"cpu_ms_per_request", result.client_cpu_s * 1e3 / sent},
                              {"minor_page_faults_per_request", static_cast<double>(result.client_minor_faults) / sent},
                              {"note", o.target == "local" ? "local: includes the in-process server" : "clients only"}};
  j["timing_split"] = same_clock ? "same-clock: request/response-time from the shared monotonic clock of one host"
                                 : "request-time = total-time - server-time; response-time not measured";
  return j;
}

core::Status write_results(const std::filesystem::path& dir, const BenchResult& result, const nlohmann::json& summary) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return {core::StatusCode::kInternal, fmt::format("cannot create {}: {}", dir.string(), ec.message())};
  {
    std::ofstream csv(dir / "requests.csv");
    if (!csv) return {core::StatusCode::kInternal, fmt::format("cannot write {}", (dir / "requests.csv").string())};
    csv << "client,seq,request_id,status," << metrics::kCsvSentAt;
    for (const char* name : kTimeMetrics) csv << ',' << metrics::csv_column(name, metrics::kTimeUnit);
    csv << ',' << metrics::kBatchSize << ',' << metrics::kCsvCpuCumulative << ',' << metrics::kCsvRss << ','
        << metrics::kCsvGpuMemory << ",same-clock,priority,error\n";
    auto num = [](double v) { return std::isfinite(v) ? fmt::format("{:.6f}", v) : std::string(); };
    uint64_t first_send = std::numeric_limits<uint64_t>::max();
    for (const auto& r : result.records) first_send = std::min(first_send, r.start_ns);
    for (const auto& r : result.records) {
      csv << r.client << ',' << r.seq << ',' << r.request_id << ',' << r.status << ','
          << num(static_cast<double>(r.start_ns - first_send) / 1e9);
      for (const char* name : kTimeMetrics) csv << ',' << num(metric_of(r, name));
      csv << ',' << num(r.batch_size) << ',' << num(r.server_cpu_ms) << ',' << num(r.server_rss_mb) << ','
          << num(r.gpu_mem_mb > 0 ? r.gpu_mem_mb : std::numeric_limits<double>::quiet_NaN()) << ','
          << (r.same_clock ? 1 : 0) << ',' << static_cast<int>(r.priority) << ',' << csv_field(r.error) << '\n';
    }
  }
  std::ofstream js(dir / "summary.json");
  if (!js) return {core::StatusCode::kInternal, fmt::format("cannot write {}", (dir / "summary.json").string())};
  js << summary.dump(2) << '\n';
  return {};
}

std::string format_table(const nlohmann::json& s) {
  const auto& c = s["config"];
  const auto& rq = s["requests"];
  std::string out = fmt::format("edgeserve bench: {} → {} | {} client(s) × {} requests | input {}\n",
                                c["model"].get<std::string>(), c["target"].get<std::string>(), c["clients"].get<int>(),
                                c["requests_per_client"].get<int>(), c["input"].get<std::string>());
  if (s.contains("edgeserve") && s.contains("machine"))
    out += fmt::format("edgeserve {} ({}) on {} | {} | {}\n", s["edgeserve"]["version"].get<std::string>(),
                       s["edgeserve"]["commit"].get<std::string>(), s["machine"]["host"].get<std::string>(),
                       s["machine"]["cpu_model"].get<std::string>(), s["date"].get<std::string>());
  if (s.contains("link") && !s["link"]["client_transports"].empty())
    out += fmt::format(
        "link: {} over {} (landing {}) | client lanes [{}] | server lanes [{}]\n", s["link"]["kind"].get<std::string>(),
        s["link"]["library"].get<std::string>(), s["link"]["landing"].get<std::string>(),
        fmt::format("{}", fmt::join(s["link"]["client_transports"].get<std::vector<std::string>>(), ", ")),
        fmt::format("{}", fmt::join(s["link"]["server_transports"].get<std::vector<std::string>>(), ", ")));
  out += fmt::format("{:<20}{:>10}{:>10}{:>10}{:>10}{:>10}{:>8}\n", "metric (ms)", "mean", "p50", "p90", "p99", "max",
                     "CoV");
  bool few_samples = false;
  for (const char* name : kTimeMetrics) {
    const auto& m = s["metrics"][name];
    if (m["count"].get<size_t>() == 0) {
      // Metrics only some links have (ucx, a gateway) are left out rather than shown empty.
      const std::string_view n = name;
      if (n != "request-post-time" && n != "gateway-time" && n != "backend-hop-time" && n != "decode-time")
        out += fmt::format("{:<20}{:>10}\n", name, "n/a");
      continue;
    }
    const bool few = m["count"].get<size_t>() < metrics::kMinSamplesForP99;
    few_samples = few_samples || few;
    out += fmt::format("{:<20}{:>10.3f}{:>10.3f}{:>10.3f}{:>10}{:>10.3f}{:>8.3f}\n", name, m["mean"].get<double>(),
                       m["p50"].get<double>(), m["p90"].get<double>(),
                       fmt::format("{:.3f}{}", m["p99"].get<double>(), few ? "*" : ""), m["max"].get<double>(),
                       m["cov"].get<double>());
  }
  if (const auto& b = s["metrics"][metrics::kBatchSize];
      b.is_object() && b["count"].get<size_t>() > 0 && b["max"].get<double>() > 1)
    out += fmt::format("{:<20}{:>10.2f}{:>10.0f}{:>10.0f}{:>10.0f}{:>10.0f}\n", "batch-size (requests)",
                       b["mean"].get<double>(), b["p50"].get<double>(), b["p90"].get<double>(), b["p99"].get<double>(),
                       b["max"].get<double>());
  if (few_samples)
    out += fmt::format("* p99 from fewer than {} samples: read it as an estimate near the max\n",
                       metrics::kMinSamplesForP99);
  const auto& cpu = s[metrics::kCpuUsage]["server_cpu_ms_per_request"];
  const auto& memory = s[metrics::kMemoryUsage];
  out +=
      fmt::format("throughput {:.1f} req/s over {:.2f} s | {} {} ms/request (server CPU) | {} {:.0f} MB (server RSS)",
                  s["throughput_rps"].get<double>(), s["wall_s"].get<double>(), metrics::kCpuUsage,
                  cpu.is_null() ? std::string("n/a") : fmt::format("{:.3f}", cpu.get<double>()), metrics::kMemoryUsage,
                  memory["server_rss_mb_max"].get<double>());
  if (memory["gpu_mem_mb_max"].is_number())
    out += fmt::format(", GPU {:.0f} MB", memory["gpu_mem_mb_max"].get<double>());
  out += fmt::format(" | {} CoV {:.3f}\n", metrics::kProcessingTime,
                     s["metrics"][metrics::kProcessingTime]["cov"].get<double>());
  if (s.contains(metrics::kClientUsage)) {  // summaries written before 2026-12-01 have none
    const auto& client = s[metrics::kClientUsage];
    out +=
        fmt::format("{}: {:.3f} ms CPU, {:.0f} minor page faults per request (bench process)\n", metrics::kClientUsage,
                    client["cpu_ms_per_request"].get<double>(), client["minor_page_faults_per_request"].get<double>());
  }
  if (s.contains("by_priority"))
    for (const char* group : {"priority", "normal"}) {
      const auto& t = s["by_priority"][group]["total-time"];
      if (t["count"].get<size_t>() > 0)
        out += fmt::format("{:<8} clients: total-time p50 {:.3f} ms, p99 {:.3f} ms ({} requests)\n", group,
                           t["p50"].get<double>(), t["p99"].get<double>(), t["count"].get<size_t>());
    }
  out += fmt::format("requests: {} sent, {} ok, {} server errors, {} timeouts, {} transport errors\n",
                     rq["sent"].get<uint64_t>(), rq["ok"].get<uint64_t>(), rq["server_errors"].get<uint64_t>(),
                     rq["timeouts"].get<uint64_t>(), rq["transport_errors"].get<uint64_t>());
  out += fmt::format("timing split: {}\n", s["timing_split"].get<std::string>());
  for (const auto& line : rq["gave_up"]) out += "gave up: " + line.get<std::string>() + "\n";
  return out;
}

}  // namespace edgeserve::bench
