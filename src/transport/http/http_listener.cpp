// KServe v2 REST endpoints on cpp-httplib: routes, request → Delivery, reply → HTTP.
#include "transport/http/http_listener.h"

#include <fmt/format.h>
#include <httplib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstring>
#include <thread>

#include "core/buffer_pool.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/log_limiter.h"
#include "transport/endpoint.h"
#include "transport/event_fd.h"
#include "transport/http/accepted_connections.h"
#include "transport/http/http_delivery.h"
#include "transport/http/kserve_metadata.h"
#include "transport/http/kserve_request.h"
#include "transport/http/kserve_response.h"
#include "transport/http/kserve_statistics.h"
#include "transport/http/kserve_types.h"
#include "transport/http/numbered_connections.h"
#include "transport/http/shared_input_landing.h"
#include "transport/http/shared_memory_routes.h"
#include "transport/http/shared_memory_tensors.h"
#include "transport/sender.h"

namespace edgeserve::transport::http {

using core::Status;
using core::StatusCode;

namespace {

constexpr const char* kHeaderLength = "Inference-Header-Content-Length";

// httplib's server, with its listening socket in reach (for its backlog).
class ListeningServer final : public httplib::Server {
 public:
  socket_t listening_socket() const { return svr_sock_; }
};
// Room for an infer request's JSON beside a tensor of --max-payload-mb (a tensor sent as JSON "data" takes several
// times its binary size: large ones go binary).
constexpr size_t kJsonAllowance = 1 << 20;
// httplib serves each connection on a thread of its pool; at most this many however large --max-clients is.
constexpr size_t kMaxConnectionThreads = 64;

std::optional<uint64_t> parse_uint(std::string_view text) {
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

void reply_json(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, "application/json");
}

class HttpListener final : public Listener {
 public:
  HttpListener(const ListenOptions& options, std::shared_ptr<const HttpServerSettings> models)
      : options_(options), models_(std::move(models)) {}

  Status bind(const std::string& uri) {
    auto parsed = parse_endpoint(uri, EndpointUse::kListen);
    if (!parsed.ok()) return parsed.status();
    const std::string host = parsed->host == "*" ? "0.0.0.0" : parsed->host;
    const size_t threads = std::clamp<size_t>(options_.limits.max_clients, 1, kMaxConnectionThreads);
    // httplib owns the queue it is given (its API takes a raw pointer and deletes it).
    server_.new_task_queue = [threads] { return new NumberedConnections(threads); };
    server_.set_payload_max_length(options_.max_payload_bytes + kJsonAllowance);
    server_.set_keep_alive_max_count(std::numeric_limits<size_t>::max());
    const auto idle = options_.limits.idle_timeout.count();
    server_.set_keep_alive_timeout(idle > 0 ? idle : 5);
    const auto request = options_.limits.request_timeout.count();
    server_.set_read_timeout(request > 0 ? request : 3600);
    server_.set_tcp_nodelay(true);
    // SO_REUSEADDR as every edgeserve listener, instead of httplib's SO_REUSEPORT: a restarted server binds past
    // its predecessor's TIME_WAIT connections, and a second server on a port in use fails rather than sharing it.
    server_.set_socket_options([](socket_t sock) {
      const int on = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    });
    // One landing block per connection thread (each holds one request at a time), the size of the largest model
    // input; a larger tensor (a raw frame) gets plain memory for itself (buffer_pool.h).
    size_t block = 64 << 10;
    if (models_)
      for (const auto& m : models_->models())
        block = std::max<size_t>(block, core::tensor_bytes(m.input.shape, m.input.dtype).value_or(0));
    auto pool = core::BufferPool::create("http:// landing buffers", block, threads, [this](size_t bytes) {
      return options_.allocate ? options_.allocate(bytes, core::MemoryKind::kHost)
                               : core::Result<std::unique_ptr<core::MemoryBuffer>>(core::allocate_host_memory(bytes));
    });
    if (!pool.ok()) return pool.status();
    landing_ = std::move(pool.value());
    shared_landing_ = std::make_unique<SharedInputLanding>(options_.allocate, block, threads);
    routes();
    int port = 0;
    if (parsed->port == "0" || parsed->port == "*") {
      port = server_.bind_to_any_port(host);
    } else {
      port = std::stoi(parsed->port);
      if (!server_.bind_to_port(host, port)) port = -1;
    }
    if (port < 0 || wake_.fd() < 0)
      return {StatusCode::kTransportError, fmt::format("cannot listen on {}: {}", uri, std::strerror(errno))};
    // Debian's httplib listens with a backlog of 5: 16 clients connecting at once overflowed it on the H200
    // (TcpExtListenOverflows), and their connections waited out SYN retries. listen() again sets the backlog.
    ::listen(server_.listening_socket(), SOMAXCONN);
    host_ = host;
    port_ = static_cast<uint16_t>(port);
    endpoint_ = fmt::format("http://{}:{}", host, port);
    return {};
  }

  const std::string& endpoint() const override { return endpoint_; }

  void run(const std::function<void(std::unique_ptr<Delivery>)>& on_delivery) override {
    on_delivery_ = &on_delivery;
    if (stop_requested_.load()) return;
    // stop() may run in a signal handler: it only sets the flag and wakes this thread, which stops httplib (once it
    // is running: a stop() before that would be lost) and ends the idle keep-alive connections httplib would wait
    // out before returning.
    std::jthread stopper([this] {
      uint64_t count = 0;
      while (::read(wake_.fd(), &count, sizeof count) < 0 && errno == EINTR) {
      }
      while (!listen_returned_.load() && !server_.is_running())
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      server_.stop();
      end_accepted_connections(host_, port_);
    });
    server_.listen_after_bind();  // returns after stop(), once every connection thread has finished its reply
    listen_returned_.store(true);
    wake();  // releases the stopper when httplib returned on its own
  }

  void stop() override {
    stop_requested_.store(true);
    wake();
  }

  void wake() {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t written = ::write(wake_.fd(), &one, sizeof one);
  }

 private:
  void routes() {
    server_.Get("/v2", [](const httplib::Request&, httplib::Response& res) {
      reply_json(res, 200, server_metadata_json(cuda_regions_supported()));
    });
    server_.Get("/v2/health/live", [](const httplib::Request&, httplib::Response& res) { res.status = 200; });
    server_.Get("/v2/health/ready", [this](const httplib::Request&, httplib::Response& res) {
      res.status = stop_requested_.load() ? 503 : 200;
    });
    // /v2/models/{m}[/versions/{v}][/ready|/config|/infer]
    server_.Get("/v2/models/stats", [this](const httplib::Request&, httplib::Response& res) {
      std::vector<std::string> names;
      if (models_)
        for (const auto& m : models_->models()) names.push_back(m.name);
      reply_json(res, 200, statistics_.to_json(names));
    });
    if (models_ && models_->metrics())
      server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(models_->metrics()(), kMetricsContentType);
      });
    const std::string model = R"(/v2/models/([^/]+)(?:/versions/([^/]+))?)";
    server_.Get(model, [this](const httplib::Request& req, httplib::Response& res) {
      if (const ServedModel* m = known_model(req, res)) reply_json(res, 200, model_metadata_json(*m));
    });
    server_.Get(model + "/stats", [this](const httplib::Request& req, httplib::Response& res) {
      if (const ServedModel* m = known_model(req, res)) reply_json(res, 200, statistics_.to_json({m->name}));
    });
    server_.Get(model + "/ready", [this](const httplib::Request& req, httplib::Response& res) {
      if (known_model(req, res) != nullptr) res.status = 200;
    });
    server_.Get(model + "/config", [this](const httplib::Request& req, httplib::Response& res) {
      if (const ServedModel* m = known_model(req, res)) reply_json(res, 200, model_config_json(*m));
    });
    add_shared_memory_routes(server_, shared_memory_);
    server_.Post(model + "/infer", [this](const httplib::Request& req, httplib::Response& res,
                                          const httplib::ContentReader& content) { infer(req, res, content); });
    // Every error without a body of its own (no route, a body over the limit) gets the protocol's JSON error. An
    // oversized body is a 400 with payload-too-large, as every other bad request.
    server_.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      if (res.status == 413) {
        reply_json(res, 400, error_json({StatusCode::kPayloadTooLarge, "the request body is over the server's limit"}));
      } else {
        reply_json(
            res, res.status,
            error_json({StatusCode::kInvalidArgument, fmt::format("HTTP {}: no such endpoint or method", res.status)}));
      }
      return httplib::Server::HandlerResponse::Handled;
    }));
    server_.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
      reply_json(res, 500, error_json({StatusCode::kInternal, "the request could not be handled"}));
    });
  }

  // The model a metadata path names, or null after answering 404 (unknown model or version).
  const ServedModel* known_model(const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches[1];
    const ServedModel* m = models_ ? models_->find(name) : nullptr;
    if (m == nullptr) {
      // A gateway knows no models: "unavailable" (still a 404) tells edgeserve's client to send without names.
      reply_json(
          res, 404,
          error_json(
              models_ ? core::Status(StatusCode::kUnknownModel, fmt::format("no model {} here", name.substr(0, 64)))
                      : core::Status(StatusCode::kUnavailable, "this listener knows no model metadata (a gateway)")));
      return nullptr;
    }
    if (req.matches[2].matched && req.matches[2] != "1") {
      reply_json(res, 404, error_json({StatusCode::kUnknownModel, fmt::format("model {} has version 1 only", name)}));
      return nullptr;
    }
    return m;
  }

  // An error the server's own error path answers (logged rate-limited and counted), sent as HTTP.
  void fail(httplib::Response& res, uint64_t id, const Status& status, uint64_t recv_ns) {
    const core::ResponseHeader header = options_.edge_error ? options_.edge_error(id, status, recv_ns, "http client")
                                                            : core::error_response(id, status);
    if (std::string note; !options_.edge_error && error_log_.allow(note))
      core::logger("transport")->warn("http request {}: {}{}", id, status.to_string(), note);
    reply_json(res, http_status_of(header.status), error_json({header.status, header.error}));
  }

  // The body, read here rather than by httplib: its size limit applies to the bytes on the wire, and a compressed
  // body (Content-Encoding: gzip, which tritonclient can send) inflates while it is read. Past the limit the rest is
  // read and dropped, so the connection stays in step for its next request.
  bool read_body(const httplib::Request& req, const httplib::ContentReader& content, std::string& body) const {
    const size_t limit = options_.max_payload_bytes + kJsonAllowance;
    // A Content-Length past the limit is refused unread (httplib then hands over no bytes at all).
    const auto declared = parse_uint(req.get_header_value("Content-Length"));
    bool over = declared && *declared > limit;
    if (!over) body.reserve(declared.value_or(0));
    content([&](const char* data, size_t n) {
      over = over || body.size() + n > limit;
      if (!over) body.append(data, n);
      return true;
    });
    return !over;
  }

  void infer(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& content) {
    std::string body;
    const bool within_limit = read_body(req, content, body);
    const uint64_t recv_ns = core::now_ns();
    if (!within_limit)
      return fail(res, 0,
                  {StatusCode::kPayloadTooLarge,
                   fmt::format("the request body (inflated, if compressed) is over the server's limit of {} bytes",
                               options_.max_payload_bytes + kJsonAllowance)},
                  recv_ns);
    const std::string model = req.matches[1];
    std::optional<uint64_t> header_length;
    if (req.has_header(kHeaderLength)) {
      header_length = parse_uint(req.get_header_value(kHeaderLength));
      if (!header_length)
        return fail(res, 0, {StatusCode::kMalformedHeader, "Inference-Header-Content-Length is not a number"}, recv_ns);
    }
    if (req.matches[2].matched && req.matches[2] != "1")
      return fail(res, 0, {StatusCode::kUnknownModel, fmt::format("model {} has version 1 only", model)}, recv_ns);
    auto parsed = parse_infer_request(std::as_bytes(std::span(body.data(), body.size())), header_length);
    if (!parsed.ok()) return fail(res, 0, parsed.status(), recv_ns);
    InferRequest& r = parsed.value();
    const uint64_t id = parse_uint(r.id).value_or(next_id_.fetch_add(1) | (1ull << 63));
    const ServedModel* served = models_ ? models_->find(model) : nullptr;
    core::RequestHeader h;
    if (Status s = to_request_header(r, served, model, id, h); !s.ok()) return fail(res, id, s, recv_ns);
    const uint32_t client_id = h.client_id;
    const auto input = r.inputs.front().bytes();
    std::optional<SharedMemoryView> shared_input;  // holds the client's region while its bytes are read
    if (const auto& at = r.inputs.front().shared_memory) {
      auto view = shared_memory_.view(*at);
      if (!view.ok()) return fail(res, id, view.status(), recv_ns);
      shared_input = std::move(view.value());
    }
    const size_t input_bytes = shared_input ? shared_input->byte_size : input.size();
    if (Status s = check_shared_outputs(shared_memory_, r.outputs); !s.ok()) return fail(res, id, s, recv_ns);
    if (Status s = core::check_payload(h, input_bytes, options_.max_payload_bytes); !s.ok())
      return fail(res, id, s, recv_ns);
    // The body is httplib's string (or the client's region): the tensor moves to aligned landing memory (pinned
    // next to a GPU) from a pool.
    std::unique_ptr<core::MemoryBuffer> landing;
    if (shared_input) {
      auto landed = shared_landing_->land(*shared_input, h.input_kind, *landing_);
      if (!landed.ok()) return fail(res, id, landed.status(), recv_ns);
      landing = std::move(landed.value());
    } else {
      landing = landing_->take(input_bytes);
      std::memcpy(landing->bytes().data(), input.data(), input_bytes);
    }
    const uint8_t select = h.output.select;
    auto slot = std::make_shared<ReplySlot>();
    const uint64_t sender = sender_from_name("http", req.remote_addr + ":" + std::to_string(req.remote_port));
    (*on_delivery_)(std::make_unique<HttpDelivery>(recv_ns, sender, std::move(h), std::move(landing), slot));
    slot->wait();
    if (served != nullptr) statistics_.record(served->name, slot->header());
    write_reply(res, *slot, r, served, model, select, client_id);
  }

  // The request's fields as the pipeline takes them; checks names against the model when they are known.
  Status to_request_header(const InferRequest& r, const ServedModel* served, const std::string& model, uint64_t id,
                           core::RequestHeader& h) const {
    if (r.inputs.size() != 1)
      return {StatusCode::kInvalidArgument, fmt::format("edgeserve models take one input; got {}", r.inputs.size())};
    const InferInput& in = r.inputs.front();
    if (served != nullptr && in.name != served->input.name)
      return {StatusCode::kInvalidArgument, fmt::format("model {} has no input {} (its input is {})", model,
                                                        in.name.substr(0, 64), served->input.name)};
    h.request_id = id;
    // A client that names no client id (a plain KServe client) is its connection: one lane per connection.
    h.client_id = r.client_id.value_or(NumberedConnections::current());
    h.input_kind = r.input_kind;
    h.dtype = in.dtype;
    h.priority = r.priority;
    h.shape = in.shape;
    h.client_send_ns = r.client_send_ns;
    h.model = model;
    h.output = r.output;
    for (const auto& ask : r.outputs) {
      if (served == nullptr) break;  // a gateway: the backend's default outputs
      const auto it = std::find_if(served->outputs.begin(), served->outputs.end(),
                                   [&ask](const core::TensorSpec& o) { return o.name == ask.name; });
      if (it == served->outputs.end() || it - served->outputs.begin() >= 8)
        return {StatusCode::kInvalidArgument, fmt::format("model {} has no output {}", model, ask.name.substr(0, 64))};
      h.output.select |= static_cast<uint8_t>(1u << (it - served->outputs.begin()));
    }
    const auto bytes = core::tensor_bytes(h.shape, h.dtype);
    if (!bytes)
      return {StatusCode::kBadShape,
              fmt::format("shape {} holds no {} tensor", h.shape.to_string(), core::to_string(h.dtype))};
    h.payload_bytes = *bytes;
    // The wire codec's own checks (model name length, enums), so http:// refuses what tcp:// refuses.
    core::RequestHeaderBytes encoded;
    core::encode(h, encoded);
    auto decoded = core::decode_request_header(encoded);
    return decoded.ok() ? Status{} : decoded.status();
  }

  void write_reply(httplib::Response& res, const ReplySlot& slot, const InferRequest& r, const ServedModel* served,
                   const std::string& model, uint8_t asked, uint32_t client_id) const {
    const core::ResponseHeader& header = slot.header();
    if (header.status != StatusCode::kOk)
      return reply_json(res, http_status_of(header.status), error_json({header.status, header.error}));
    if (slot.payload() != nullptr && slot.payload()->on_device())
      return reply_json(res, 500, error_json({StatusCode::kInternal, "the reply is in GPU memory"}));
    InferReplyForm form{model, r.id, {}, {}, {}, client_id};
    const uint8_t select = asked != 0 ? asked : (served ? served->default_select : 0);
    form.names = reply_output_names(served, select, header.n_outputs);
    // A gateway knows no output names: the outputs it got back carry the names they were asked for by.
    if (served == nullptr && r.outputs.size() == header.n_outputs)
      for (size_t i = 0; i < r.outputs.size(); ++i) form.names[i] = r.outputs[i].name;
    for (size_t i = 0; i < header.n_outputs; ++i) {
      bool binary = r.binary_data_output;
      std::optional<SharedMemoryAsk> shared;
      for (const auto& ask : r.outputs)
        if (form.names[i] == ask.name || form.names[i].starts_with(ask.name + "_")) {
          binary = ask.binary;
          shared = ask.shared_memory;
        }
      form.binary.push_back(binary);
      form.shared_memory.push_back(std::move(shared));
    }
    std::span<const std::byte> payload;
    if (slot.payload() != nullptr)
      payload = slot.payload()->bytes().first(std::min<size_t>(header.payload_bytes, slot.payload()->bytes().size()));
    if (Status s = write_shared_outputs(shared_memory_, header, payload, form); !s.ok())
      return reply_json(res, http_status_of(s.code()), error_json(s));
    EncodedReply encoded = encode_infer_reply(header, payload, form);
    res.status = 200;
    if (encoded.any_binary) res.set_header(kHeaderLength, std::to_string(encoded.json_bytes));
    res.set_content(encoded.body, encoded.any_binary ? "application/octet-stream" : "application/json");
  }

  ListenOptions options_;
  std::shared_ptr<const HttpServerSettings> models_;
  ListeningServer server_;
  std::shared_ptr<core::BufferPool> landing_;
  std::unique_ptr<SharedInputLanding> shared_landing_;
  SharedMemoryRegions shared_memory_;
  std::string host_;
  uint16_t port_ = 0;
  std::string endpoint_;
  EventFd wake_;
  std::atomic<bool> listen_returned_{false};
  const std::function<void(std::unique_ptr<Delivery>)>* on_delivery_ = nullptr;
  std::atomic<bool> stop_requested_{false};
  std::atomic<uint64_t> next_id_{1};
  ModelStatistics statistics_;
  core::LogLimiter error_log_;
};

}  // namespace

core::Result<std::unique_ptr<Listener>> bind_http_listener(const std::string& uri, const ListenOptions& options,
                                                           std::shared_ptr<const HttpServerSettings> models) {
  auto listener = std::make_unique<HttpListener>(options, std::move(models));
  if (Status s = listener->bind(uri); !s.ok()) return s;
  return std::unique_ptr<Listener>(std::move(listener));
}

}  // namespace edgeserve::transport::http
