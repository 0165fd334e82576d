// Parsing and checking SCHEME://HOST:PORT addresses of the registry's network transports.
#include "transport/endpoint.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "transport/registry.h"

namespace edgeserve::transport {

namespace {

using core::Status;
using core::StatusCode;

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

}  // namespace

core::Result<Endpoint> parse_endpoint(std::string_view uri, EndpointUse use) {
  const bool listen = use == EndpointUse::kListen;
  const std::string expected = accepted_addresses(listen, /*in_process=*/false) +
                               (listen ? " (PORT 0..65535; 0 picks a free one)" : " (PORT 1..65535)");
  const auto bad = [&](std::string_view why) {
    return Status(StatusCode::kInvalidArgument, fmt::format("'{}': {}; expected {}", uri, why, expected));
  };
  const TransportEntry* t = find_transport(uri);
  if (const std::string why = not_built_in(uri); !why.empty())
    return Status(StatusCode::kInvalidArgument, fmt::format("'{}': {}", uri, why));
  if (t == nullptr || t->address == AddressForm::kInProcess || (listen && t->listen == nullptr))
    return bad("unknown scheme");
  Endpoint e;
  e.scheme = std::string(t->scheme);
  const std::string_view rest = uri.substr(e.scheme.size() + 3);
  if (t->address == AddressForm::kPath) {
    constexpr size_t kMaxPath = sizeof(sockaddr_un::sun_path) - 1;
    if (rest.empty()) return bad("no path");
    if (rest.size() > kMaxPath) return bad(fmt::format("a Unix socket's path has at most {} bytes", kMaxPath));
    e.host = std::string(rest);
    return e;
  }
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) return bad("no port");
  e.host = std::string(rest.substr(0, colon));
  e.port = std::string(rest.substr(colon + 1));
  if (e.host.empty()) return bad("no host");
  if (e.host.front() == '[' || e.host.find(':') != std::string::npos) return bad("IPv6 addresses are not supported");
  if (e.port == "*" && listen) return e;
  if (!all_digits(e.port) || e.port.size() > 5) return bad(fmt::format("port '{}' is not a number", e.port));
  const int port = std::stoi(e.port);
  if (port > 65535) return bad(fmt::format("port {} is out of range", port));
  if (port == 0 && !listen) return bad("port 0 cannot be connected to");
  e.port = std::to_string(port);  // "05555" → "5555"
  return e;
}

core::Result<std::string> resolve_listen_address(std::string_view uri) {
  auto parsed = parse_endpoint(uri, EndpointUse::kListen);
  if (!parsed.ok()) return parsed.status();
  Endpoint e = std::move(parsed.value());
  if (e.port.empty()) return e.uri();  // a path: nothing to resolve
  in_addr ip{};
  if (e.host == "*" || inet_pton(AF_INET, e.host.c_str(), &ip) == 1) return e.uri();
  // ZeroMQ binds an interface by name (eth0, lo); UCX does not, so a ucx:// host must resolve.
  const bool interface_names = find_transport(e.uri())->binds_interface_names;
  if (interface_names && if_nametoindex(e.host.c_str()) != 0) return e.uri();
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int err = getaddrinfo(e.host.c_str(), nullptr, &hints, &found); err != 0 || found == nullptr)
    return Status(StatusCode::kInvalidArgument,
                  fmt::format("'{}': cannot resolve host '{}' ({}); listen on an IPv4 address, * (every interface)"
                              "{} or a host name that resolves",
                              uri, e.host, gai_strerror(err), interface_names ? ", an interface name such as lo" : ""));
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(found->ai_addr)->sin_addr, text, sizeof text);
  freeaddrinfo(found);
  e.host = text;
  return e.uri();
}

core::Status check_port_free(std::string_view resolved_uri) {
  auto parsed = parse_endpoint(resolved_uri, EndpointUse::kListen);
  if (!parsed.ok()) return parsed.status();
  const Endpoint& e = parsed.value();
  if (e.port.empty()) {
    // A Unix socket: ZeroMQ would silently take the path over from a live server, so ask whether one answers.
    sockaddr_un unix_address{};
    unix_address.sun_family = AF_UNIX;
    std::strncpy(unix_address.sun_path, e.host.c_str(), sizeof unix_address.sun_path - 1);
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return {};
    const bool answered = ::connect(fd, reinterpret_cast<const sockaddr*>(&unix_address), sizeof unix_address) == 0;
    close(fd);
    if (answered)
      return Status(StatusCode::kUnavailable,
                    fmt::format("cannot listen on {}: another process listens there", resolved_uri));
    return {};
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  if (e.port == "*" || e.port == "0") return {};
  address.sin_port = htons(static_cast<uint16_t>(std::stoi(e.port)));
  if (e.host == "*")
    address.sin_addr.s_addr = htonl(INADDR_ANY);
  else if (inet_pton(AF_INET, e.host.c_str(), &address.sin_addr) != 1)
    return {};  // an interface name: left to the listener
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return {};
  const int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);  // as the listeners do: TIME_WAIT is no conflict
  const int bound = bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  const int error = errno;
  close(fd);
  if (bound != 0 && (error == EADDRINUSE || error == EADDRNOTAVAIL || error == EACCES))
    return Status(StatusCode::kUnavailable, fmt::format("cannot listen on {}: {}{}", resolved_uri, std::strerror(error),
                                                        error == EADDRINUSE ? " (another process listens there)" : ""));
  return {};
}

}  // namespace edgeserve::transport
