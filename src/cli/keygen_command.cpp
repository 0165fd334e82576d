// `edgeserve keygen`: a CURVE key pair for a server or a client.
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/usage.h"
#include "transport/registry.h"
#if EDGESERVE_WITH_ZMQ
#include "transport/tcp/curve_keys.h"
#endif

namespace edgeserve::cli {

Command add_keygen_command(CLI::App& app) {
  auto prefix = std::make_shared<std::string>();
  auto* cmd = add_described_subcommand(
      app, "keygen", "Make a CURVE key pair for a server or a client (encrypted, authenticated tcp://).",
      "Writes PREFIX.key (public + secret, mode 0600; keep it private) and PREFIX.pub (share it).\n"
      "Example (server requiring authenticated clients):\n"
      "  edgeserve keygen --out keys/server && mkdir -p keys/clients && edgeserve keygen --out keys/clients/cam1\n"
      "  edgeserve serve --curve-key keys/server.key --curve-clients keys/clients\n"
      "  edgeserve bench --target tcp://HOST:5555 --curve-server-key keys/server.pub --curve-key "
      "keys/clients/cam1.key");
  cmd->add_option("--out", *prefix, "Path prefix of the two files")->required();
  return [prefix] {
#if EDGESERVE_WITH_ZMQ
    const core::Status s = transport::tcp::write_curve_key_pair(*prefix);
#else
    const core::Status s(core::StatusCode::kInvalidArgument,
                         "CURVE keys need tcp://, and " + transport::not_built_in("tcp://"));
#endif
    if (!s.ok()) {
      fmt::print(stderr, "edgeserve keygen: error: {}\n", user_text(s));
      return kExitFailed;
    }
    fmt::print("wrote {0}.key (secret) and {0}.pub (public)\n", *prefix);
    return kExitOk;
  };
}

}  // namespace edgeserve::cli
