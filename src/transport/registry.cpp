// The transport table: one line per transport.
#include "transport/registry.h"

#include <fmt/format.h>

#include <vector>

#include "transport/local/local_transport.h"
#if EDGESERVE_WITH_ZMQ
#include "transport/ipc/ipc_transport.h"
#include "transport/tcp/tcp_transport.h"
#endif
#if EDGESERVE_WITH_UCX
#include "transport/ucx/ucx_transport.h"
#endif
#if EDGESERVE_WITH_HTTP
#include "transport/http/http_transport.h"
#endif
#if EDGESERVE_WITH_GRPC
#include "transport/grpc/grpc_transport.h"
#endif

namespace edgeserve::transport {

namespace {

using enum AddressForm;

// scheme, summary, address, interface names, listen, connect, describe
constexpr TransportEntry kTransports[] = {
    {"local", "in-process: the server's pipeline on the caller's thread", kInProcess, false, nullptr,
     local::open_connection, local::describe},
#if EDGESERVE_WITH_ZMQ
    {"tcp", "ZeroMQ over TCP", kHostPort, true, tcp::open_listener, tcp::open_connection, tcp::describe},
#endif
#if EDGESERVE_WITH_UCX
    {"ucx", "UCX: RDMA, shared memory, CUDA IPC or TCP", kHostPort, false, ucx::open_listener, ucx::open_connection,
     ucx::describe},
#endif
#if EDGESERVE_WITH_ZMQ
    {"ipc", "ZeroMQ over a Unix socket", kPath, false, ipc::open_listener, ipc::open_connection, ipc::describe},
#endif
#if EDGESERVE_WITH_HTTP
    {"http", "KServe v2 REST (Open Inference Protocol), tritonclient's HTTP", kHostPort, false, http::open_listener,
     http::open_connection, http::describe},
#endif
#if EDGESERVE_WITH_GRPC
    {"grpc", "KServe v2 gRPC (Open Inference Protocol), tritonclient's gRPC", kHostPort, false, grpc::open_listener,
     grpc::open_connection, grpc::describe},
#endif
};

// Transports a build can leave out (CMake options), so that their addresses get "not built in", not "unknown".
struct Optional {
  std::string_view scheme, option, library;
};
constexpr Optional kOptional[] = {
    {"tcp", "EDGESERVE_WITH_ZMQ", "ZeroMQ (cppzmq)"},
    {"ipc", "EDGESERVE_WITH_ZMQ", "ZeroMQ (cppzmq)"},
    {"ucx", "EDGESERVE_WITH_UCX", "UCX"},
    {"http", "EDGESERVE_WITH_HTTP", "cpp-httplib (libcpp-httplib-dev)"},
    {"grpc", "EDGESERVE_WITH_GRPC", "gRPC C++ (libgrpc++-dev, protobuf-compiler-grpc)"},
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

std::string not_built_in(std::string_view uri) {
  if (find_transport(uri) != nullptr) return {};
  for (const auto& o : kOptional)
    if (uri.starts_with(o.scheme) && uri.substr(o.scheme.size()).starts_with("://"))
      return fmt::format("{}:// is not built in: rebuild with -D{}=ON (needs {})", o.scheme, o.option, o.library);
  return {};
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
