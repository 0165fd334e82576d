// The transport table: one line per transport.
#include "transport/registry.h"

#include <fmt/format.h>

#include <vector>

#include "transport/ipc/ipc_transport.h"
#include "transport/local/local_transport.h"
#include "transport/tcp/tcp_transport.h"
#include "transport/ucx/ucx_transport.h"

namespace edgeserve::transport {

namespace {

using enum AddressForm;

// scheme, summary, address, interface names, listen, connect, describe
constexpr TransportEntry kTransports[] = {
    {"local", "in-process: the server's pipeline on the caller's thread", kInProcess, false, nullptr,
     local::open_connection, local::describe},
    {"tcp", "ZeroMQ over TCP", kHostPort, true, tcp::open_listener, tcp::open_connection, tcp::describe},
    {"ucx", "UCX: RDMA, shared memory, CUDA IPC or TCP", kHostPort, false, ucx::open_listener, ucx::open_connection,
     ucx::describe},
    {"ipc", "ZeroMQ over a Unix socket", kPath, false, ipc::open_listener, ipc::open_connection, ipc::describe},
};

}  // namespace

std::span<const TransportEntry> transports() { return kTransports; }

const TransportEntry* find_transport(std::string_view uri) {
  for (const auto& t : kTransports) {
    if (t.address == kInProcess && uri == t.scheme) return &t;
    if (t.address != kInProcess && uri.size() >= t.scheme.size() + 3 && uri.starts_with(t.scheme) &&
        uri.substr(t.scheme.size(), 3) == "://")
      return &t;
  }
  return nullptr;
}

std::string accepted_addresses(bool listen, bool in_process) {
  std::vector<std::string> forms;
  for (const auto& t : kTransports) {
    if ((listen && t.listen == nullptr) || (!in_process && t.address == kInProcess)) continue;
    forms.push_back(t.address == kHostPort ? fmt::format("{}://HOST:PORT", t.scheme)
                    : t.address == kPath   ? fmt::format("{}://PATH", t.scheme)
                                           : std::string(t.scheme));
  }
  std::string text;
  for (size_t i = 0; i < forms.size(); ++i) text += (i == 0 ? "" : i + 1 == forms.size() ? " or " : ", ") + forms[i];
  return text;
}

}  // namespace edgeserve::transport
