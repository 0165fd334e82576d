// Figure tables from a sweep folder, and the call to tools/plot.py.
#include "bench/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "bench/experiment.h"
#include "bench/subprocess.h"

namespace edgeserve::bench {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string num(const json& v) {
  if (!v.is_number()) return "";
  const double d = v.get<double>();
  return std::isfinite(d) ? fmt::format("{:.6g}", d) : "";
}

// A `where` value matches an axis value: the same string, the same number, or one of a list of them.
bool matches(const json& want, const std::string& have) {
  if (want.is_array()) return std::any_of(want.begin(), want.end(), [&](const json& w) { return matches(w, have); });
  if (want.is_string()) return want.get<std::string>() == have;
  if (want.is_number()) {
    try {
      return std::stod(have) == want.get<double>();
    } catch (const std::exception&) {
      return false;
    }
  }
  return false;
}

std::string stat_column(const std::string& metric, const std::string& stat) {
  if (metric == "cpu-usage") return "cpu-usage-ms-per-request";
  if (metric == "throughput") return "throughput-rps";
  return stat == "cov" ? metric + "-cov" : fmt::format("{}-{}-ms", metric, stat);
}

struct Row {
  const Point* point;
  std::string status;
  std::map<std::string, std::string> cells;  // column → value
  std::string machine;                       // where the point ran, from its summary; empty when unknown
};

std::string text(const json& v) { return v.is_string() ? v.get<std::string>() : std::string(); }

// "NVIDIA H100 80GB HBM3, 16 CPUs (Intel(R) Xeon(R) Processor), host vm": the card first, since a figure's
// absolute times hold only for it.
std::string describe_machine(const json& m) {
  if (!m.is_object()) return "";
  std::vector<std::string> gpus;
  if (m.contains("gpu") && m["gpu"].is_object() && m["gpu"].contains("names") && m["gpu"]["names"].is_array())
    for (const auto& g : m["gpu"]["names"])
      if (g.is_string()) gpus.push_back(g.get<std::string>());
  const std::string cpus = m.contains("cpus") ? num(m["cpus"]) : "";
  return fmt::format("{}, {} CPUs ({}), host {}", gpus.empty() ? "no GPU" : fmt::format("{}", fmt::join(gpus, " + ")),
                     cpus.empty() ? "?" : cpus, text(m.value("cpu_model", json())), text(m.value("host", json())));
}

std::vector<std::string> columns() {
  std::vector<std::string> c{"point", "experiment", "status"};
  for (const char* a : kAxes) c.push_back(a);
  c.push_back("rep");
  for (const char* m : kReportMetrics)
    for (const char* s : kReportStats) c.push_back(stat_column(m, s));
  for (const char* extra :
       {"cpu-usage-ms-per-request", "throughput-rps", "requests-ok", "requests-sent", "priority-total-time-p50-ms",
        "priority-total-time-p99-ms", "normal-total-time-p50-ms", "normal-total-time-p99-ms", "link"})
    c.push_back(extra);
  return c;
}

Row make_row(const Point& p, const fs::path& dir, const json& sweep) {
  Row row{&p, "not run", {}};
  row.cells["point"] = p.name;
  row.cells["experiment"] = p.experiment->name;
  for (const auto& [k, v] : p.axes()) row.cells[k] = v;
  row.cells["rep"] = std::to_string(p.rep);
  if (sweep.contains(p.name) && sweep[p.name].contains("status")) row.status = sweep[p.name]["status"];
  std::ifstream in(dir / p.name / "summary.json");
  json s = in ? json::parse(in, nullptr, false) : json();
  if (!s.is_object()) {
    if (row.status == "ok") row.status = "no summary.json";
    row.cells["status"] = row.status;
    return row;
  }
  row.status = "ok";
  row.cells["status"] = row.status;
  for (const char* m : kReportMetrics)
    for (const char* st : kReportStats) {
      const json& metric = s["metrics"][m];
      if (metric.is_object() && metric.value("count", 0) > 0) row.cells[stat_column(m, st)] = num(metric[st]);
    }
  row.cells["cpu-usage-ms-per-request"] = num(s["cpu-usage"]["server_cpu_ms_per_request"]);
  row.cells["throughput-rps"] = num(s["throughput_rps"]);
  row.cells["requests-ok"] = num(s["requests"]["ok"]);
  row.cells["requests-sent"] = num(s["requests"]["sent"]);
  if (s.contains("by_priority"))
    for (const char* group : {"priority", "normal"})
      for (const char* st : {"p50", "p99"}) {
        const json& t = s["by_priority"][group]["total-time"];
        if (t.is_object() && t.value("count", 0) > 0)
          row.cells[fmt::format("{}-total-time-{}-ms", group, st)] = num(t[st]);
      }
  const json& link = s["link"];
  std::string l = link.is_object() ? link.value("kind", "") : "";
  if (link.is_object() && link.contains("client_transports") && link["client_transports"].is_array() &&
      !link["client_transports"].empty())
    l += fmt::format(" [{}]", fmt::join(link["client_transports"].get<std::vector<std::string>>(), " "));
  row.cells["link"] = l;
  row.machine = describe_machine(s.value("machine", json()));
  return row;
}

std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// The plot's y columns: its metric at its stat, or each stage of a stacked plot (means add up; percentiles don't).
std::vector<std::string> y_columns(const json& plot) {
  std::vector<std::string> out;
  if (plot.contains("metrics"))
    for (const auto& m : plot["metrics"]) out.push_back(stat_column(m, plot.value("stat", "mean")));
  else if (plot.value("kind", "") == "cdf")
    out = {"priority-total-time-p50-ms", "normal-total-time-p50-ms", "priority-total-time-p99-ms",
           "normal-total-time-p99-ms"};
  else
    out.push_back(stat_column(plot.value("metric", "total-time"), plot.value("stat", "p50")));
  return out;
}

std::string markdown(const json& plot, const Experiment& e, const std::vector<Row>& rows) {
  std::vector<std::string> axes;
  for (const char* a : kAxes) {
    std::set<std::string> values;
    for (const auto& r : rows) values.insert(r.cells.at(a));
    if (values.size() > 1) axes.push_back(a);
  }
  if (e.repetitions > 1) axes.push_back("rep");
  const auto ys = y_columns(plot);
  std::string md = fmt::format("# Fig. {}: {}\n\n", plot.value("figure", ""), plot.value("title", ""));
  if (plot.contains("caption")) md += plot["caption"].get<std::string>() + "\n\n";
  md += fmt::format("Experiment `{}` ({}); times in ms.\n\n", e.name, e.file.filename().string());
  std::set<std::string> machines;
  for (const auto& r : rows)
    if (!r.machine.empty()) machines.insert(r.machine);
  if (machines.size() == 1) md += fmt::format("Machine: {}.\n\n", *machines.begin());
  if (machines.size() > 1)
    md += fmt::format("Machines (the points ran on more than one; compare only within one): {}.\n\n",
                      fmt::join(machines, "; "));
  std::vector<std::string> head = axes;
  head.insert(head.end(), ys.begin(), ys.end());
  head.push_back("status");
  md += "| " + fmt::format("{}", fmt::join(head, " | ")) + " |\n|" + std::string() +
        fmt::format("{}", fmt::join(std::vector<std::string>(head.size(), "---"), "|")) + "|\n";
  for (const auto& r : rows) {
    std::vector<std::string> cells;
    for (const auto& h : head) {
      const auto it = r.cells.find(h);
      cells.push_back(h == "status" ? r.status : it == r.cells.end() || it->second.empty() ? "—" : it->second);
    }
    md += "| " + fmt::format("{}", fmt::join(cells, " | ")) + " |\n";
  }
  return md;
}

// Latency vs offered load: per series, the highest offered rate up to which every measured rate kept total-time
// p99 under the SLO (the sustainable load; a lucky point above a violation does not count).
std::vector<std::string> slo_verdicts(const json& plot, const std::vector<Row>& rows, double slo_ms) {
  const std::string series = plot.value("series", "");
  std::map<std::string, std::map<double, double>> p99_by_rate;  // series value → rate → p99
  for (const auto& r : rows) {
    const auto it = r.cells.find("total-time-p99-ms");
    if (r.status != "ok" || it == r.cells.end() || it->second.empty()) continue;
    auto& m = p99_by_rate[series.empty() ? "all" : r.cells.at(series)];
    const double rate = std::stod(r.cells.at("rate"));
    m[rate] = std::max(m.count(rate) ? m[rate] : 0.0, std::stod(it->second));  // repetitions: the worst
  }
  std::vector<std::string> out;
  for (const auto& [name, by_rate] : p99_by_rate) {
    double best = -1;
    for (const auto& [rate, p99] : by_rate) {
      if (p99 > slo_ms) break;
      best = rate;
    }
    out.push_back(
        best >= 0 ? fmt::format("{}: highest offered load with total-time p99 <= {} ms: {} req/s", name, slo_ms, best)
                  : fmt::format("{}: no offered load kept total-time p99 under {} ms", name, slo_ms));
  }
  return out;
}

std::string find_plot_script(const ReportOptions& o) {
  if (!o.plot_script.empty()) return o.plot_script;
  if (fs::exists("tools/plot.py")) return "tools/plot.py";
#ifdef EDGESERVE_SOURCE_DIR
  return std::string(EDGESERVE_SOURCE_DIR) + "/tools/plot.py";
#else
  return "tools/plot.py";
#endif
}

// Empty when python + matplotlib are usable; else why not.
std::string plotting_unavailable(const ReportOptions& o, const std::string& script, const fs::path& log) {
  if (!fs::exists(script)) return fmt::format("no PNG: the plot script {} does not exist (pass --plot-script)", script);
  std::error_code ec;
  fs::remove(log, ec);
  auto p = Subprocess::spawn({o.python, "-c", "import matplotlib"}, {}, log);
  if (!p.ok()) return fmt::format("no PNG: {}", p.status().message());
  const auto code = p->wait(std::chrono::seconds(60));
  if (code && *code == 0) return "";
  const std::string why = p->log_tail(1);
  return fmt::format("no PNG: {} cannot import matplotlib{}; install python3-matplotlib or pass --python", o.python,
                     why.empty() ? "" : " (" + why + ")");
}

}  // namespace

core::Result<ReportOutcome> write_report(const ReportOptions& o) {
  ReportOutcome outcome;
  std::vector<Experiment> experiments;
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(o.dir / "experiments", ec))
    if (entry.path().extension() == ".toml") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  if (files.empty())
    return core::Status(core::StatusCode::kInternal,
                        fmt::format("no experiment files in {}/experiments (is {} a folder `edgeserve sweep` wrote?)",
                                    o.dir.string(), o.dir.string()));
  experiments.reserve(files.size());  // points keep pointers to their experiment
  for (const auto& f : files) {
    auto e = parse_experiment(f);
    if (!e.ok()) return e.status();
    experiments.push_back(std::move(e.value()));
  }
  json sweep = json::object();
  if (std::ifstream in(o.dir / "sweep.json"); in) {
    auto j = json::parse(in, nullptr, false);
    if (j.is_object() && j["points"].is_object()) sweep = j["points"];
  }
  const fs::path out = o.dir / "report";
  fs::create_directories(out, ec);
  if (ec)
    return core::Status(core::StatusCode::kInternal, fmt::format("cannot create {}: {}", out.string(), ec.message()));
  const std::string script = find_plot_script(o);
  fs::remove(out / "plot.log", ec);  // this run's plotting only
  const std::string no_png = plotting_unavailable(o, script, out / "python-check.log");
  if (!no_png.empty()) outcome.notes.push_back(no_png);
  std::string index = fmt::format("# Report: {}\n\n", o.dir.string());
  for (const auto& e : experiments) {
    const auto points = expand_grid(e);
    for (const auto& plot : e.plots) {
      const std::string fig = "fig" + plot.value("figure", std::string("?"));
      std::vector<Row> rows;
      for (const auto& p : points) {
        const auto axes = p.axes();
        bool keep = true;
        if (plot.contains("where"))
          for (const auto& [k, v] : plot["where"].items()) keep = keep && matches(v, axes.at(k));
        if (keep) rows.push_back(make_row(p, o.dir, sweep));
      }
      int missing = 0;
      for (const auto& r : rows) missing += r.status != "ok";
      if (missing)
        outcome.notes.push_back(fmt::format("{}: {} of {} point(s) without results", fig, missing, rows.size()));
      const auto cols = columns();
      std::ofstream csv(out / (fig + ".csv"));
      csv << fmt::format("{}", fmt::join(cols, ",")) << '\n';
      for (const auto& r : rows) {
        std::vector<std::string> cells;
        for (const auto& c : cols) cells.push_back(csv_cell(r.cells.count(c) ? r.cells.at(c) : std::string()));
        csv << fmt::format("{}", fmt::join(cells, ",")) << '\n';
      }
      csv.close();
      std::string md = markdown(plot, e, rows);
      const double slo = plot.contains("slo_ms") ? plot["slo_ms"].get<double>() : o.slo_ms;
      if (plot.value("x", "") == "rate" && slo > 0)
        for (const auto& v : slo_verdicts(plot, rows, slo)) {
          md += "\n" + v + "\n";
          outcome.notes.push_back(fig + ": " + v);
        }
      std::ofstream(out / (fig + ".md")) << md;
      outcome.written.push_back((out / (fig + ".csv")).string());
      outcome.written.push_back((out / (fig + ".md")).string());
      index +=
          fmt::format("- [Fig. {}]({}.md): {} — `{}.csv`", plot.value("figure", ""), fig, plot.value("title", ""), fig);
      if (no_png.empty()) {
        json spec = plot;
        spec["csv"] = (out / (fig + ".csv")).string();
        spec["png"] = (out / (fig + ".png")).string();
        spec["results"] = o.dir.string();
        if (slo > 0) spec["slo_ms"] = slo;
        std::ofstream(out / (fig + ".json")) << spec.dump(2) << '\n';
        auto p = Subprocess::spawn({o.python, script, (out / (fig + ".json")).string()}, {{"MPLBACKEND", "Agg"}},
                                   out / "plot.log");
        const auto code = p.ok() ? p->wait(std::chrono::seconds(300)) : std::optional<int>(-1);
        if (code && *code == 0 && fs::exists(out / (fig + ".png"))) {
          outcome.written.push_back((out / (fig + ".png")).string());
          index += fmt::format(", ![{}]({}.png)", fig, fig);
        } else {
          outcome.notes.push_back(fmt::format("{}: no PNG: tools/plot.py failed ({}): {}", fig,
                                              (out / "plot.log").string(), p.ok() ? p->log_tail(1) : ""));
        }
      }
      index += "\n";
    }
  }
  for (const auto& n : outcome.notes) index += "\n> " + n + "\n";
  std::ofstream(out / "README.md") << index;
  outcome.written.push_back((out / "README.md").string());
  return outcome;
}

}  // namespace edgeserve::bench
