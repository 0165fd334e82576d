// Ending the keep-alive connections a listener accepted, found among this process's descriptors: httplib waits out
// an idle keep-alive connection (up to its keep-alive timeout) before it lets a stopping server go, and tracks no
// connections a caller could close.
#pragma once

#include <cstdint>
#include <string>

namespace edgeserve::transport::http {

// Shuts down the read side of every connected TCP socket of this process whose local address is `host`:`port`
// (`host` "0.0.0.0": any address), i.e. the connections accepted by the listener bound there. A connection waiting
// for its next request sees end-of-file and closes; one whose reply is being written still sends it. For stop(),
// after the listening socket is closed. Not async-signal-safe.
void end_accepted_connections(const std::string& host, uint16_t port);

}  // namespace edgeserve::transport::http
