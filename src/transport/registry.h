// The transports this build has, one entry each: the only place a scheme ("tcp", "ucx", "local") is tied to
// code. listen(), connect(), address checks, `info` and the conformance tests all read this table, so adding a
// transport is one folder plus one line in registry.cpp.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"
#include "transport/client_connection.h"
#include "transport/listener.h"

namespace edgeserve::transport {

enum class AddressForm {
  kHostPort,   // SCHEME://HOST:PORT, checked by parse_endpoint (endpoint.h)
  kPath,       // SCHEME://PATH, a Unix socket's path (at most 107 bytes)
  kInProcess,  // the bare scheme ("local"): no address, the handler is in this process
};

struct TransportEntry {
  std::string_view scheme;   // "tcp": addresses start "tcp://"; an in-process transport's address is the scheme
  std::string_view summary;  // one line for `info` and --help: "ZeroMQ over TCP"
  AddressForm address;
  bool binds_interface_names;  // HOST may be an interface name such as lo (ZeroMQ binds one; UCX does not)
  // Server side; null when the transport has none (local).
  core::Result<std::unique_ptr<Listener>> (*listen)(const std::string& uri, const ListenOptions& options);
  core::Result<std::unique_ptr<ClientConnection>> (*connect)(const std::string& target, const ConnectOptions& options);
  // The library behind it and what it can do, for `info`: "ZeroMQ 4.3.4".
  std::string (*describe)();
};

// Every transport of this build, in the order `info` lists them.
std::span<const TransportEntry> transports();
// The entry whose scheme `uri` uses ("tcp://..." → tcp, "local" → local); null when none does.
const TransportEntry* find_transport(std::string_view uri);
// Why `uri` has no transport when its scheme is one this build left out ("ucx:// is not built in: rebuild with
// -DEDGESERVE_WITH_UCX=ON (needs UCX)"); empty when the scheme is built or unknown.
std::string not_built_in(std::string_view uri);
// "tcp://HOST:PORT, ucx://HOST:PORT or local", for errors that say what is accepted; `listen`: only those
// with a server side; `in_process`: with the in-process ones ("local").
std::string accepted_addresses(bool listen, bool in_process = true);

}  // namespace edgeserve::transport
