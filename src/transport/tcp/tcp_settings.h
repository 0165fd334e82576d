// tcp's own settings, made by cli/ and carried opaquely (transport_settings.h) to the tcp transport.
#pragma once

#include <string>

#include "transport/tcp/curve_keys.h"
#include "transport/transport_settings.h"

namespace edgeserve::transport::tcp {

// Listeners: clients must speak CURVE with a public key in curve.authorized_clients.
struct TcpServerSettings final : SchemeSettings {
  explicit TcpServerSettings(CurveServerConfig c) : curve(std::move(c)) {}
  std::string what() const override { return "CURVE keys"; }
  CurveServerConfig curve;
};

// Connections: encrypt, and authenticate with this key pair.
struct TcpClientSettings final : SchemeSettings {
  explicit TcpClientSettings(CurveClientConfig c) : curve(std::move(c)) {}
  std::string what() const override { return "CURVE keys"; }
  CurveClientConfig curve;
};

}  // namespace edgeserve::transport::tcp
