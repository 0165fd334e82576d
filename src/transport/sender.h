// Sender keys: the name a transport gives the connection (or authenticated identity) a request came from.
// Per-client limits in the server and the gateway are keyed on it, never on the client_id a client writes
// into its own request header, which any client can set to anything.
#pragma once

#include <cstdint>
#include <string_view>

namespace edgeserve::transport {

// A fresh key for a connection the transport itself tracks (a UCX endpoint, a local connection): unique in
// the process.
uint64_t new_connection_sender();

// The key for a name the transport vouches for: a ZeroMQ routing id (unique among a ROUTER's live peers) or
// a CURVE public key (one key, one share, however many connections it opens). `kind` keeps kinds apart.
// Never equal to a key from new_connection_sender().
uint64_t sender_from_name(std::string_view kind, std::string_view name);

}  // namespace edgeserve::transport
