// UCX transport, client side. The request payload is registered once (the caller keeps it unchanged for the
// connection's life) and always sent by rendezvous, so the server pulls it into its landing buffer in one
// zero-copy transfer (an RDMA read on an RDMA NIC); the reply lands in a buffer registered once and grown
// only when a larger reply arrives. After a timeout or a lost peer the endpoint is closed and the next call
// reconnects, so a late reply can never be taken for the next request's.
#include "transport/ucx/ucx_connection.h"

#include <fmt/format.h>

#include <cstring>

#include "core/clock.h"
#include "core/log.h"
#include "core/memory_buffer.h"
#include "transport/ucx/ucx_common.h"

namespace edgeserve::transport::ucx {

namespace {

using core::Status;
using core::StatusCode;
using Clock = std::chrono::steady_clock;

class UcxConnection final : public ClientConnection {
 public:
  UcxConnection(std::string uri, SocketAddress address, std::unique_ptr<Worker> worker, bool transient_payloads)
      : uri_(std::move(uri)),
        address_(std::move(address)),
        worker_(std::move(worker)),
        transient_payloads_(transient_payloads) {}

  ~UcxConnection() override { drop_endpoint(/*force=*/false); }

  Status open(std::chrono::milliseconds timeout) {
    for (auto [id, cb] : {std::pair{kWelcome, &UcxConnection::on_welcome}, std::pair{kReply, &UcxConnection::on_reply}})
      if (Status s = worker_->set_am_handler(id, cb, this); !s.ok()) return s;
    if (worker_->max_am_header() < core::kResponseHeaderBytes)
      return {StatusCode::kTransportError,
              fmt::format("this UCX carries active-message headers of at most {} bytes; edgeserve needs {}",
                          worker_->max_am_header(), core::kResponseHeaderBytes)};
    return connect_endpoint(Clock::now() + timeout);
  }

  Status call(const core::RequestHeader& header, std::span<const std::byte> payload, Reply& reply,
              std::chrono::milliseconds timeout) override {
    const auto deadline = Clock::now() + timeout;
    if (ep_.get() == nullptr || ep_failed_) {
      drop_endpoint(/*force=*/true);
      if (Status s = connect_endpoint(deadline); !s.ok()) return s;
    }
    if (Status s = register_payload(payload); !s.ok()) return s;
    core::encode(header, header_bytes_);
    send_done_ = reply_done_ = false;
    reply_error_.clear();

    ucp_request_param_t param{};
    param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_FLAGS;
    param.cb.send = &UcxConnection::on_send_done;
    param.user_data = this;
    // Rendezvous always: the server pulls the payload straight into its landing buffer (host or GPU).
    param.flags = UCP_AM_SEND_FLAG_REPLY | (payload.empty() ? 0 : UCP_AM_SEND_FLAG_RNDV);
    if (payload_registration_) {
      param.op_attr_mask |= UCP_OP_ATTR_FIELD_MEMH;
      param.memh = payload_registration_->get();
    }
    const uint64_t posted = core::now_ns();
    ucs_status_ptr_t request = ucp_am_send_nbx(ep_.get(), kRequest, header_bytes_.data(), header_bytes_.size(),
                                               payload.data(), payload.size(), &param);
    if (UCS_PTR_IS_ERR(request)) {
      const auto s = UCS_PTR_STATUS(request);
      drop_endpoint(/*force=*/true);
      return {StatusCode::kTransportError, fmt::format("cannot send to {}: {}", uri_, to_string(s))};
    }
    if (request == nullptr) {
      send_done_ = true;
      send_done_ns_ = core::now_ns();
    } else {
      send_request_ = request;
    }

    const bool finished = progress_until(
        *worker_, [this] { return (send_done_ && reply_done_) || ep_failed_; }, deadline, spin_time());
    release_send_request();
    release_recv_request();
    if (ep_failed_ && !reply_done_) {
      const ucs_status_t why = ep_error_;
      drop_endpoint(/*force=*/true);
      return {StatusCode::kTransportError, fmt::format("connection to {} lost: {}", uri_, to_string(why))};
    }
    if (!finished) {
      drop_endpoint(/*force=*/true);  // the next call reconnects: no late reply can reach it
      return {StatusCode::kTimeout,
              fmt::format("no reply to request {} from {} within {} ms", header.request_id, uri_, timeout.count())};
    }
    reply.recv_clock_ns = reply_recv_ns_;
    if (!reply_error_.empty()) {
      drop_endpoint(/*force=*/true);
      return {StatusCode::kTransportError, reply_error_};
    }
    auto decoded = core::decode_response_header(reply_header_);
    if (!decoded.ok()) {
      drop_endpoint(/*force=*/true);
      return {StatusCode::kTransportError, "malformed reply: " + decoded.status().to_string()};
    }
    if (decoded->request_id != header.request_id) {
      drop_endpoint(/*force=*/true);
      return {StatusCode::kTransportError,
              fmt::format("reply is for request {}, expected {}", decoded->request_id, header.request_id)};
    }
    if (decoded->payload_bytes != reply_bytes_) {
      drop_endpoint(/*force=*/true);
      return {StatusCode::kTransportError,
              fmt::format("reply declares {} payload bytes, {} arrived", decoded->payload_bytes, reply_bytes_)};
    }
    reply.header = std::move(decoded.value());
    reply.payload = reply_bytes_ ? std::span<const std::byte>(reply_buffer_->bytes().first(reply_bytes_))
                                 : std::span<const std::byte>();
    // The paper's request-time for RDMA: post → completion of the request's transfer (the rendezvous ends
    // when the server has pulled the payload).
    reply.request_post_ns = send_done_ns_ >= posted ? send_done_ns_ - posted : 0;
    return {};
  }

  std::string target() const override { return uri_; }

  bool usable() override {
    ucp_worker_progress(worker_->get());  // delivers an endpoint error that arrived while idle
    return ep_.get() != nullptr && !ep_failed_;
  }

  LinkReport link() const override {
    LinkReport r;
    r.kind = paper_name(landing_);
    r.library = "UCX " + Context::version();
    r.client_transports = client_transports_;
    r.server_transports = server_transports_;
    r.landing = core::to_string(landing_);
    return r;
  }

 private:
  Status connect_endpoint(Clock::time_point deadline) {
    sockaddr_storage storage{};
    socklen_t length = 0;
    if (Status s = resolve(address_, storage, length); !s.ok()) return s;
    ucp_ep_params_t params{};
    params.field_mask = UCP_EP_PARAM_FIELD_FLAGS | UCP_EP_PARAM_FIELD_SOCK_ADDR | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                        UCP_EP_PARAM_FIELD_ERR_HANDLER;
    params.flags = UCP_EP_PARAMS_FLAGS_CLIENT_SERVER;
    params.sockaddr.addr = reinterpret_cast<const sockaddr*>(&storage);
    params.sockaddr.addrlen = length;
    params.err_mode = error_handling_mode();
    params.err_handler.cb = &UcxConnection::on_endpoint_error;
    params.err_handler.arg = this;
    ep_failed_ = false;
    welcome_done_ = false;
    ucp_ep_h ep = nullptr;
    if (ucs_status_t s = ucp_ep_create(worker_->get(), &params, &ep); s != UCS_OK)
      return {StatusCode::kTransportError, fmt::format("cannot connect to {}: {}", uri_, to_string(s))};
    ep_ = UcpEndpoint(worker_->get(), ep);
    ucp_request_param_t param{};
    param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
    param.flags = UCP_AM_SEND_FLAG_REPLY;
    const ucs_status_t sent =
        wait_request(worker_->get(), ucp_am_send_nbx(ep_.get(), kHello, &hello_, sizeof hello_, nullptr, 0, &param));
    const bool answered = progress_until(
        *worker_, [this] { return welcome_done_ || ep_failed_; }, deadline, spin_time());
    if (sent != UCS_OK || ep_failed_ || !answered) {
      const std::string why = sent != UCS_OK ? to_string(sent)
                              : ep_failed_   ? to_string(ep_error_)
                                             : "no welcome from a UCX edgeserve server in time";
      drop_endpoint(/*force=*/true);
      return {StatusCode::kTransportError, fmt::format("cannot connect to {}: {}", uri_, why)};
    }
    if (!welcome_error_.empty()) {
      drop_endpoint(/*force=*/true);
      return {StatusCode::kTransportError, fmt::format("cannot connect to {}: {}", uri_, welcome_error_)};
    }
    client_transports_ = endpoint_transports(ep_.get());
    core::logger("transport")
        ->debug("connected to {}: landing {}, client lanes [{}], server lanes [{}]", uri_, core::to_string(landing_),
                fmt::join(client_transports_, ", "), fmt::join(server_transports_, ", "));
    return {};
  }

  void drop_endpoint(bool force) {
    if (ep_.get() == nullptr) return;
    ep_.close(force || ep_failed_);
    // Closing cancels what was outstanding; wait for the cancellations so no callback sees a dead request.
    release_send_request();
    if (recv_request_) {
      while (ucp_request_check_status(recv_request_) == UCS_INPROGRESS) ucp_worker_progress(worker_->get());
      ucp_request_free(recv_request_);
      recv_request_ = nullptr;
    }
  }

  // A rendezvous reply's receive request is ours to free once it completed (its callback does not free it); one
  // kept per reply would drain UCX's request pool.
  void release_recv_request() {
    if (!recv_request_ || ucp_request_check_status(recv_request_) == UCS_INPROGRESS) return;
    ucp_request_free(recv_request_);
    recv_request_ = nullptr;
  }

  void release_send_request() {
    if (!send_request_) return;
    if (ucp_request_check_status(send_request_) == UCS_INPROGRESS) {
      if (ep_.get() != nullptr && !ep_failed_) return;  // still running on a live endpoint: freed when it ends
      while (ucp_request_check_status(send_request_) == UCS_INPROGRESS) ucp_worker_progress(worker_->get());
    }
    ucp_request_free(send_request_);
    send_request_ = nullptr;
  }

  Status register_payload(std::span<const std::byte> payload) {
    if (transient_payloads_) {
      // A buffer at a reused address may be new memory: a kept registration could point at the old pages.
      payload_registration_.reset();
      return {};
    }
    if (payload.empty() || (payload.data() == registered_data_ && payload.size() == registered_bytes_)) return {};
    // The contract of call(): the payload stays valid and unchanged while the connection lives, so one
    // registration per distinct buffer is enough.
    auto r = Registration::map(worker_->context(), const_cast<std::byte*>(payload.data()), payload.size(), false);
    if (!r.ok()) return r.status();
    payload_registration_ = std::move(r.value());
    registered_data_ = payload.data();
    registered_bytes_ = payload.size();
    return {};
  }

  // Makes the reply buffer at least `bytes` long (grows only: registration once per size reached).
  bool reserve_reply(size_t bytes) {
    if (reply_buffer_ && reply_buffer_->bytes().size() >= bytes) return true;
    try {
      reply_registration_.reset();
      reply_buffer_ = core::allocate_host_memory(std::max<size_t>(bytes, 64 << 10));
    } catch (const std::bad_alloc&) {
      reply_error_ = fmt::format("cannot allocate {} bytes for a reply", bytes);
      return false;
    }
    auto r = Registration::map(worker_->context(), reply_buffer_->bytes().data(), reply_buffer_->bytes().size(), false);
    if (r.ok()) reply_registration_ = std::move(r.value());  // unregistered still works (UCX registers on demand)
    return true;
  }

  // A failed send (e.g. a payload the server refused before pulling it) still gets an error reply from the
  // server, so the reply, not the send status, decides the outcome.
  static void on_send_done(void* /*request*/, ucs_status_t /*status*/, void* user_data) {
    auto* self = static_cast<UcxConnection*>(user_data);
    self->send_done_ = true;
    self->send_done_ns_ = core::now_ns();
  }

  static void on_reply_data(void* /*request*/, ucs_status_t status, size_t length, void* user_data) {
    auto* self = static_cast<UcxConnection*>(user_data);
    if (status != UCS_OK) self->reply_error_ = "reply payload transfer failed: " + to_string(status);
    self->reply_bytes_ = length;
    self->reply_recv_ns_ = core::now_ns();
    self->reply_done_ = true;
  }

  static ucs_status_t on_reply(void* arg, const void* header, size_t header_length, void* data, size_t length,
                               const ucp_am_recv_param_t* param) {
    auto* self = static_cast<UcxConnection*>(arg);
    if (header_length != core::kResponseHeaderBytes) {
      self->reply_error_ =
          fmt::format("reply header has {} bytes, expected {}", header_length, core::kResponseHeaderBytes);
      self->reply_done_ = true;
      self->reply_recv_ns_ = core::now_ns();
      return UCS_OK;
    }
    std::memcpy(self->reply_header_.data(), header, header_length);
    if (!self->reserve_reply(length)) {
      self->reply_done_ = true;
      self->reply_recv_ns_ = core::now_ns();
      return UCS_OK;
    }
    if (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV) {
      ucp_request_param_t p{};
      p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_MEMORY_TYPE;
      p.cb.recv_am = &UcxConnection::on_reply_data;
      p.user_data = self;
      p.memory_type = UCS_MEMORY_TYPE_HOST;
      if (self->reply_registration_) {
        p.op_attr_mask |= UCP_OP_ATTR_FIELD_MEMH;
        p.memh = self->reply_registration_->get();
      }
      ucs_status_ptr_t r =
          ucp_am_recv_data_nbx(self->worker_->get(), data, self->reply_buffer_->bytes().data(), length, &p);
      if (UCS_PTR_IS_ERR(r)) {
        on_reply_data(nullptr, UCS_PTR_STATUS(r), 0, self);
      } else if (r == nullptr) {
        on_reply_data(nullptr, UCS_OK, length, self);
      } else {
        self->recv_request_ = r;
      }
      return UCS_OK;
    }
    if (length) std::memcpy(self->reply_buffer_->bytes().data(), data, length);
    on_reply_data(nullptr, UCS_OK, length, self);
    return UCS_OK;
  }

  static ucs_status_t on_welcome(void* arg, const void* header, size_t header_length, void* /*data*/, size_t /*length*/,
                                 const ucp_am_recv_param_t* /*param*/) {
    auto* self = static_cast<UcxConnection*>(arg);
    Welcome w;
    if (header_length != sizeof w) {
      self->welcome_error_ =
          fmt::format("welcome has {} bytes, expected {} (not an edgeserve server?)", header_length, sizeof w);
    } else {
      std::memcpy(&w, header, sizeof w);
      w.server_transports[sizeof w.server_transports - 1] = '\0';
      if (w.magic != kWelcomeMagic || w.version != kProtocolVersion) {
        self->welcome_error_ = fmt::format("server speaks protocol {} (magic {:#x}); this client speaks {}", w.version,
                                           w.magic, kProtocolVersion);
      } else {
        self->welcome_error_.clear();
        self->landing_ = w.landing;
        self->server_transports_.clear();
        std::string list = w.server_transports;
        for (size_t start = 0; start < list.size();) {
          const size_t end = std::min(list.find(' ', start), list.size());
          if (end > start) self->server_transports_.push_back(list.substr(start, end - start));
          start = end + 1;
        }
      }
    }
    self->welcome_done_ = true;
    return UCS_OK;
  }

  static void on_endpoint_error(void* arg, ucp_ep_h /*ep*/, ucs_status_t status) {
    auto* self = static_cast<UcxConnection*>(arg);
    self->ep_failed_ = true;
    self->ep_error_ = status;
  }

  std::string uri_;
  SocketAddress address_;
  std::unique_ptr<Worker> worker_;
  bool transient_payloads_ = false;
  UcpEndpoint ep_;  // after worker_: closed before the worker goes
  bool ep_failed_ = false;
  ucs_status_t ep_error_ = UCS_OK;

  Hello hello_;
  bool welcome_done_ = false;
  std::string welcome_error_;
  core::MemoryKind landing_ = core::MemoryKind::kHost;
  std::vector<std::string> client_transports_, server_transports_;

  core::RequestHeaderBytes header_bytes_{};
  const std::byte* registered_data_ = nullptr;
  size_t registered_bytes_ = 0;
  std::unique_ptr<Registration> payload_registration_;
  ucs_status_ptr_t send_request_ = nullptr;
  bool send_done_ = false;
  uint64_t send_done_ns_ = 0;

  core::ResponseHeaderBytes reply_header_{};
  std::unique_ptr<core::MemoryBuffer> reply_buffer_;
  std::unique_ptr<Registration> reply_registration_;  // after the buffer: unregistered before it is freed
  ucs_status_ptr_t recv_request_ = nullptr;
  bool reply_done_ = false;
  size_t reply_bytes_ = 0;
  uint64_t reply_recv_ns_ = 0;
  std::string reply_error_;
};

}  // namespace

core::Result<std::unique_ptr<ClientConnection>> connect_ucx(const std::string& uri, std::chrono::milliseconds timeout,
                                                            bool transient_payloads) {
  auto address = parse_ucx_uri(uri);
  if (!address.ok()) return address.status();
  auto context = Context::shared();
  if (!context.ok()) return context.status();
  auto worker = Worker::create(context.value());
  if (!worker.ok()) return worker.status();
  auto connection =
      std::make_unique<UcxConnection>(uri, address.value(), std::move(worker.value()), transient_payloads);
  if (Status s = connection->open(timeout); !s.ok()) return s;
  return std::unique_ptr<ClientConnection>(std::move(connection));
}

}  // namespace edgeserve::transport::ucx
