// Parsing experiment files (toml++) strictly, and expanding their grids into points.
#include "bench/experiment.h"

#include <fmt/format.h>

#include <toml++/toml.h>
#include <algorithm>
#include <cmath>
#include <set>

namespace edgeserve::bench {

namespace {

struct ParseFailure {
  std::string message;
};

class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const toml::source_region& at, const std::string& why) const {
    throw ParseFailure{fmt::format("{}:{}:{}: {}", file_, at.begin.line, at.begin.column, why)};
  }
  [[noreturn]] void fail(const toml::node& at, const std::string& why) const { fail(at.source(), why); }

  const toml::table* table(const toml::table& parent, std::string_view key) const {
    const toml::node* n = parent.get(key);
    if (!n) return nullptr;
    if (!n->is_table()) fail(*n, fmt::format("'{}' must be a table", key));
    return n->as_table();
  }

  void check_keys(const toml::table& t, std::initializer_list<std::string_view> allowed, std::string_view what) const {
    for (auto&& [key, node] : t) {
      if (std::find(allowed.begin(), allowed.end(), key.str()) != allowed.end()) continue;
      fail(key.source().begin.line ? key.source() : node.source(),
           fmt::format("unknown key '{}' in {} (known: {})", key.str(), what, fmt::join(allowed, ", ")));
    }
  }

  int integer(const toml::table& t, std::string_view key, int def, int lo, int hi) const {
    const toml::node* n = t.get(key);
    if (!n) return def;
    return integer(*n, key, lo, hi);
  }
  int integer(const toml::node& n, std::string_view what, int lo, int hi) const {
    if (!n.is_integer()) fail(n, fmt::format("'{}' must be an integer", what));
    const int64_t v = n.as_integer()->get();
    if (v < lo || v > hi) fail(n, fmt::format("'{}' must be in {}..{}, not {}", what, lo, hi, v));
    return static_cast<int>(v);
  }
  double number(const toml::node& n, std::string_view what, double lo) const {
    if (!n.is_number()) fail(n, fmt::format("'{}' must be a number", what));
    const double v = n.is_integer() ? static_cast<double>(n.as_integer()->get()) : n.as_floating_point()->get();
    if (!std::isfinite(v) || v < lo) fail(n, fmt::format("'{}' must be a number >= {}", what, lo));
    return v;
  }
  bool boolean(const toml::table& t, std::string_view key, bool def) const {
    const toml::node* n = t.get(key);
    if (!n) return def;
    if (!n->is_boolean()) fail(*n, fmt::format("'{}' must be true or false", key));
    return n->as_boolean()->get();
  }
  std::string string(const toml::table& t, std::string_view key, const std::string& def) const {
    const toml::node* n = t.get(key);
    if (!n) return def;
    if (!n->is_string()) fail(*n, fmt::format("'{}' must be a string", key));
    return n->as_string()->get();
  }
  const toml::array* array(const toml::table& t, std::string_view key) const {
    const toml::node* n = t.get(key);
    if (!n) return nullptr;
    if (!n->is_array()) fail(*n, fmt::format("'{}' must be an array", key));
    if (n->as_array()->empty()) fail(*n, fmt::format("'{}' must not be empty", key));
    return n->as_array();
  }
  // A list of strings; grid axes (`allowed` given) must not be empty, lists of flags may.
  std::vector<std::string> strings(const toml::table& t, std::string_view key, std::vector<std::string> def,
                                   const std::set<std::string>& allowed = {}, bool axis = false) const {
    const toml::node* n = t.get(key);
    if (!n) return def;
    if (!n->is_array()) fail(*n, fmt::format("'{}' must be an array", key));
    if (axis && n->as_array()->empty()) fail(*n, fmt::format("'{}' must not be empty", key));
    std::vector<std::string> out;
    for (const toml::node& v : *n->as_array()) {
      if (!v.is_string()) fail(v, fmt::format("'{}' must be a list of strings", key));
      std::string s = v.as_string()->get();
      if (!allowed.empty() && !allowed.count(s))
        fail(v, fmt::format("'{}' has '{}'; expected one of {}", key, s, fmt::join(allowed, ", ")));
      out.push_back(std::move(s));
    }
    return out;
  }
  // Integers, where the string "clients" stands for 0 (one per client) when `clients_ok`.
  std::vector<int> integers(const toml::table& t, std::string_view key, std::vector<int> def, int lo, int hi,
                            bool clients_ok) const {
    const toml::array* a = array(t, key);
    if (!a) return def;
    std::vector<int> out;
    for (const toml::node& n : *a) out.push_back(integer_or_clients(n, key, lo, hi, clients_ok));
    return out;
  }
  int integer_or_clients(const toml::node& n, std::string_view key, int lo, int hi, bool clients_ok) const {
    if (clients_ok && n.is_string()) {
      if (n.as_string()->get() != "clients") fail(n, fmt::format("'{}' takes integers or \"clients\"", key));
      return 0;
    }
    return integer(n, key, lo, hi);
  }
  std::map<std::string, std::string> env(const toml::table& t, std::string_view key) const {
    std::map<std::string, std::string> out;
    const toml::table* e = table(t, key);
    if (!e) return out;
    for (auto&& [k, v] : *e) {
      if (!v.is_string()) fail(v, fmt::format("environment variable '{}' must be a string", k.str()));
      out[std::string(k.str())] = v.as_string()->get();
    }
    return out;
  }

 private:
  std::string file_;
};

nlohmann::json to_json(const toml::node& n) {
  if (n.is_table()) {
    nlohmann::json j = nlohmann::json::object();
    for (auto&& [k, v] : *n.as_table()) j[std::string(k.str())] = to_json(v);
    return j;
  }
  if (n.is_array()) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& v : *n.as_array()) j.push_back(to_json(v));
    return j;
  }
  if (n.is_string()) return n.as_string()->get();
  if (n.is_integer()) return n.as_integer()->get();
  if (n.is_floating_point()) return n.as_floating_point()->get();
  if (n.is_boolean()) return n.as_boolean()->get();
  return nullptr;
}

const std::set<std::string> kTransportEnds{"tcp", "rdma", "gdr"};
const std::set<std::string> kPlotKinds{"bars", "stacked", "lines", "cdf"};

void check_transport(const Reader& r, const toml::node& n, const std::string& t) {
  if (t == "local") return;
  const auto [front, back] = split_transport(t);
  if (!kTransportEnds.count(back) || (!front.empty() && front != "tcp" && front != "rdma"))
    r.fail(n, fmt::format("transport '{}': expected local, tcp, rdma, gdr, or FRONT/BACK through a gateway with FRONT "
                          "tcp or rdma and BACK tcp, rdma or gdr",
                          t));
}

Variant parse_variant(const Reader& r, const toml::table& t) {
  r.check_keys(t, {"name", "servers", "lanes", "mps", "server_args", "gateway_args", "bench_args", "env"},
               "[[grid.variant]]");
  Variant v;
  v.name = r.string(t, "name", "");
  if (v.name.empty() || v.name.find_first_of("/ ") != std::string::npos)
    r.fail(t, "[[grid.variant]] needs a 'name' without spaces or slashes");
  if (const auto* n = t.get("servers")) v.servers = r.integer_or_clients(*n, "servers", 1, 64, true);
  if (const auto* n = t.get("lanes")) v.lanes = r.integer_or_clients(*n, "lanes", 1, 1024, true);
  if (t.get("mps")) v.mps = r.boolean(t, "mps", false) ? 1 : 0;
  v.server_args = r.strings(t, "server_args", {});
  v.gateway_args = r.strings(t, "gateway_args", {});
  v.bench_args = r.strings(t, "bench_args", {});
  v.env = r.env(t, "env");
  return v;
}

void parse_plot(const Reader& r, const toml::table& t, Experiment& e) {
  r.check_keys(t,
               {"figure", "title", "kind", "x", "series", "panels", "metric", "metrics", "stat", "normalize",
                "baseline", "where", "error", "slo_ms", "xlabel", "ylabel", "logy", "caption"},
               "[[plot]]");
  const std::string figure = r.string(t, "figure", "");
  if (figure.empty() || figure.find_first_of("/ ") != std::string::npos)
    r.fail(t, "[[plot]] needs a 'figure' name without spaces or slashes, e.g. \"05\" or \"15c\"");
  const std::string kind = r.string(t, "kind", "");
  if (!kPlotKinds.count(kind))
    r.fail(t.get("kind") ? *t.get("kind") : static_cast<const toml::node&>(t),
           fmt::format("[[plot]] 'kind' must be one of {}", fmt::join(kPlotKinds, ", ")));
  for (const char* axis_key : {"x", "series", "panels"}) {
    const std::string axis = r.string(t, axis_key, "");
    if (!axis.empty() && std::find(std::begin(kAxes), std::end(kAxes), axis) == std::end(kAxes))
      r.fail(*t.get(axis_key), fmt::format("'{}' must be an axis: {}", axis_key, fmt::join(kAxes, ", ")));
  }
  if (kind != "cdf" && r.string(t, "x", "").empty()) r.fail(t, "[[plot]] needs 'x' (an axis)");
  if (const auto* w = r.table(t, "where"))
    for (auto&& [k, v] : *w)
      if (std::find(std::begin(kAxes), std::end(kAxes), k.str()) == std::end(kAxes))
        r.fail(v, fmt::format("'where' key '{}' is not an axis: {}", k.str(), fmt::join(kAxes, ", ")));
  for (const auto& p : e.plots)
    if (p["figure"] == figure) r.fail(t, fmt::format("figure '{}' is plotted twice", figure));
  e.plots.push_back(to_json(t));
}

void parse_into(const Reader& r, const toml::table& root, Experiment& e) {
  r.check_keys(root, {"experiment", "run", "processes", "grid", "plot"}, "the file");
  const toml::table* ex = r.table(root, "experiment");
  if (!ex) r.fail(root.source(), "missing [experiment] (with name = \"...\")");
  r.check_keys(*ex, {"name", "figures", "description"}, "[experiment]");
  e.name = r.string(*ex, "name", "");
  if (e.name.empty() || e.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos)
    r.fail(*ex, "[experiment] 'name' must be lowercase letters, digits and _");
  e.figures = r.strings(*ex, "figures", {});
  e.description = r.string(*ex, "description", "");

  if (const toml::table* run = r.table(root, "run")) {
    r.check_keys(*run,
                 {"requests", "warmup", "repetitions", "timeout_ms", "priority_clients", "point_timeout_s", "device"},
                 "[run]");
    e.requests = r.integer(*run, "requests", e.requests, 1, 100'000'000);
    e.warmup = r.integer(*run, "warmup", e.warmup, 0, 1'000'000);
    e.repetitions = r.integer(*run, "repetitions", e.repetitions, 1, 1000);
    e.timeout_ms = r.integer(*run, "timeout_ms", e.timeout_ms, 1, 3'600'000);
    e.priority_clients = r.integer(*run, "priority_clients", e.priority_clients, 0, 4096);
    if (const auto* n = run->get("point_timeout_s")) e.point_timeout_s = r.number(*n, "point_timeout_s", 1);
    e.device = r.string(*run, "device", e.device);
  }
  if (const toml::table* p = r.table(root, "processes")) {
    r.check_keys(*p, {"servers", "mps", "gpus", "gateway_workers", "server_args", "gateway_args", "bench_args", "env"},
                 "[processes]");
    if (const auto* n = p->get("servers")) e.servers = r.integer_or_clients(*n, "servers", 1, 64, true);
    e.mps = r.boolean(*p, "mps", false);
    e.gpus = r.integers(*p, "gpus", {}, 0, 63, false);
    e.gateway_workers = r.integer(*p, "gateway_workers", 0, 0, 4096);
    e.server_args = r.strings(*p, "server_args", {});
    e.gateway_args = r.strings(*p, "gateway_args", {});
    e.bench_args = r.strings(*p, "bench_args", {});
    e.env = r.env(*p, "env");
  }
  if (const toml::table* g = r.table(root, "grid")) {
    r.check_keys(*g, {"transport", "model", "input", "clients", "lanes", "policy", "rate", "variant"}, "[grid]");
    e.transports = r.strings(*g, "transport", e.transports, {}, true);
    if (const toml::array* a = r.array(*g, "transport"))
      for (size_t i = 0; i < a->size(); ++i) check_transport(r, *a->get(i), e.transports[i]);
    e.models = r.strings(*g, "model", e.models, {}, true);
    e.inputs = r.strings(*g, "input", e.inputs, {"raw", "jpeg", "preprocessed"}, true);
    e.policies = r.strings(*g, "policy", e.policies, {"per-client", "pool", "priority"}, true);
    e.clients = r.integers(*g, "clients", e.clients, 1, 4096, false);
    e.lanes = r.integers(*g, "lanes", e.lanes, 1, 1024, true);
    if (const toml::array* a = r.array(*g, "rate")) {
      e.rates.clear();
      for (const toml::node& n : *a) e.rates.push_back(r.number(n, "rate", 0));
    }
    if (const toml::node* v = g->get("variant")) {
      if (!v->is_array_of_tables()) r.fail(*v, "'variant' must be [[grid.variant]] tables");
      e.variants.clear();
      for (const toml::node& t : *v->as_array()) e.variants.push_back(parse_variant(r, *t.as_table()));
    }
  }
  if (const toml::node* plots = root.get("plot")) {
    if (!plots->is_array_of_tables()) r.fail(*plots, "'plot' must be [[plot]] tables");
    for (const toml::node& t : *plots->as_array()) parse_plot(r, *t.as_table(), e);
  }
}

std::string number_name(double v) {
  return v == std::floor(v) ? fmt::format("{}", static_cast<long long>(v)) : fmt::format("{}", v);
}

}  // namespace

std::pair<std::string, std::string> split_transport(const std::string& transport) {
  const size_t slash = transport.find('/');
  if (slash == std::string::npos) return {"", transport};
  return {transport.substr(0, slash), transport.substr(slash + 1)};
}

std::map<std::string, std::string> Point::axes() const {
  return {{"transport", transport},
          {"model", model},
          {"input", input},
          {"clients", std::to_string(clients)},
          {"lanes", std::to_string(lanes)},
          {"policy", policy},
          {"variant", variant},
          {"rate", number_name(rate)},
          {"servers", std::to_string(servers)}};
}

core::Result<Experiment> parse_experiment(const std::filesystem::path& file) {
  Experiment e;
  e.file = file;
  try {
    const toml::table root = toml::parse_file(file.string());
    parse_into(Reader(file.string()), root, e);
  } catch (const toml::parse_error& err) {
    return core::Status(core::StatusCode::kMalformedHeader,
                        fmt::format("{}:{}:{}: {}", file.string(), err.source().begin.line, err.source().begin.column,
                                    err.description()));
  } catch (const ParseFailure& f) {
    return core::Status(core::StatusCode::kMalformedHeader, f.message);
  }
  return e;
}

std::vector<Point> expand_grid(const Experiment& e) {
  std::vector<Point> points;
  const bool named_variants = e.variants.size() > 1 || !e.variants.front().name.empty();
  for (const auto& transport : e.transports)
    for (const auto& model : e.models)
      for (const auto& input : e.inputs)
        for (const auto& policy : e.policies)
          for (const auto& variant : e.variants)
            for (int lanes_value : e.lanes)
              for (int clients : e.clients)
                for (double rate : e.rates)
                  for (int rep = 0; rep < e.repetitions; ++rep) {
                    Point p;
                    p.experiment = &e;
                    p.transport = transport;
                    p.model = model;
                    p.input = input;
                    p.policy = policy;
                    p.variant = variant.name;
                    p.clients = clients;
                    const int lanes = variant.lanes >= 0 ? variant.lanes : lanes_value;
                    p.lanes = lanes == 0 ? clients : lanes;
                    const int servers = variant.servers >= 0 ? variant.servers : e.servers;
                    p.servers = servers == 0 ? clients : servers;
                    p.mps = variant.mps >= 0 ? variant.mps == 1 : e.mps;
                    p.rate = rate;
                    p.rep = rep;
                    p.env = e.env;
                    for (const auto& [k, v] : variant.env) p.env[k] = v;
                    p.server_args = e.server_args;
                    p.server_args.insert(p.server_args.end(), variant.server_args.begin(), variant.server_args.end());
                    p.gateway_args = e.gateway_args;
                    p.gateway_args.insert(p.gateway_args.end(), variant.gateway_args.begin(),
                                          variant.gateway_args.end());
                    p.bench_args = e.bench_args;
                    p.bench_args.insert(p.bench_args.end(), variant.bench_args.begin(), variant.bench_args.end());
                    std::string t = transport;
                    std::replace(t.begin(), t.end(), '/', '_');
                    p.name = fmt::format("{}-{}-{}-{}-c{}-l{}-{}", e.name, t, model, input, clients, p.lanes, policy);
                    if (p.servers > 1) p.name += fmt::format("-s{}", p.servers);
                    if (named_variants) p.name += "-" + variant.name;
                    if (rate > 0) p.name += "-r" + number_name(rate);
                    if (e.repetitions > 1) p.name += fmt::format("-rep{}", rep);
                    // A variant that fixes lanes (or servers) makes the lanes axis moot: keep one point.
                    if (variant.lanes >= 0 && lanes_value != e.lanes.front()) continue;
                    points.push_back(std::move(p));
                  }
  return points;
}

}  // namespace edgeserve::bench
