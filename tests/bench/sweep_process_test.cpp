// `edgeserve sweep` and `edgeserve report` as real processes: the CI smoke sweep (tiny on CPU, tcp vs local)
// measured, reported (CSV, Markdown, PNG) and resumed without repeating anything; a malformed experiment file
// refused with file:line; a failing point recorded while the sweep goes on.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "../support/child_process.h"

namespace edgeserve {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using testing::ChildProcess;
using testing::TempDir;

struct Run {
  int exit_code = -1;
  std::string log;
};

Run edgeserve(const fs::path& log, std::vector<std::string> args) {
  args.insert(args.begin(), testing::edgeserve_binary());
  ChildProcess p(args, log);
  const auto code = p.wait(600s);
  return {code ? *code : -1, p.log()};
}

Run sweep(const fs::path& out, const std::vector<std::string>& files, const std::string& log_name = "sweep.log") {
  std::vector<std::string> args{"sweep"};
  args.insert(args.end(), files.begin(), files.end());
  args.insert(args.end(), {"--out", out.string(), "--repo", testing::test_models_dir().string()});
  return edgeserve(out.parent_path() / log_name, args);
}

std::vector<std::vector<std::string>> read_csv(const fs::path& file) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.emplace_back();
    rows.push_back(cells);
  }
  return rows;
}

nlohmann::json read_json(const fs::path& file) {
  std::ifstream in(file);
  return in ? nlohmann::json::parse(in, nullptr, false) : nlohmann::json();
}

const fs::path kSmoke = fs::path(EDGESERVE_SOURCE_DIR) / "experiments" / "smoke_tiny.toml";

// The smoke sweep, its report and its resumption, in that order. ctest runs every test in its own process, so
// they are one test (each step in a function of its own) rather than four that would each sweep again.
struct SmokeSweep {
  TempDir dir;
  Run first, report;
  fs::path out() const { return dir.path() / "results"; }
};

void measures_every_point_with_progress(const SmokeSweep& t) {
  ASSERT_EQ(t.first.exit_code, 0) << t.first.log;
  EXPECT_NE(t.first.log.find("[1/2] smoke_tiny-tcp-tiny-raw-c1-l1-per-client"), std::string::npos) << t.first.log;
  EXPECT_NE(t.first.log.find("ETA"), std::string::npos) << t.first.log;
  const auto record = read_json(t.out() / "sweep.json");
  ASSERT_TRUE(record.is_object()) << t.first.log;
  ASSERT_EQ(record["points"].size(), 2u) << record.dump(2);
  for (const auto& [name, point] : record["points"].items()) {
    EXPECT_EQ(point["status"], "ok") << name << ": " << point.dump();
    EXPECT_TRUE(fs::exists(t.out() / name / "summary.json")) << name;
    EXPECT_TRUE(fs::exists(t.out() / name / "requests.csv")) << name;
  }
  EXPECT_TRUE(fs::exists(t.out() / "experiments" / "smoke_tiny.toml")) << "the report reads the copy";
}

void report_writes_sane_csv_and_markdown(const SmokeSweep& t) {
  ASSERT_EQ(t.first.exit_code, 0) << t.first.log;
  ASSERT_EQ(t.report.exit_code, 0) << t.report.log;
  const auto rows = read_csv(t.out() / "report" / "figsmoke.csv");
  ASSERT_EQ(rows.size(), 3u) << "header + one row per point";
  const auto& head = rows[0];
  auto col = [&](const std::string& name) {
    const auto it = std::find(head.begin(), head.end(), name);
    EXPECT_NE(it, head.end()) << "no column " << name;
    return static_cast<size_t>(it - head.begin());
  };
  std::set<std::string> transports;
  for (size_t r = 1; r < rows.size(); ++r) {
    ASSERT_EQ(rows[r].size(), head.size()) << "row " << r;
    EXPECT_EQ(rows[r][col("status")], "ok");
    transports.insert(rows[r][col("transport")]);
    for (const char* metric : {"total-time-p50-ms", "total-time-p99-ms", "inference-time-mean-ms",
                               "preprocessing-time-mean-ms", "throughput-rps"}) {
      const std::string cell = rows[r][col(metric)];
      ASSERT_FALSE(cell.empty()) << metric;
      EXPECT_GT(std::stod(cell), 0) << metric;
    }
    EXPECT_GE(std::stod(rows[r][col("total-time-p99-ms")]), std::stod(rows[r][col("total-time-p50-ms")]));
    EXPECT_EQ(std::stod(rows[r][col("requests-ok")]), 20);
  }
  EXPECT_EQ(transports, (std::set<std::string>{"tcp", "local"}));
  std::ifstream md(t.out() / "report" / "figsmoke.md");
  std::stringstream text;
  text << md.rdbuf();
  EXPECT_NE(text.str().find("total-time-p50-ms"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("| tcp |"), std::string::npos) << text.str();
  // The figure names the machine its points ran on (from their summaries): absolute times hold only there.
  EXPECT_NE(text.str().find("Machine: "), std::string::npos) << text.str();
  EXPECT_NE(text.str().find(" CPUs ("), std::string::npos) << text.str();
  EXPECT_EQ(read_csv(t.out() / "report" / "figsmoke_stages.csv").size(), 3u);
}

bool report_draws_pngs_when_matplotlib_is_there(const SmokeSweep& t) {
  if (t.report.exit_code != 0) return true;  // reported above
  // The python report uses: $EDGESERVE_PYTHON, else /usr/bin/python3 (the GPU host's env.sh sets its venv's).
  const char* env = std::getenv("EDGESERVE_PYTHON");
  const std::string python = env && *env ? env : "/usr/bin/python3";
  if (std::system((python + " -c 'import matplotlib' >/dev/null 2>&1").c_str()) != 0) {
    EXPECT_NE(t.report.log.find("no PNG"), std::string::npos) << "the report says why: " << t.report.log;
    return false;
  }
  for (const char* png : {"figsmoke.png", "figsmoke_stages.png"}) {
    const bool exists = fs::exists(t.out() / "report" / png);
    EXPECT_TRUE(exists) << png << ": " << t.report.log;
    if (exists) {
      EXPECT_GT(fs::file_size(t.out() / "report" / png), 5000u) << png;
    }
  }
  return true;
}

void resume_repeats_nothing(const SmokeSweep& t) {
  ASSERT_EQ(t.first.exit_code, 0) << t.first.log;
  std::map<std::string, fs::file_time_type> before;
  for (const auto& e : fs::recursive_directory_iterator(t.out()))
    if (e.path().filename() == "summary.json" || e.path().filename() == "bench.log")
      before[e.path().string()] = fs::last_write_time(e.path());
  ASSERT_EQ(before.size(), 4u);
  const auto again = sweep(t.out(), {kSmoke.string()}, "resume.log");
  ASSERT_EQ(again.exit_code, 0) << again.log;
  EXPECT_NE(again.log.find("2 skipped"), std::string::npos) << again.log;
  EXPECT_EQ(again.log.find("server"), std::string::npos) << "no process was started: " << again.log;
  for (const auto& [file, time] : before) EXPECT_EQ(fs::last_write_time(file), time) << file << " was rewritten";
}

TEST(Sweep, SmokeSweepReportAndResume) {
  SmokeSweep t;
  t.first = sweep(t.out(), {kSmoke.string()});
  t.report = edgeserve(t.dir.path() / "report.log", {"report", t.out().string()});
  {
    SCOPED_TRACE("sweep");
    measures_every_point_with_progress(t);
  }
  {
    SCOPED_TRACE("report");
    report_writes_sane_csv_and_markdown(t);
  }
  bool drew = false;
  {
    SCOPED_TRACE("png");
    drew = report_draws_pngs_when_matplotlib_is_there(t);
  }
  {
    SCOPED_TRACE("resume");
    resume_repeats_nothing(t);
  }
  if (!drew) GTEST_SKIP() << "the report's python cannot import matplotlib: PNGs not checked";
}

TEST(SweepFile, MalformedFileIsRefusedWithFileLineAndReason) {
  TempDir dir;
  const fs::path bad = dir.path() / "bad.toml";
  std::ofstream(bad) << "[experiment]\nname = \"bad\"\nrequest = 3\n";
  auto run = sweep(dir.path() / "out", {bad.string()});
  EXPECT_EQ(run.exit_code, 2) << run.log;
  EXPECT_NE(run.log.find(bad.string() + ":3:"), std::string::npos) << run.log;
  EXPECT_NE(run.log.find("unknown key 'request'"), std::string::npos) << run.log;

  std::ofstream(bad) << "[experiment]\nname = \"bad\"\n[grid]\nclients = [1, 2\n";
  run = sweep(dir.path() / "out", {bad.string()});
  EXPECT_EQ(run.exit_code, 2) << run.log;
  EXPECT_NE(run.log.find(bad.string() + ":4:"), std::string::npos) << run.log;

  std::ofstream(bad) << "[experiment]\nname = \"bad\"\n[grid]\ntransport = [\"tcp\", \"carrier-pigeon\"]\n";
  run = sweep(dir.path() / "out", {bad.string()});
  EXPECT_EQ(run.exit_code, 2) << run.log;
  EXPECT_NE(run.log.find("transport 'carrier-pigeon'"), std::string::npos) << run.log;
  EXPECT_FALSE(fs::exists(dir.path() / "out" / "sweep.json")) << "nothing runs from a malformed file";
}

TEST(SweepFile, ADryRunListsThePointsAndWritesNothing) {
  TempDir dir;
  const fs::path out = dir.path() / "out";
  const auto run = edgeserve(dir.path() / "dry.log", {"sweep", kSmoke.string(), "--dry-run", "--out", out.string(),
                                                      "--repo", testing::test_models_dir().string()});
  EXPECT_EQ(run.exit_code, 0) << run.log;
  EXPECT_NE(run.log.find("point(s)"), std::string::npos) << run.log;
  EXPECT_FALSE(fs::exists(out)) << "a dry run wrote into --out";
}

TEST(SweepFile, FailingPointIsRecordedAndTheSweepGoesOn) {
  TempDir dir;
  const fs::path file = dir.path() / "mixed.toml";
  std::ofstream(file) << "[experiment]\nname = \"mixed\"\n[run]\nrequests = 5\nwarmup = 1\n"
                         "[grid]\ntransport = [\"tcp\", \"local\"]\nmodel = [\"nope\", \"tiny\"]\n";
  const fs::path out = dir.path() / "out";
  auto run = sweep(out, {file.string()});
  EXPECT_EQ(run.exit_code, 1) << run.log;
  const auto record = read_json(out / "sweep.json");
  ASSERT_TRUE(record.is_object()) << run.log;
  ASSERT_EQ(record["points"].size(), 4u) << record.dump(2);
  for (const auto& [name, point] : record["points"].items()) {
    const bool bad = name.find("-nope-") != std::string::npos;
    EXPECT_EQ(point["status"], bad ? "failed" : "ok") << name << ": " << point.dump();
    EXPECT_EQ(fs::exists(out / name / "summary.json"), !bad) << name;
    if (bad) {
      EXPECT_NE(point["reason"].get<std::string>().find("nope"), std::string::npos) << point.dump();
    }
  }
}

// Ctrl-C keeps what the running point measured, under a name that a resumed sweep measures again, stops the
// processes the sweep started and exits 130.
TEST(Sweep, InterruptKeepsWhatWasMeasuredAndStopsTheServer) {
  TempDir dir;
  const fs::path file = dir.path() / "long.toml";
  std::ofstream(file) << "[experiment]\nname = \"long\"\n[run]\nrequests = 10000000\nwarmup = 1\n"
                         "[processes]\nserver_args = [\"--intra-op-threads\", \"1\"]\n"
                         "[grid]\ntransport = [\"tcp\"]\n";
  const fs::path out = dir.path() / "out";
  const fs::path point = out / "long-tcp-tiny-raw-c1-l1-per-client";
  ChildProcess p({testing::edgeserve_binary(), "sweep", file.string(), "--out", out.string(), "--repo",
                  testing::test_models_dir().string()},
                 dir.path() / "sweep.log");
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  auto measuring = [&] {
    std::ifstream log(point / "bench.log");
    std::stringstream text;
    text << log.rdbuf();
    return text.str().find("client(s) ×") != std::string::npos;
  };
  while (!measuring() && std::chrono::steady_clock::now() < deadline && !p.wait(0ms)) std::this_thread::sleep_for(50ms);
  std::this_thread::sleep_for(1s);
  p.signal(SIGINT);
  const auto code = p.wait(60s);
  ASSERT_TRUE(code.has_value()) << p.log();
  EXPECT_EQ(*code, 130) << p.log();
  EXPECT_TRUE(fs::exists(point / "summary.interrupted.json")) << p.log();
  EXPECT_FALSE(fs::exists(point / "summary.json")) << "a resumed sweep must measure it again";
  const auto summary = read_json(point / "summary.interrupted.json");
  ASSERT_TRUE(summary.is_object());
  EXPECT_GT(summary["requests"]["ok"].get<uint64_t>(), 0u);
  EXPECT_EQ(read_json(out / "sweep.json")["points"]["long-tcp-tiny-raw-c1-l1-per-client"]["status"], "interrupted");
  // The server the sweep started is gone: its ready file named a port nothing listens on any more.
  std::ifstream ready(point / "server-0.ready");
  std::string endpoint;
  std::getline(ready, endpoint);
  ASSERT_FALSE(endpoint.empty());
  const auto probe =
      edgeserve(dir.path() / "probe.log", {"bench", "--target", endpoint, "--model", "tiny", "--requests", "1",
                                           "--repo", testing::test_models_dir().string()});
  EXPECT_EQ(probe.exit_code, 2) << probe.log;
}

// mps = true: the sweep starts `nvidia-cuda-mps-control -d` with its pipe and log folders under DIR, the servers
// get the same CUDA_MPS_PIPE_DIRECTORY, and `quit` goes to the daemon on its stdin afterwards. A daemon that
// cannot start fails the point with the daemon's own words. Here a stand-in script plays the daemon.
TEST(Sweep, MpsDaemonIsStartedForThePointAndQuitAfterwards) {
  TempDir dir;
  const fs::path bin = dir.path() / "bin";
  fs::create_directories(bin);
  const fs::path calls = dir.path() / "mps-calls.txt";
  {
    std::ofstream fake(bin / "nvidia-cuda-mps-control");
    fake << "#!/bin/sh\n"
            "if [ -f \"$CUDA_MPS_PIPE_DIRECTORY/../refuse\" ]; then echo 'An instance of this daemon is already "
            "running'; exit 1; fi\n"
            "echo \"args=$* pipe=$CUDA_MPS_PIPE_DIRECTORY log=$CUDA_MPS_LOG_DIRECTORY stdin=$(cat)\" >> "
         << calls.string() << "\n";
  }
  fs::permissions(bin / "nvidia-cuda-mps-control", fs::perms::owner_all);
  setenv("PATH", (bin.string() + ":" + std::getenv("PATH")).c_str(), 1);
  const fs::path file = dir.path() / "mps.toml";
  std::ofstream(file) << "[experiment]\nname = \"mps\"\n[run]\nrequests = 3\nwarmup = 1\n[processes]\nmps = true\n"
                         "[grid]\ntransport = [\"tcp\"]\n";
  const fs::path out = dir.path() / "out";
  auto run = sweep(out, {file.string()});
  ASSERT_EQ(run.exit_code, 0) << run.log;
  std::ifstream in(calls);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  const std::string pipe = (fs::absolute(out) / "mps" / "pipe").string();
  ASSERT_EQ(lines.size(), 2u) << "start and quit";
  EXPECT_EQ(lines[0].rfind("args=-d pipe=" + pipe + " log=", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("args= pipe=" + pipe, 0), 0u) << lines[1];
  EXPECT_NE(lines[1].find("stdin=quit"), std::string::npos) << lines[1];

  std::ofstream(out / "mps" / "refuse") << "";
  fs::remove_all(out / "mps-tcp-tiny-raw-c1-l1-per-client");
  run = sweep(out, {file.string()}, "refused.log");
  EXPECT_EQ(run.exit_code, 1) << run.log;
  const auto point = read_json(out / "sweep.json")["points"]["mps-tcp-tiny-raw-c1-l1-per-client"];
  EXPECT_EQ(point["status"], "failed") << point.dump();
  EXPECT_NE(point["reason"].get<std::string>().find("An instance of this daemon is already running"), std::string::npos)
      << point.dump();
}

}  // namespace
}  // namespace edgeserve
