// SCHEME://HOST:PORT addresses (tcp://, ucx://: the registry's network transports), checked once and up front: a port
// outside 0..65535, a missing host or a name ZeroMQ cannot bind is refused before a server loads its models or a client
// starts.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace edgeserve::transport {

enum class EndpointUse { kListen, kConnect };

struct Endpoint {
  std::string scheme;  // a registry scheme with HOST:PORT addresses: "tcp", "ucx"
  std::string host;    // an IPv4 address, "*" (listen: every interface), an interface name or a host name
  std::string port;    // digits; "*" or "0" (listen only) picks a free port
  // A path transport (ipc://PATH) keeps its path in `host` and has no port.
  std::string uri() const { return scheme + "://" + host + (port.empty() ? "" : ":" + port); }
};

// Checks the form: a network scheme of the registry (one that can listen, for kListen), a host, a port 0..65535 to
// listen on ("*" too) or 1..65535 to connect to. The error says what was wrong and what is accepted.
core::Result<Endpoint> parse_endpoint(std::string_view uri, EndpointUse use);

// An address a listener can bind as given: parse_endpoint(kListen), then a host name (localhost, a DNS name)
// resolved to its first IPv4 address, since ZeroMQ binds only an IP address, "*" or an interface name.
core::Result<std::string> resolve_listen_address(std::string_view uri);

// For a resolved listen address with a fixed port: whether something already listens there, found by binding
// a socket for a moment. A quick check before a long start-up (models load first); the real bind still decides.
core::Status check_port_free(std::string_view resolved_uri);

}  // namespace edgeserve::transport
