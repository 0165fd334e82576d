// UCX transport, server side: a UCX listener (connection set-up over a socket address), one worker driven
// by the I/O loop's thread, and per-client landing buffers registered once and grown only when a larger
// request arrives. Workers reply from any thread through a locked outbox; only the loop touches UCX.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/memory_buffer.h"
#include "core/status.h"
#include "transport/connection_limits.h"
#include "transport/listener.h"

namespace edgeserve::transport::ucx {

struct UcxListenerOptions {
  uint64_t max_payload_bytes = 64ull << 20;  // larger requests are refused with payload-too-large
  // max_clients: connections beyond it are rejected at set-up (logged); per source likewise; idle connections
  // and payloads that do not arrive within request_timeout are closed (logged).
  ConnectionLimits limits;
  core::MemoryKind landing = core::MemoryKind::kHost;  // kCuda: requests land in GPU memory (the paper's GDR)
  // UCX workers, each progressed by its own thread; connections are spread over them (fewest clients first),
  // so the payload transfers of many clients run in parallel.
  size_t io_threads = 1;
  // Makes landing (of kind `landing`) and reply (kHost) buffers; the server passes memory that suits its engine
  // (pinned host memory next to a GPU). Unset: plain host memory.
  MemoryAllocator allocate;
  EdgeErrorReply edge_error;  // see ListenOptions
};

class UcxListener final : public Listener {
 public:
  // Listens on "ucx://HOST:PORT" (port 0 picks a free one: see endpoint()). Fails clearly when the UCX in
  // use cannot register GPU memory and landing is kCuda.
  static core::Result<std::unique_ptr<UcxListener>> bind(const std::string& uri, UcxListenerOptions options);
  ~UcxListener() override;
  UcxListener(const UcxListener&) = delete;
  UcxListener& operator=(const UcxListener&) = delete;

  const std::string& endpoint() const override;
  void run(const std::function<void(std::unique_ptr<Delivery>)>& on_delivery) override;
  void stop() override;

  struct Impl;

 private:
  explicit UcxListener(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgeserve::transport::ucx
