// Checks of what a user typed, made before anything loads, and the way usage errors are told: one line saying
// what was wrong (no internal status names), a suggestion when a name was misspelt, exit code 2.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "transport/endpoint.h"

namespace edgeserve::cli {

// Prints "edgeserve <command>: error: <message>" and a pointer to --help on stderr; returns kExitUsage.
int usage_error(std::string_view command, std::string_view message);

// The candidate closest to `word` by edit distance, if close enough to be a likely typo; else "".
std::string closest_name(std::string_view word, const std::vector<std::string>& candidates);

// --max-payload-mb: a finite number of MB, more than 0 and at most kMaxPayloadMb (NaN, 1e30 or a value whose
// byte count overflows would otherwise switch the limit off).
inline constexpr double kMaxPayloadMb = 4096;
CLI::Validator payload_mb_check();

// Each tcp:// or ucx:// address of `flag` is well formed (listen addresses are also resolved, so `localhost`
// works); on success `uris` holds them as they will be used.
core::Status check_endpoints(std::string_view flag, std::vector<std::string>& uris, transport::EndpointUse use);

// The folder of a --ready-file exists and this process may write there: checked before serving, so that a
// typo costs no model loading and never a server that runs but never says it is ready.
core::Status check_ready_file(const std::string& path);

// A Status for a user: its message, without the status name in front ("internal:", "unknown-model:").
inline std::string user_text(const core::Status& s) { return s.message().empty() ? s.to_string() : s.message(); }

// Turns a CLI11 parse error into a usage error with suggestions (an unknown subcommand or option that is close
// to a real one); help and --version print and return kExitOk.
int report_parse_error(CLI::App& app, const CLI::ParseError& e, const std::vector<std::string>& args);

// Help text that fits 120 columns: option descriptions wrapped, subcommands listed by their first line.
std::shared_ptr<CLI::Formatter> narrow_formatter();

// A subcommand's help: a one-line summary (what the top-level list shows), then details and examples last.
CLI::App* add_described_subcommand(CLI::App& app, const std::string& name, const std::string& summary,
                                   const std::string& details);

}  // namespace edgeserve::cli
