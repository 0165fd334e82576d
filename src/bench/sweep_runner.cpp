// The sweep: process sets, one bench per point, progress, sweep.json.
#include "bench/sweep_runner.h"

#include <fmt/format.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "bench/subprocess.h"
#include "core/log.h"

namespace edgeserve::bench {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
constexpr auto kStopGrace = std::chrono::seconds(10);
constexpr auto kStartBound = std::chrono::seconds(300);  // GPU servers load models and capture CUDA graphs

std::string scheme_of(const std::string& end) { return end == "tcp" ? "tcp" : "ucx"; }

// A process's own explanation of a failure, on one line: its last error line, else its last line.
std::string last_error_line(const Subprocess& p) {
  const std::string tail = p.log_tail(40);
  std::string reason;
  size_t start = 0;
  while (start < tail.size()) {
    const size_t end = std::min(tail.find('\n', start), tail.size());
    const std::string line = tail.substr(start, end - start);
    if (line.find("error") != std::string::npos || reason.empty()) reason = line;
    start = end + 1;
  }
  return reason;
}

std::string device_of(const Point& p, const SweepOptions& o, int server) {
  const auto& e = *p.experiment;
  const std::string device = o.device.empty() ? e.device : o.device;
  if (e.gpus.empty() || device == "cpu") return device;
  return fmt::format("cuda:{}", e.gpus[static_cast<size_t>(server) % e.gpus.size()]);
}

// What the processes of a point are, without the per-start ready files: equal plans share processes.
struct Plan {
  std::vector<std::vector<std::string>> servers;  // argv after the binary
  std::vector<std::string> gateway;               // empty: direct
  std::map<std::string, std::string> env;
  bool mps = false;
  std::string key() const { return nlohmann::json{{"s", servers}, {"g", gateway}, {"e", env}, {"m", mps}}.dump(); }
};

Plan plan_of(const Point& p, const SweepOptions& o) {
  Plan plan;
  plan.env = p.env;
  plan.mps = p.mps;
  if (p.transport == "local") return plan;
  const auto [front, back] = split_transport(p.transport);
  for (int i = 0; i < p.servers; ++i) {
    std::vector<std::string> a{"serve",
                               "--repo",
                               o.repo,
                               "--models",
                               p.model,
                               "--device",
                               device_of(p, o, i),
                               "--workers",
                               std::to_string(p.lanes),
                               "--policy",
                               p.policy,
                               "--listen",
                               scheme_of(back) + "://127.0.0.1:0"};
    if (back != "tcp") a.insert(a.end(), {"--landing", back == "gdr" ? "cuda" : "host"});
    a.insert(a.end(), p.server_args.begin(), p.server_args.end());
    plan.servers.push_back(std::move(a));
  }
  if (!front.empty()) {
    int workers = p.experiment->gateway_workers;
    if (workers == 0)
      for (int c : p.experiment->clients) workers = std::max(workers, c);
    plan.gateway = {"gateway", "--listen", scheme_of(front) + "://127.0.0.1:0", "--workers", std::to_string(workers)};
    plan.gateway.insert(plan.gateway.end(), p.gateway_args.begin(), p.gateway_args.end());
  }
  return plan;
}

// The running processes of one plan.
class ProcessSet {
 public:
  ProcessSet(const SweepOptions& o) : o_(o) {}
  ~ProcessSet() { stop(); }
  const std::string& key() const { return key_; }
  const std::string& target() const { return target_; }

  // Starts what `plan` needs; logs go to `log_dir`. An error says which process failed and why.
  core::Status start(const Plan& plan, const fs::path& log_dir) {
    key_ = plan.key();
    env_ = plan.env;
    if (plan.mps)
      if (auto s = start_mps(); !s.ok()) return s;
    std::vector<std::string> endpoints;
    for (size_t i = 0; i < plan.servers.size(); ++i) {
      auto ep = start_one(plan.servers[i], log_dir / fmt::format("server-{}.log", i), fmt::format("server {}", i));
      if (!ep.ok()) return ep.status();
      endpoints.push_back(*ep);
    }
    if (plan.gateway.empty()) {
      target_ = fmt::format("{}", fmt::join(endpoints, ","));
      return {};
    }
    std::vector<std::string> argv = plan.gateway;
    for (const auto& e : endpoints) argv.insert(argv.end(), {"--backend", e});
    auto ep = start_one(argv, log_dir / "gateway.log", "gateway");
    if (!ep.ok()) return ep.status();
    target_ = *ep;
    return {};
  }

  void stop() {
    // The gateway first (it holds connections to the servers), then the servers, then MPS.
    for (auto it = processes_.rbegin(); it != processes_.rend(); ++it) it->stop(kStopGrace);
    processes_.clear();
    if (mps_) stop_mps();
    key_.clear();
    target_.clear();
  }

  const std::map<std::string, std::string>& env() const { return env_; }
  // False when a process of the set has exited since it started (a crashed server is not reused).
  bool alive() {
    for (auto& p : processes_)
      if (!p.running()) return false;
    return true;
  }

 private:
  core::Result<std::string> start_one(std::vector<std::string> argv, const fs::path& log, const std::string& what) {
    const fs::path ready = log.parent_path() / (log.stem().string() + ".ready");
    std::error_code ec;
    fs::remove(ready, ec);
    argv.insert(argv.begin(), o_.binary);
    argv.insert(argv.end(), {"--ready-file", ready.string()});
    auto p = Subprocess::spawn(argv, env_, log);
    if (!p.ok()) return p.status();
    processes_.push_back(std::move(p.value()));
    auto& proc = processes_.back();
    const auto deadline = Clock::now() + kStartBound;
    while (!fs::exists(ready)) {
      if (auto code = proc.wait(std::chrono::milliseconds(20)))
        return core::Status(core::StatusCode::kInternal, fmt::format("{} exited with code {} before serving ({}): {}",
                                                                     what, *code, log.string(), proc.log_tail(3)));
      if (Clock::now() > deadline || (o_.interrupted && o_.interrupted->load()))
        return core::Status(core::StatusCode::kInternal,
                            fmt::format("{} not serving within {} s ({})", what, kStartBound.count(), log.string()));
    }
    std::ifstream in(ready);
    std::string endpoint;
    std::getline(in, endpoint);
    return endpoint;
  }

  core::Status start_mps() {
    const fs::path dir = fs::absolute(o_.out) / "mps";
    // The daemon's sockets live in the pipe folder, and a Unix socket path has at most 107 bytes.
    if ((dir / "pipe" / "control_privileged").string().size() > 107)
      return core::Status(core::StatusCode::kInternal,
                          fmt::format("MPS: {} is too long a path for the daemon's sockets; use a shorter --out",
                                      (dir / "pipe").string()));
    std::error_code ec;
    fs::create_directories(dir / "pipe", ec);
    fs::create_directories(dir / "log", ec);
    env_["CUDA_MPS_PIPE_DIRECTORY"] = (dir / "pipe").string();
    env_["CUDA_MPS_LOG_DIRECTORY"] = (dir / "log").string();
    // Each MPS client context takes CUDA_DEVICE_MAX_CONNECTIONS hardware work queues (8 by default) from the MPS
    // server's shared pool: on an H200 the fourth server's context found none left, and its model load failed with
    // "CUDA error: out of memory" (its image exports 32). With two per server, eight started (2026-11-30). The
    // experiment file's [processes] env may still choose another number; the inherited environment does not.
    if (!env_.contains("CUDA_DEVICE_MAX_CONNECTIONS")) env_["CUDA_DEVICE_MAX_CONNECTIONS"] = "2";
    auto p = Subprocess::spawn({"nvidia-cuda-mps-control", "-d"}, env_, dir / "control.log");
    if (!p.ok()) return core::Status(core::StatusCode::kInternal, "MPS: " + p.status().message());
    const auto code = p->wait(std::chrono::seconds(30));
    if (!code || *code != 0)
      return core::Status(
          core::StatusCode::kInternal,
          fmt::format("MPS: nvidia-cuda-mps-control -d failed ({}): {}",
                      code ? fmt::format("exit code {}", *code) : "no exit within 30 s", p->log_tail(5)));
    mps_ = true;
    return {};
  }

  void stop_mps() {
    const fs::path dir = fs::absolute(o_.out) / "mps";
    std::ofstream(dir / "quit") << "quit\n";
    auto p = Subprocess::spawn({"nvidia-cuda-mps-control"}, env_, dir / "control.log", dir / "quit");
    if (p.ok() && !p->wait(std::chrono::seconds(30))) p->stop(kStopGrace);
    mps_ = false;
  }

  const SweepOptions& o_;
  std::vector<Subprocess> processes_;
  std::map<std::string, std::string> env_;
  std::string key_, target_;
  bool mps_ = false;
};

std::vector<std::string> bench_argv(const Point& p, const SweepOptions& o, const std::string& target,
                                    const fs::path& dir) {
  const auto& e = *p.experiment;
  std::vector<std::string> a{o.binary,       "bench",
                             "--target",     target,
                             "--model",      p.model,
                             "--repo",       o.repo,
                             "--clients",    std::to_string(p.clients),
                             "--requests",   std::to_string(e.requests),
                             "--warmup",     std::to_string(e.warmup),
                             "--input",      p.input,
                             "--timeout-ms", std::to_string(e.timeout_ms),
                             "--out",        dir.string(),
                             "--no-progress"};
  if (p.transport == "local") a.insert(a.end(), {"--device", device_of(p, o, 0)});
  if (e.priority_clients > 0) a.insert(a.end(), {"--priority-clients", std::to_string(e.priority_clients)});
  if (p.rate > 0) a.insert(a.end(), {"--rate", fmt::format("{}", p.rate)});
  a.insert(a.end(), p.bench_args.begin(), p.bench_args.end());
  return a;
}

std::string mmss(double s) {
  const int t = static_cast<int>(s + 0.5);
  return fmt::format("{:02}:{:02}", t / 60, t % 60);
}

}  // namespace

core::Result<std::vector<Point>> sweep_points(const std::vector<Experiment>& experiments) {
  std::vector<Point> points;
  std::set<std::string> names;
  for (const auto& e : experiments)
    for (auto& p : expand_grid(e)) {
      if (!names.insert(p.name).second)
        return core::Status(core::StatusCode::kInternal,
                            fmt::format("two points are named {} (is an experiment given twice?)", p.name));
      points.push_back(std::move(p));
    }
  return points;
}

SweepOutcome run_sweep(const std::vector<Experiment>& experiments, const SweepOptions& options) {
  auto log = core::logger("sweep");
  SweepOptions o = options;
  if (o.binary.empty()) o.binary = self_executable();
  SweepOutcome outcome;
  auto points = sweep_points(experiments);
  if (!points.ok()) {
    log->error("{}", points.status().message());
    outcome.failed = 1;
    return outcome;
  }
  outcome.points = static_cast<int>(points->size());
  // The report reads these copies: the grid and the plots as they were measured. A dry run writes nothing.
  std::error_code ec;
  if (!o.dry_run) {
    fs::create_directories(o.out / "experiments", ec);
    for (const auto& e : experiments)
      if (!ec)
        fs::copy_file(e.file, o.out / "experiments" / (e.name + ".toml"), fs::copy_options::overwrite_existing, ec);
  }
  if (ec) {
    log->error("cannot write the experiment files into {}/experiments: {}", o.out.string(), ec.message());
    outcome.failed = 1;
    return outcome;
  }

  // sweep.json: what happened to every point, kept across resumed runs.
  const fs::path record_file = o.out / "sweep.json";
  nlohmann::json record = {{"points", nlohmann::json::object()}};
  if (std::ifstream in(record_file); in) {
    auto old = nlohmann::json::parse(in, nullptr, false);
    if (old.is_object() && old["points"].is_object()) record = old;
  }
  auto save = [&] {
    record["interrupted"] = outcome.interrupted;
    std::ofstream(record_file.string() + ".tmp") << record.dump(2) << '\n';
    std::error_code rename_error;
    fs::rename(record_file.string() + ".tmp", record_file, rename_error);
    if (rename_error) log->error("cannot write {}: {}", record_file.string(), rename_error.message());
  };

  ProcessSet running(o);
  double measured_s = 0;
  int measured = 0;
  const auto interrupted = [&] { return o.interrupted && o.interrupted->load(); };
  for (size_t k = 0; k < points->size() && !interrupted(); ++k) {
    const Point& p = (*points)[k];
    const fs::path dir = o.out / p.name;
    auto& entry = record["points"][p.name];
    entry["experiment"] = p.experiment->name;
    entry["axes"] = p.axes();
    const std::string step = fmt::format("[{}/{}] {}", k + 1, points->size(), p.name);
    if (fs::exists(dir / "summary.json")) {
      ++outcome.skipped;
      if (!entry.contains("status")) entry["status"] = "ok";
      fmt::print(stderr, "{} … measured before, skipped\n", step);
      continue;
    }
    const size_t left = points->size() - k;
    fmt::print(stderr, "{} … ETA {}\n", step,
               measured ? mmss(measured_s / measured * static_cast<double>(left)) : std::string("--:--"));
    if (o.dry_run) continue;
    fs::create_directories(dir, ec);
    const auto t0 = Clock::now();
    std::string status = "ok", reason;
    const Plan plan = plan_of(p, o);
    if (running.key() != plan.key() || !running.alive()) {
      running.stop();
      if (auto s = running.start(plan, dir); !s.ok()) {
        status = interrupted() ? "interrupted" : "failed";
        reason = s.message();
        running.stop();
      }
    }
    if (status == "ok") {
      const std::string target = p.transport == "local" ? "local" : running.target();
      auto bench = Subprocess::spawn(bench_argv(p, o, target, dir), running.env(), dir / "bench.log");
      if (!bench.ok()) {
        status = "failed";
        reason = bench.status().message();
      } else {
        const auto deadline = t0 + std::chrono::duration<double>(p.experiment->point_timeout_s);
        bool forwarded = false;
        std::optional<int> code;
        while (!(code = bench->wait(std::chrono::milliseconds(50)))) {
          if (interrupted() && !forwarded) {
            bench->signal(SIGINT);  // it writes what it measured and exits 130
            forwarded = true;
          }
          if (Clock::now() > deadline) {
            code = bench->stop(kStopGrace);
            reason = fmt::format("point took longer than point_timeout_s = {} s", p.experiment->point_timeout_s);
            break;
          }
        }
        if (*code == 0 && reason.empty()) {
          status = "ok";
        } else if (*code == 130 || forwarded) {
          status = "interrupted";
          reason = "interrupted: what was measured is in summary.interrupted.json";
        } else {
          status = "failed";
          if (reason.empty()) reason = fmt::format("bench exited with code {}: {}", *code, last_error_line(*bench));
        }
      }
      if (status != "ok") {
        // Only complete results keep the name summary.json, so a resumed sweep measures this point again.
        if (fs::exists(dir / "summary.json"))
          fs::rename(dir / "summary.json", dir / fmt::format("summary.{}.json", status), ec);
        running.stop();
      }
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    measured_s += seconds;
    ++measured;
    entry["status"] = status;
    entry["reason"] = reason;
    entry["seconds"] = seconds;
    entry["target"] = p.transport == "local" ? "local" : running.target();
    if (status == "ok") ++outcome.ok;
    if (status == "failed") ++outcome.failed;
    if (status == "interrupted") outcome.interrupted = true;
    std::string result;
    if (status == "ok")
      if (std::ifstream in(dir / "summary.json"); in) {
        const auto summary = nlohmann::json::parse(in, nullptr, false);
        const auto total = summary.is_object() && summary.contains("metrics") && summary["metrics"].is_object()
                               ? summary["metrics"].value("total-time", nlohmann::json::object())
                               : nlohmann::json::object();
        if (total.is_object() && total.value("p50", nlohmann::json()).is_number() &&
            total.value("p99", nlohmann::json()).is_number())
          result = fmt::format(": total-time p50 {:.3f} ms, p99 {:.3f} ms", total["p50"].get<double>(),
                               total["p99"].get<double>());
      }
    fmt::print(stderr, "{}: {} ({:.1f} s){}{}{}\n", step, status, seconds, result, reason.empty() ? "" : ": ", reason);
    save();
  }
  running.stop();
  outcome.interrupted = outcome.interrupted || interrupted();
  if (!o.dry_run) save();
  return outcome;
}

}  // namespace edgeserve::bench
