// A raw ZeroMQ client that floods a tcp:// server or gateway with pipelined tiny requests, for the tests of
// per-client limits.
#pragma once

#include <chrono>
#include <string>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "tiny_client.h"

namespace edgeserve::testing {

// What a flood of pipelined requests got back.
struct FloodReplies {
  size_t replies = 0, ok = 0, refused_per_client = 0;  // refused_per_client: "overloaded", citing the per-client limit
};

// One tcp connection (a raw DEALER) sends `count` tiny requests back to back, each with a different client
// id, then reads every reply (at most `wait` for each).
inline FloodReplies flood_with_changing_client_ids(const std::string& endpoint, uint64_t count,
                                                   std::chrono::milliseconds wait = std::chrono::seconds(60)) {
  zmq::context_t context;
  zmq::socket_t dealer(context, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.set(zmq::sockopt::sndhwm, 0);
  dealer.set(zmq::sockopt::rcvtimeo, static_cast<int>(wait.count()));
  dealer.connect(endpoint);
  const auto input = tiny_input(0.5f);
  for (uint64_t id = 1; id <= count; ++id) {
    core::RequestHeaderBytes header;
    core::encode(tiny_request(id, static_cast<uint32_t>(id)), header);
    dealer.send(zmq::buffer(header), zmq::send_flags::sndmore);
    dealer.send(zmq::buffer(input));
  }
  FloodReplies got;
  for (; got.replies < count; ++got.replies) {
    std::vector<zmq::message_t> frames;
    if (!zmq::recv_multipart(dealer, std::back_inserter(frames)) || frames.empty()) break;
    auto reply = core::decode_response_header({frames[0].data<std::byte>(), frames[0].size()});
    if (!reply.ok()) break;
    if (reply->status == core::StatusCode::kOk) ++got.ok;
    if (reply->status == core::StatusCode::kOverloaded && reply->error.find("limit per client") != std::string::npos)
      ++got.refused_per_client;
  }
  return got;
}

}  // namespace edgeserve::testing
