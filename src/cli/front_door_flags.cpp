// The shared flags of `serve` and `gateway`, and their checks.
#include "cli/front_door_flags.h"

#include <fmt/format.h>

#include <memory>

#include "cli/usage.h"
#include "transport/registry.h"
#if EDGESERVE_WITH_ZMQ
#include "transport/tcp/tcp_settings.h"
#endif

namespace edgeserve::cli {

void add_front_door_flags(CLI::App& cmd, FrontDoorFlags& f, const FrontDoorRole& role) {
  cmd.add_option("--listen", f.listen,
                 fmt::format("{}, repeatable: {}. HOST is an IPv4 address, * (every interface), a host name such as "
                             "localhost, or (tcp) an interface name such as lo; PORT 0..65535, 0 picks a free one",
                             role.listen_what, transport::accepted_addresses(/*listen=*/true, /*in_process=*/false)))
      ->capture_default_str();
  cmd.add_option("--io-threads", f.io_threads,
                 "I/O threads per listener: ZeroMQ I/O threads for tcp://, UCX workers (each with its own thread "
                 "and a share of the clients) for ucx://; the default is a quarter of the cores, 1 to 4")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd.add_option("--max-payload-mb", f.max_payload_mb,
                 "Largest request payload accepted; larger requests get a payload-too-large error")
      ->check(payload_mb_check())
      ->capture_default_str();
  cmd.add_option(
         "--max-queue", f.max_queue,
         fmt::format("Requests that may wait for {}; beyond this, requests are answered 'overloaded'", role.waits_for))
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd.add_option("--max-queue-per-client", f.max_queue_per_client,
                 fmt::format("Of those, requests one client may have waiting: a flooding client is answered "
                             "'overloaded' while the others are {}. A client is its connection, or its public key "
                             "under --curve-*; the client id in request headers does not count",
                             role.served))
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  add_connection_limit_flags(cmd, f.limits);
  auto* key = cmd.add_option("--curve-key", f.curve_key,
                             fmt::format("Require CURVE (encrypted, authenticated) clients on tcp://: this {}'s key "
                                         "pair file (from `edgeserve keygen`)",
                                         role.process))
                  ->check(CLI::ExistingFile);
  auto* clients = cmd.add_option("--curve-clients", f.curve_clients,
                                 "With --curve-key: folder of the authorized clients' public keys (*.pub); any other "
                                 "client is refused and logged")
                      ->check(CLI::ExistingDirectory);
  key->needs(clients);
  clients->needs(key);
  cmd.add_option("--ready-file", f.ready_file,
                 "Write the bound endpoints to this file once serving (for scripts waiting on it); its folder must "
                 "exist and be writable");
}

core::Result<transport::FrontDoorOptions> front_door_options(FrontDoorFlags& f, [[maybe_unused]] spdlog::logger& log) {
  if (auto s = check_endpoints("--listen", f.listen, transport::EndpointUse::kListen); !s.ok()) return s;
  if (auto s = check_ready_file(f.ready_file); !s.ok()) return s;
  transport::FrontDoorOptions o;
  o.listen = f.listen;
  o.io_threads = f.io_threads;
  o.max_queue = f.max_queue;
  o.max_queue_per_client = f.max_queue_per_client;
  o.limits = f.limits.limits();
  o.max_payload_bytes = static_cast<uint64_t>(f.max_payload_mb * (1 << 20));
  o.ready_file = f.ready_file;
  if (!f.curve_key.empty()) {
#if !EDGESERVE_WITH_ZMQ
    return core::Status(core::StatusCode::kInvalidArgument,
                        "--curve-key needs tcp://, and " + transport::not_built_in("tcp://"));
#else
    auto curve = transport::tcp::read_curve_server_config(f.curve_key, f.curve_clients);
    if (!curve.ok()) return core::Status(curve.status().code(), user_text(curve.status()));
    log.info("CURVE on: encrypted links, {} authorized client key(s) from {}", curve->authorized_clients.size(),
             f.curve_clients);
    o.transports.set("tcp", std::make_shared<transport::tcp::TcpServerSettings>(std::move(curve.value())));
#endif
  }
  return o;
}

}  // namespace edgeserve::cli
