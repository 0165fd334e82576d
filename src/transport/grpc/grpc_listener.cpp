// The grpc:// listener's life: bind, serve until stop(), drain.
#include "transport/grpc/grpc_listener.h"

#include <fmt/format.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <limits>

#include "core/log.h"
#include "transport/endpoint.h"
#include "transport/event_fd.h"
#include "transport/grpc/inference_service.h"

namespace edgeserve::transport::grpc {

using core::Status;
using core::StatusCode;

namespace {

// Room for an infer request's names and parameters beside a tensor of --max-payload-mb: larger messages are refused
// by gRPC itself (RESOURCE_EXHAUSTED) before they are read into memory.
constexpr int kMessageAllowance = 1 << 20;
// Landing blocks made at start: at most this many however large --max-clients is (more in flight allocate).
constexpr size_t kMaxLandingBlocks = 64;
// How long stop() lets infer calls in flight be answered, and then their replies leave, before gRPC cancels them.
constexpr auto kDrainTime = std::chrono::seconds(5);
constexpr auto kFlushTime = std::chrono::milliseconds(100);

class GrpcListener final : public Listener {
 public:
  GrpcListener(const ListenOptions& options, std::shared_ptr<const http::HttpServerSettings> models)
      : options_(options), models_(std::move(models)) {}

  ~GrpcListener() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
  }

  Status bind(const std::string& uri) {
    auto parsed = parse_endpoint(uri, EndpointUse::kListen);
    if (!parsed.ok()) return parsed.status();
    const std::string host = parsed->host == "*" ? "0.0.0.0" : parsed->host;
    const std::string port = parsed->port == "*" ? "0" : parsed->port;
    const std::string address =
        host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
    // Landing blocks the size of the largest model input; a larger tensor (a raw frame) gets memory of its own.
    size_t block = 64 << 10;
    if (models_)
      for (const auto& m : models_->models())
        block = std::max<size_t>(block, core::tensor_bytes(m.input.shape, m.input.dtype).value_or(0));
    const size_t blocks = std::clamp<size_t>(options_.limits.max_clients, 1, kMaxLandingBlocks);
    auto pool = core::BufferPool::create("grpc:// landing buffers", block, blocks, [this](size_t bytes) {
      return options_.allocate ? options_.allocate(bytes, core::MemoryKind::kHost)
                               : core::Result<std::unique_ptr<core::MemoryBuffer>>(core::allocate_host_memory(bytes));
    });
    if (!pool.ok()) return pool.status();
    service_ = std::make_unique<InferenceService>(options_, models_, std::move(pool.value()));
    ::grpc::ServerBuilder builder;
    int bound_port = 0;
    builder.AddListeningPort(address, ::grpc::InsecureServerCredentials(), &bound_port);
    builder.RegisterService(service_.get());
    const uint64_t max_message = options_.max_payload_bytes + kMessageAllowance;
    builder.SetMaxReceiveMessageSize(
        static_cast<int>(std::min<uint64_t>(max_message, std::numeric_limits<int>::max())));
    builder.SetMaxSendMessageSize(-1);
    // As every edgeserve listener: a second server on a port in use fails rather than sharing it.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    if (const auto idle = options_.limits.idle_timeout; idle.count() > 0)
      builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                                 static_cast<int>(std::chrono::milliseconds(idle).count()));
    server_ = builder.BuildAndStart();
    if (!server_ || bound_port == 0 || wake_.fd() < 0)
      return {StatusCode::kTransportError, fmt::format("cannot listen on {}: gRPC could not bind {}", uri, address)};
    endpoint_ = fmt::format("grpc://{}:{}", host, bound_port);
    return {};
  }

  const std::string& endpoint() const override { return endpoint_; }

  void run(const std::function<void(std::unique_ptr<Delivery>)>& on_delivery) override {
    service_->start(&on_delivery);
    uint64_t count = 0;
    while (!stop_requested_.load() && ::read(wake_.fd(), &count, sizeof count) < 0 && errno == EINTR) {
    }
    // Infer calls in flight are answered (their replies come from the pipeline); new ones are refused. Then gRPC
    // ends: its Shutdown waits out its whole deadline while a client holds a channel open, so the deadline is only
    // long enough for the last replies to leave. on_delivery is the caller's and lives until run() returns, which
    // is after every call has ended (the server waits for calls it cancelled to be finished).
    if (!service_->drain(kDrainTime))
      core::logger("transport")
          ->warn("{}: infer calls still unanswered after {} s; they are cancelled", endpoint_, kDrainTime.count());
    server_->Shutdown(std::chrono::system_clock::now() + kFlushTime);
  }

  void stop() override {
    stop_requested_.store(true);
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t written = ::write(wake_.fd(), &one, sizeof one);
  }

 private:
  ListenOptions options_;
  std::shared_ptr<const http::HttpServerSettings> models_;
  std::unique_ptr<InferenceService> service_;  // before server_: the server ends first
  std::unique_ptr<::grpc::Server> server_;
  std::string endpoint_;
  EventFd wake_;
  std::atomic<bool> stop_requested_{false};
};

}  // namespace

core::Result<std::unique_ptr<Listener>> bind_grpc_listener(const std::string& uri, const ListenOptions& options,
                                                           std::shared_ptr<const http::HttpServerSettings> models) {
  auto listener = std::make_unique<GrpcListener>(options, std::move(models));
  if (Status s = listener->bind(uri); !s.ok()) return s;
  return std::unique_ptr<Listener>(std::move(listener));
}

}  // namespace edgeserve::transport::grpc
