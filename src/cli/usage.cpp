// Usage checks, usage errors with suggestions, and help that fits the terminal.
#include "cli/usage.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"

namespace edgeserve::cli {

namespace {

constexpr size_t kHelpWidth = 120;

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// Word-wraps `text` to `width` columns, keeping its own line breaks.
std::string wrap(const std::string& text, size_t width) {
  std::string out, line;
  auto flush = [&] {
    out += line;
    line.clear();
  };
  size_t start = 0;
  while (start <= text.size()) {
    const size_t newline = text.find('\n', start);
    const std::string paragraph =
        text.substr(start, newline == std::string::npos ? std::string::npos : newline - start);
    size_t pos = 0;
    while (pos < paragraph.size()) {
      size_t space = paragraph.find(' ', pos);
      if (space == std::string::npos) space = paragraph.size();
      const std::string word = paragraph.substr(pos, space - pos);
      if (!line.empty() && line.size() + 1 + word.size() > width) {
        flush();
        out += '\n';
      } else if (!line.empty()) {
        line += ' ';
      }
      line += word;
      pos = space + 1;
    }
    flush();
    if (newline == std::string::npos) break;
    out += '\n';
    start = newline + 1;
  }
  return out;
}

class NarrowFormatter : public CLI::Formatter {
 public:
  std::string make_option_desc(const CLI::Option* opt) const override {
    return wrap(opt->get_description(), kHelpWidth - get_column_width());
  }
  std::string make_subcommand(const CLI::App* sub) const override {
    const std::string description = sub->get_description();
    std::stringstream out;
    CLI::detail::format_help(out, sub->get_display_name(true), description.substr(0, description.find('\n')),
                             get_column_width());
    return out.str();
  }
};

std::vector<std::string> subcommand_names(CLI::App& app) {
  std::vector<std::string> names;
  for (const auto* sub : app.get_subcommands([](CLI::App*) { return true; })) names.push_back(sub->get_name());
  return names;
}

std::vector<std::string> long_option_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const auto* opt : app.get_options())
    for (const auto& n : opt->get_lnames()) names.push_back("--" + n);
  return names;
}

}  // namespace

int usage_error(std::string_view command, std::string_view message) {
  const std::string who = command.empty() ? "edgeserve" : fmt::format("edgeserve {}", command);
  fmt::print(stderr, "{}: error: {}\nRun '{} --help' for the options and examples.\n", who, message, who);
  return kExitUsage;
}

std::string closest_name(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates)
    if (const size_t d = edit_distance(word, c); d < best_distance) {
      best_distance = d;
      best = c;
    }
  return best;
}

CLI::Validator payload_mb_check() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        char* end = nullptr;
        const double mb = std::strtod(value.c_str(), &end);
        if (end == value.c_str() || *end != '\0' || !std::isfinite(mb) || mb <= 0 || mb > kMaxPayloadMb)
          return fmt::format("must be a number of MB more than 0 and at most {:g}, not '{}'", kMaxPayloadMb, value);
        return {};
      },
      fmt::format("MB in (0, {:g}]", kMaxPayloadMb));
}

core::Status check_endpoints(std::string_view flag, std::vector<std::string>& uris, transport::EndpointUse use) {
  for (auto& uri : uris) {
    if (use == transport::EndpointUse::kListen) {
      auto resolved = transport::resolve_listen_address(uri);
      if (!resolved.ok()) return {resolved.status().code(), fmt::format("{} {}", flag, resolved.status().message())};
      uri = resolved.value();
      if (auto free = transport::check_port_free(uri); !free.ok())
        return {free.code(), fmt::format("{} {}", flag, free.message())};
    } else if (auto parsed = transport::parse_endpoint(uri, use); !parsed.ok()) {
      return {parsed.status().code(), fmt::format("{} {}", flag, parsed.status().message())};
    }
  }
  return {};
}

core::Status check_ready_file(const std::string& path) {
  if (path.empty()) return {};
  const std::filesystem::path p(path);
  const std::filesystem::path dir = p.has_parent_path() ? p.parent_path() : std::filesystem::path(".");
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    return {core::StatusCode::kInvalidArgument,
            fmt::format("--ready-file {}: folder {} does not exist", path, dir.string())};
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    return {core::StatusCode::kInvalidArgument,
            fmt::format("--ready-file {}: cannot write in folder {}: {}", path, dir.string(), std::strerror(errno))};
  if (std::filesystem::is_directory(p, ec))
    return {core::StatusCode::kInvalidArgument, fmt::format("--ready-file {} is a folder", path)};
  // The folder may allow writing and still refuse files (a read-only or special file system): try, as the
  // server will, so that it fails now rather than after the models have loaded.
  const std::string probe = path + ".tmp";
  if (std::FILE* f = std::fopen(probe.c_str(), "w"); f == nullptr)
    return {core::StatusCode::kInvalidArgument,
            fmt::format("--ready-file {}: cannot write {}: {}", path, probe, std::strerror(errno))};
  else
    std::fclose(f);
  std::filesystem::remove(probe, ec);
  return {};
}

int report_parse_error(CLI::App& app, const CLI::ParseError& e, const std::vector<std::string>& args) {
  if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
    app.exit(e);  // --help, --help-all, --version
    return kExitOk;
  }
  const std::vector<std::string> subcommands = subcommand_names(app);
  // The subcommand named, if any: the first word that is not an option or the value of --log-level.
  CLI::App* sub = nullptr;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--log-level") {
      ++i;
      continue;
    }
    if (a.starts_with("-")) continue;
    if (std::find(subcommands.begin(), subcommands.end(), a) == subcommands.end()) {
      const std::string guess = closest_name(a, subcommands);
      return usage_error("", guess.empty()
                                 ? fmt::format("unknown subcommand '{}' (one of: {})", a, fmt::join(subcommands, ", "))
                                 : fmt::format("unknown subcommand '{}'; did you mean '{}'?", a, guess));
    }
    sub = app.get_subcommand(a);
    break;
  }
  if (sub == nullptr && dynamic_cast<const CLI::RequiredError*>(&e) != nullptr && app.get_subcommands().empty())
    return usage_error("", fmt::format("a subcommand is required: {}", fmt::join(subcommands, ", ")));
  const std::string command = sub ? sub->get_name() : "";
  // An option nobody knows: suggest the closest of the subcommand's (and the top level's) own.
  std::vector<std::string> known = long_option_names(app);
  if (sub) {
    const auto own = long_option_names(*sub);
    known.insert(known.end(), own.begin(), own.end());
  }
  for (const auto& a : args) {
    if (!a.starts_with("--")) continue;
    const std::string name = a.substr(0, a.find('='));
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    const std::string guess = closest_name(name, known);
    return usage_error(command, guess.empty() ? fmt::format("unknown option '{}'", name)
                                              : fmt::format("unknown option '{}'; did you mean '{}'?", name, guess));
  }
  return usage_error(command, e.what());
}

std::shared_ptr<CLI::Formatter> narrow_formatter() { return std::make_shared<NarrowFormatter>(); }

CLI::App* add_described_subcommand(CLI::App& app, const std::string& name, const std::string& summary,
                                   const std::string& details) {
  auto* cmd = app.add_subcommand(name, summary);
  cmd->footer(details);
  return cmd;
}

}  // namespace edgeserve::cli
