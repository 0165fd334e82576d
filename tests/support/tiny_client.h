// Requests for the test models (`tiny`: float32 [1,3,32,32] → 10 logits; `mobilenetv3`: [1,3,224,224]),
// connections that fail the test when they cannot be made, and fixed ports for servers that must come back where
// clients expect them.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/wire.h"
#include "transport/client_connection.h"

namespace edgeserve::testing {

inline constexpr size_t kTinyInputBytes = 3 * 32 * 32 * 4;
inline constexpr size_t kTinyOutputBytes = 10 * 4;

inline core::RequestHeader tiny_request(uint64_t id, uint32_t client = 0) {
  core::RequestHeader h;
  h.request_id = id;
  h.client_id = client;
  h.model = "tiny";
  h.shape = core::TensorShape{1, 3, 32, 32};
  h.payload_bytes = kTinyInputBytes;
  return h;
}

// A MobileNetV3 request: tens of ms of inference on CPU, for tests that need a worker busy for a while.
inline core::RequestHeader mobilenet_request(uint64_t id, uint32_t client = 0) {
  core::RequestHeader h;
  h.request_id = id;
  h.client_id = client;
  h.model = "mobilenetv3";
  h.shape = core::TensorShape{1, 3, 224, 224};
  h.payload_bytes = 3 * 224 * 224 * 4;
  return h;
}

// A deterministic input: distinct `value`s give distinct outputs.
inline std::vector<std::byte> tiny_input(float value) {
  std::vector<float> v(kTinyInputBytes / 4);
  for (size_t i = 0; i < v.size(); ++i) v[i] = value * static_cast<float>(i % 97) / 97.0f;
  std::vector<std::byte> bytes(kTinyInputBytes);
  std::memcpy(bytes.data(), v.data(), bytes.size());
  return bytes;
}

inline std::unique_ptr<transport::ClientConnection> connect_or_fail(const std::string& target) {
  auto c = transport::connect(target);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  return c.ok() ? std::move(c.value()) : nullptr;
}

// A free loopback port below Linux's ephemeral range (32768+), starting from `first`: a client reconnecting
// to a dead server on an ephemeral port can be handed that very port as its own source port (TCP
// self-connect) and then hold it, so a restarted server could not bind it.
inline uint16_t free_fixed_port(uint16_t first) {
  for (uint16_t port = static_cast<uint16_t>(first + getpid() % 2000);; ++port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (free) return port;
  }
}

}  // namespace edgeserve::testing
