// UCX transport, server side: listener, I/O workers, per-client slots and the delivery type that replies
// through them. Each I/O worker is one UCX worker driven by one thread; the listener lives on worker 0, which
// hands each new connection to the worker with the fewest clients, so payload transfers of many clients are
// progressed in parallel. Every UCX call happens on the thread of the worker it concerns; UCX callbacks only
// record what happened, and the loop acts on it (deliveries, error replies, welcomes, closing endpoints of
// clients that are gone).
#include "transport/ucx/ucx_listener.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/log.h"
#include "core/log_limiter.h"
#include "transport/sender.h"
#include "transport/ucx/ucx_common.h"

namespace edgeserve::transport::ucx {

namespace {

using core::Status;
using core::StatusCode;
using Clock = std::chrono::steady_clock;

// "127.0.0.1:51234" of the client asking to connect, for log lines; "?" when UCX cannot say.
std::string client_address(ucp_conn_request_h request) {
  ucp_conn_request_attr_t attr{};
  attr.field_mask = UCP_CONN_REQUEST_ATTR_FIELD_CLIENT_ADDR;
  return ucp_conn_request_query(request, &attr) == UCS_OK ? address_text(attr.client_address) : "?";
}

// Landing (of the kind asked) or reply memory from the server's allocator; plain host memory without one.
core::Result<std::unique_ptr<core::MemoryBuffer>> allocate(const UcxListenerOptions& options, size_t bytes,
                                                           core::MemoryKind kind) {
  if (options.allocate) return options.allocate(bytes, kind);
  if (kind == core::MemoryKind::kCuda) return Status(StatusCode::kInternal, "no allocator for GPU landing memory");
  return core::allocate_host_memory(bytes);
}

// A reply buffer replaced by a larger one: released by the I/O thread (registrations are undone there).
struct RetiredBuffer {
  std::unique_ptr<core::MemoryBuffer> buffer;
  std::unique_ptr<Registration> registration;  // after the buffer: unregistered before it is freed
};

}  // namespace

// One connected client. The I/O thread owns every field except `reply*`, which the worker that runs the
// client's request writes between the delivery and send_reply (the outbox's lock orders the hand-over).
struct IoWorker;

struct Slot : std::enable_shared_from_this<Slot> {
  IoWorker* owner = nullptr;
  uint64_t id = 0;
  uint64_t sender = new_connection_sender();  // one endpoint, one share of the server (transport/sender.h)
  std::string peer;                           // "ucx client 3 (127.0.0.1:51234)"
  std::string source;                         // "127.0.0.1": counted in Impl::sources while connected
  Clock::time_point last_request;             // connection or last request: for the idle deadline
  Clock::time_point request_started;          // for the payload's deadline while recv_request is pending
  ucp_ep_h ep = nullptr;
  bool dead = false;
  bool executing = false;  // a request arrived and its reply has not been handed to the loop yet
  bool landed = false;     // its payload is in `landing`, waiting to become a delivery
  ucs_status_ptr_t recv_request = nullptr, reply_request = nullptr;
  uint64_t recv_ns = 0;
  core::RequestHeaderBytes header{};
  size_t payload_bytes = 0;
  std::unique_ptr<core::MemoryBuffer> landing;
  std::unique_ptr<Registration> landing_registration;
  Welcome welcome;

  std::unique_ptr<core::MemoryBuffer> reply;
  std::unique_ptr<Registration> reply_registration;
  std::vector<RetiredBuffer> retired;
  core::ResponseHeaderBytes reply_header{};
  size_t reply_bytes = 0;
};

namespace {

// Replies waiting for the I/O thread, the count of deliveries not yet answered, and the loop's wake-up.
struct Outbox {
  std::mutex mutex;
  std::vector<std::shared_ptr<Slot>> queue;
  int wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  std::atomic<bool> sleeping{false};
  std::atomic<int64_t> unanswered{0};

  ~Outbox() { ::close(wake_fd); }
  void wake() const {  // async-signal-safe
    const uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd, &one, sizeof one);
  }
  void push(std::shared_ptr<Slot> slot) {
    {
      std::lock_guard lock(mutex);
      queue.push_back(std::move(slot));
    }
    if (sleeping.load()) wake();  // the loop re-checks the queue after announcing it sleeps
  }
  bool empty() {
    std::lock_guard lock(mutex);
    return queue.empty();
  }
};

class UcxDelivery final : public Delivery {
 public:
  UcxDelivery(std::shared_ptr<Slot> slot, std::shared_ptr<Outbox> outbox, const UcxListenerOptions& options)
      : Delivery(slot->recv_ns, slot->sender), slot_(std::move(slot)), outbox_(std::move(outbox)), options_(options) {
    outbox_->unanswered.fetch_add(1);
  }

  // Guarantees every request exactly one reply, even if a bug drops a delivery unanswered.
  ~UcxDelivery() override {
    if (!replied_) {
      core::logger("transport")
          ->error("request from {} dropped without a reply; answering with an internal error", peer());
      core::ResponseHeaderBytes bytes;
      core::encode(core::error_response(core::peek_request_id(header()),
                                        Status(StatusCode::kInternal, "request dropped by the server")),
                   bytes);
      reply_payload(0);
      send_reply(bytes);
    }
  }

  std::span<const std::byte> header() const override { return slot_->header; }
  std::span<const std::byte> payload() const override {
    return slot_->payload_bytes ? std::span<const std::byte>(slot_->landing->bytes().first(slot_->payload_bytes))
                                : std::span<const std::byte>();
  }
  bool payload_on_device() const override { return slot_->landing && slot_->landing->on_device(); }

  std::span<std::byte> reply_payload(size_t bytes) override {
    Slot& s = *slot_;
    if (!s.reply || s.reply->bytes().size() < bytes) {
      // Grows once per larger reply size; the old buffer's registration is undone on the I/O thread.
      s.retired.push_back({std::move(s.reply), std::move(s.reply_registration)});
      auto made = allocate(options_, bytes, core::MemoryKind::kHost);
      s.reply = made.ok() ? std::move(made.value()) : core::allocate_host_memory(bytes);
    }
    s.reply_bytes = bytes;
    return s.reply->bytes().first(bytes);
  }

  void send_reply(const core::ResponseHeaderBytes& header) override {
    if (replied_) return;
    replied_ = true;
    slot_->reply_header = header;
    outbox_->push(slot_);
    outbox_->unanswered.fetch_sub(1);
  }

  const char* peer() const override { return "ucx client"; }

 private:
  std::shared_ptr<Slot> slot_;
  std::shared_ptr<Outbox> outbox_;
  const UcxListenerOptions& options_;
  bool replied_ = false;
};

// An error reply sent by the loop itself (bad request, busy connection): its own header storage, because
// the slot's may belong to a request still running.
struct ErrorReply {
  std::shared_ptr<Slot> slot;
  core::ResponseHeaderBytes header{};
  bool done = false;
};

}  // namespace

// One UCX worker, the clients it serves and the thread state of its loop.
struct IoWorker {
  UcxListener::Impl* impl = nullptr;
  size_t index = 0;
  std::unique_ptr<Worker> worker;
  std::shared_ptr<Outbox> outbox = std::make_shared<Outbox>();
  std::unordered_map<ucp_ep_h, std::shared_ptr<Slot>> slots;
  std::atomic<size_t> client_count{0};
  // Connection requests handed over by worker 0's listener (guarded by `incoming_mutex`).
  std::mutex incoming_mutex;
  std::vector<ucp_conn_request_h> incoming;
  // Recorded by callbacks, acted on by the loop.
  std::vector<std::shared_ptr<Slot>> landed, failed, hellos;
  std::vector<std::unique_ptr<ErrorReply>> errors_to_send, errors_in_flight;
  std::shared_ptr<spdlog::logger> log = core::logger("transport");
  core::LogLimiterByStatus request_log;  // clients choose how many bad requests they send; the log stays bounded

  const UcxListenerOptions& options() const;
  bool stopping() const;

  // Every reply has left by now (the loop drained): clients only learn that the server is gone.
  ~IoWorker() {
    for (auto& [ep, slot] : slots) close_endpoint(worker->get(), ep, /*force=*/true);
    slots.clear();
  }

  std::shared_ptr<Slot> find(const ucp_am_recv_param_t* param) {
    if (!(param->recv_attr & UCP_AM_RECV_ATTR_FIELD_REPLY_EP)) return nullptr;
    auto it = slots.find(param->reply_ep);
    return it == slots.end() || it->second->dead ? nullptr : it->second;
  }

  void queue_error(const std::shared_ptr<Slot>& slot, uint64_t request_id, const Status& status) {
    if (std::string note; request_log.allow(status.code(), note))
      log->warn("request {} from {}: {}{}", request_id, slot->peer, status.to_string(), note);
    auto e = std::make_unique<ErrorReply>();
    e->slot = slot;
    core::encode(core::error_response(request_id, status), e->header);
    errors_to_send.push_back(std::move(e));
  }

  // Grows the slot's landing buffer to hold `bytes` (allocation and registration once per size reached).
  Status reserve_landing(Slot& slot, size_t bytes) {
    if (slot.landing && slot.landing->bytes().size() >= bytes) return {};
    const size_t capacity = std::min<uint64_t>(std::max<size_t>(bytes, 1 << 20), options().max_payload_bytes);
    slot.landing_registration.reset();
    slot.landing.reset();
    auto buffer = allocate(options(), std::max(capacity, bytes), options().landing);
    if (!buffer.ok()) return buffer.status();
    auto registration = Registration::map(worker->context(), buffer.value()->bytes().data(),
                                          buffer.value()->bytes().size(), buffer.value()->on_device());
    if (!registration.ok()) return registration.status();
    slot.landing = std::move(buffer.value());
    slot.landing_registration = std::move(registration.value());
    return {};
  }

  // --- UCX callbacks (inside ucp_worker_progress on the loop's thread) --------------------------------------

  // Accepts a connection request handed over by the listener, on this worker.
  void accept(ucp_conn_request_h request) {
    const std::string from = client_address(request);
    auto slot = std::make_shared<Slot>();
    slot->owner = this;
    slot->id = next_slot_id();
    slot->peer = fmt::format("ucx client {} ({})", slot->id, from);
    slot->source = source_of(from);
    slot->last_request = Clock::now();
    ucp_ep_params_t params{};
    params.field_mask =
        UCP_EP_PARAM_FIELD_CONN_REQUEST | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE | UCP_EP_PARAM_FIELD_ERR_HANDLER;
    params.conn_request = request;
    params.err_mode = error_handling_mode();
    params.err_handler.cb = &IoWorker::on_endpoint_error;
    params.err_handler.arg = slot.get();
    if (ucs_status_t st = ucp_ep_create(worker->get(), &params, &slot->ep); st != UCS_OK) {
      log->warn("cannot accept the UCX connection from {}: {}", from, to_string(st));
      client_count.fetch_sub(1);
      release_source(slot->source);
      return;
    }
    log->debug("{} connected to I/O worker {}", slot->peer, index);
    slots.emplace(slot->ep, std::move(slot));
  }

  uint64_t next_slot_id();

  bool accept_incoming() {
    std::vector<ucp_conn_request_h> batch;
    {
      std::lock_guard lock(incoming_mutex);
      if (incoming.empty()) return false;
      batch.swap(incoming);
    }
    for (auto request : batch) accept(request);
    return true;
  }

  static void on_endpoint_error(void* arg, ucp_ep_h /*ep*/, ucs_status_t status) {
    auto* slot = static_cast<Slot*>(arg);
    if (slot->dead) return;
    slot->dead = true;
    slot->owner->log->info("{} disconnected ({})", slot->peer, to_string(status));
    slot->owner->failed.push_back(slot->shared_from_this());
  }

  static ucs_status_t on_hello(void* arg, const void* header, size_t header_length, void* /*data*/, size_t /*length*/,
                               const ucp_am_recv_param_t* param) {
    IoWorker& s = *static_cast<IoWorker*>(arg);
    auto slot = s.find(param);
    if (!slot) return UCS_OK;
    Hello hello;
    if (header_length != sizeof hello) {
      s.log->warn("{}: hello of {} bytes, expected {}; ignored", slot->peer, header_length, sizeof hello);
      return UCS_OK;
    }
    std::memcpy(&hello, header, sizeof hello);
    if (hello.magic != kHelloMagic || hello.version != kProtocolVersion)
      s.log->warn("{} speaks protocol {} (magic {:#x}), this server {}", slot->peer, hello.version, hello.magic,
                  kProtocolVersion);
    s.hellos.push_back(std::move(slot));
    return UCS_OK;
  }

  static ucs_status_t on_request(void* arg, const void* header, size_t header_length, void* data, size_t length,
                                 const ucp_am_recv_param_t* param) {
    IoWorker& s = *static_cast<IoWorker*>(arg);
    const bool rendezvous = (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV) != 0;
    // A refused rendezvous payload is never pulled; the sender's send ends with this status.
    const ucs_status_t refused = rendezvous ? UCS_ERR_REJECTED : UCS_OK;
    const std::span<const std::byte> bytes(static_cast<const std::byte*>(header), header_length);
    const uint64_t id = core::peek_request_id(bytes);
    auto slot = s.find(param);
    if (!slot) {
      s.log->warn("request {} from an unknown UCX endpoint (not connected through this listener): dropped", id);
      return refused;
    }
    auto refuse = [&](StatusCode code, std::string why) {
      s.queue_error(slot, id, Status(code, std::move(why)));
      return refused;
    };
    if (s.stopping()) return refuse(StatusCode::kShuttingDown, "server is shutting down");
    if (header_length != core::kRequestHeaderBytes)
      return refuse(StatusCode::kMalformedHeader,
                    fmt::format("request header has {} bytes, expected {}", header_length, core::kRequestHeaderBytes));
    if (slot->executing || slot->landed || slot->recv_request)
      return refuse(StatusCode::kOverloaded,
                    "one request at a time per UCX connection: the previous one is still being served");
    if (length > s.options().max_payload_bytes)
      return refuse(StatusCode::kPayloadTooLarge,
                    fmt::format("payload of {} bytes is larger than this server's registered landing buffers allow "
                                "({} bytes, --max-payload-mb)",
                                length, s.options().max_payload_bytes));
    if (!rendezvous && length > 0 && s.options().landing == core::MemoryKind::kCuda)
      return refuse(StatusCode::kTransportError,
                    "payload sent eagerly; GPU landing takes rendezvous payloads only (UCP_AM_SEND_FLAG_RNDV)");
    if (Status st = s.reserve_landing(*slot, length); !st.ok()) return refuse(st.code(), st.message());
    std::memcpy(slot->header.data(), header, header_length);
    slot->payload_bytes = length;
    slot->last_request = slot->request_started = Clock::now();
    slot->executing = true;
    if (!rendezvous) {
      if (length) std::memcpy(slot->landing->bytes().data(), data, length);
      s.landed_now(slot);
      return UCS_OK;
    }
    ucp_request_param_t p{};
    p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_MEMORY_TYPE |
                     UCP_OP_ATTR_FIELD_MEMH;
    p.cb.recv_am = &IoWorker::on_payload;
    p.user_data = slot.get();
    p.memory_type = slot->landing->on_device() ? UCS_MEMORY_TYPE_CUDA : UCS_MEMORY_TYPE_HOST;
    p.memh = slot->landing_registration->get();
    ucs_status_ptr_t r = ucp_am_recv_data_nbx(s.worker->get(), data, slot->landing->bytes().data(), length, &p);
    if (UCS_PTR_IS_ERR(r)) {
      slot->executing = false;
      s.queue_error(slot, id,
                    Status(StatusCode::kTransportError, "cannot receive the payload: " + to_string(UCS_PTR_STATUS(r))));
    } else if (r == nullptr) {
      s.landed_now(slot);
    } else {
      slot->recv_request = r;
    }
    return UCS_OK;
  }

  static void on_payload(void* request, ucs_status_t status, size_t /*length*/, void* user_data) {
    auto* slot = static_cast<Slot*>(user_data);
    ucp_request_free(request);
    slot->recv_request = nullptr;
    if (status == UCS_OK) return slot->owner->landed_now(slot->shared_from_this());
    slot->executing = false;
    if (!slot->dead)
      slot->owner->queue_error(slot->shared_from_this(), core::peek_request_id(slot->header),
                               Status(StatusCode::kTruncatedMessage, "payload transfer failed: " + to_string(status)));
  }

  void landed_now(std::shared_ptr<Slot> slot) {
    slot->recv_ns = core::now_ns();
    slot->landed = true;
    landed.push_back(std::move(slot));
  }

  static void on_reply_sent(void* request, ucs_status_t status, void* user_data) {
    auto* slot = static_cast<Slot*>(user_data);
    ucp_request_free(request);
    slot->reply_request = nullptr;
    if (status != UCS_OK && !slot->dead)
      slot->owner->log->warn("reply to {} failed: {}", slot->peer, to_string(status));
  }

  static void on_error_sent(void* request, ucs_status_t /*status*/, void* user_data) {
    ucp_request_free(request);
    static_cast<ErrorReply*>(user_data)->done = true;
  }

  // --- the loop's work ---------------------------------------------------------------------------------------

  bool send_welcomes() {
    if (hellos.empty()) return false;
    auto batch = std::move(hellos);
    hellos.clear();
    for (auto& slot : batch) {
      if (slot->dead) continue;
      const auto lanes = endpoint_transports(slot->ep);
      log->debug("{}: UCX endpoint\n{}", slot->peer, endpoint_info(slot->ep));
      slot->welcome.landing = options().landing;
      slot->welcome.max_payload_bytes = options().max_payload_bytes;
      const std::string joined = fmt::format("{}", fmt::join(lanes, " "));
      std::strncpy(slot->welcome.server_transports, joined.c_str(), sizeof slot->welcome.server_transports - 1);
      log->info("{} connected to I/O worker {}; UCX lanes [{}], landing {} ({})", slot->peer, index,
                fmt::join(lanes, ", "), core::to_string(options().landing), paper_name(slot->welcome.landing));
      ucp_request_param_t p{};
      p.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
      p.flags = UCP_AM_SEND_FLAG_EAGER;
      // The welcome lives in the slot, which outlives the send; the request is freed as soon as it ends.
      ucs_status_ptr_t r = ucp_am_send_nbx(slot->ep, kWelcome, &slot->welcome, sizeof slot->welcome, nullptr, 0, &p);
      if (UCS_PTR_IS_ERR(r))
        log->warn("cannot welcome {}: {}", slot->peer, to_string(UCS_PTR_STATUS(r)));
      else if (r != nullptr)
        ucp_request_free(r);  // completes on its own; nothing to do when it does
    }
    return true;
  }

  bool send_errors() {
    std::erase_if(errors_in_flight, [](const auto& e) { return e->done; });
    if (errors_to_send.empty()) return false;
    auto batch = std::move(errors_to_send);
    errors_to_send.clear();
    for (auto& e : batch) {
      if (e->slot->dead) continue;
      ucp_request_param_t p{};
      p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
      p.cb.send = &IoWorker::on_error_sent;
      p.user_data = e.get();
      ucs_status_ptr_t r = ucp_am_send_nbx(e->slot->ep, kReply, e->header.data(), e->header.size(), nullptr, 0, &p);
      if (UCS_PTR_IS_ERR(r)) {
        log->warn("error reply to {} failed: {}", e->slot->peer, to_string(UCS_PTR_STATUS(r)));
      } else if (r != nullptr) {
        errors_in_flight.push_back(std::move(e));
      }
    }
    return true;
  }

  bool deliver_landed(const std::function<void(std::unique_ptr<Delivery>)>& on_delivery) {
    if (landed.empty()) return false;
    bool any = false;
    std::vector<std::shared_ptr<Slot>> later;
    auto batch = std::move(landed);
    landed.clear();
    for (auto& slot : batch) {
      if (slot->dead) {
        slot->landed = slot->executing = false;
        continue;
      }
      // The previous reply may still be leaving from the reply buffer the next request will write into.
      if (slot->reply_request) {
        later.push_back(std::move(slot));
        continue;
      }
      slot->landed = false;
      any = true;
      on_delivery(std::make_unique<UcxDelivery>(slot, outbox, options()));
    }
    for (auto& slot : later) landed.push_back(std::move(slot));
    return any;
  }

  bool flush_outbox() {
    std::vector<std::shared_ptr<Slot>> batch;
    {
      std::lock_guard lock(outbox->mutex);
      if (outbox->queue.empty()) return false;
      batch.swap(outbox->queue);
    }
    for (auto& slot : batch) send_reply(*slot);
    return true;
  }

  void send_reply(Slot& slot) {
    slot.executing = false;
    slot.retired.clear();
    if (slot.dead) {
      log->warn("reply to {} dropped: the client disconnected before its reply was ready", slot.peer);
      return;
    }
    ucp_request_param_t p{};
    p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
    p.cb.send = &IoWorker::on_reply_sent;
    p.user_data = &slot;
    const size_t bytes = slot.reply ? slot.reply_bytes : 0;
    if (bytes && !slot.reply_registration) {
      auto r = Registration::map(worker->context(), slot.reply->bytes().data(), slot.reply->bytes().size(), false);
      if (r.ok()) slot.reply_registration = std::move(r.value());  // else UCX registers on the fly
    }
    if (bytes && slot.reply_registration) {
      p.op_attr_mask |= UCP_OP_ATTR_FIELD_MEMH;
      p.memh = slot.reply_registration->get();
    }
    ucs_status_ptr_t r = ucp_am_send_nbx(slot.ep, kReply, slot.reply_header.data(), slot.reply_header.size(),
                                         bytes ? slot.reply->bytes().data() : nullptr, bytes, &p);
    if (UCS_PTR_IS_ERR(r))
      log->warn("reply to {} failed: {}", slot.peer, to_string(UCS_PTR_STATUS(r)));
    else if (r != nullptr)
      slot.reply_request = r;
  }

  bool close_failed() {
    if (failed.empty()) return false;
    auto batch = std::move(failed);
    failed.clear();
    for (auto& slot : batch) {
      if (slots.erase(slot->ep)) {
        client_count.fetch_sub(1);
        release_source(slot->source);
      }
      // Cancels what was outstanding (callbacks see the slot dead); a request still running keeps the slot
      // (and its buffers) alive until its reply is dropped, then everything is freed.
      close_endpoint(worker->get(), slot->ep, /*force=*/true);
    }
    return true;
  }

  bool work(const std::function<void(std::unique_ptr<Delivery>)>& on_delivery) {
    bool worked = ucp_worker_progress(worker->get()) != 0;
    worked |= accept_incoming();
    worked |= deliver_landed(on_delivery);
    worked |= flush_outbox();
    worked |= send_welcomes();
    worked |= send_errors();
    expire_stale();
    worked |= close_failed();
    return worked;
  }

  // Closes connections past their deadlines (checked at most every 250 ms): idle ones, and ones whose payload
  // has not arrived within the request timeout. They go the way of a failed endpoint (close_failed).
  Clock::time_point next_expiry_check{};
  core::LogLimiter idle_log, slow_log;
  void expire_stale() {
    const auto now = Clock::now();
    if (now < next_expiry_check) return;
    next_expiry_check = now + std::chrono::milliseconds(250);
    const ConnectionLimits& limits = options().limits;
    for (auto& [ep, slot] : slots) {
      if (slot->dead) continue;
      std::string note;
      if (slot->recv_request && limits.request_timeout.count() > 0 &&
          now - slot->request_started > limits.request_timeout) {
        if (slow_log.allow(note))
          log->warn("closed {}: its payload of {} bytes has not arrived after {} s (--request-timeout-s){}", slot->peer,
                    slot->payload_bytes, limits.request_timeout.count(), note);
      } else if (!slot->executing && !slot->landed && !slot->recv_request && !slot->reply_request &&
                 limits.idle_timeout.count() > 0 && now - slot->last_request > limits.idle_timeout) {
        if (idle_log.allow(note))
          log->warn("closed {}: idle for over {} s (--idle-timeout-s){}", slot->peer, limits.idle_timeout.count(),
                    note);
      } else {
        continue;
      }
      slot->dead = true;
      failed.push_back(slot);
    }
  }

  void release_source(const std::string& source);

  // Whether a request taken is still unanswered, or an answer is still leaving.
  bool replies_in_flight() const {
    if (!errors_in_flight.empty() || !errors_to_send.empty() || !landed.empty()) return true;
    for (const auto& [ep, slot] : slots)
      if (slot->reply_request || slot->executing || slot->recv_request) return true;
    return false;
  }
  void loop(const std::function<void(std::unique_ptr<Delivery>)>& on_delivery) {
    const auto spin = spin_time();
    pollfd fds[2] = {{worker->event_fd(), POLLIN, 0}, {outbox->wake_fd, POLLIN, 0}};
    auto last_work = Clock::now();
    while (!stopping()) {
      if (work(on_delivery)) {
        last_work = Clock::now();
        continue;
      }
      if (Clock::now() - last_work < spin) continue;
      // Sleep until UCX or a worker has something: announce it, then re-check what may have been queued.
      outbox->sleeping.store(true);
      bool queued = !outbox->empty() || !landed.empty();
      if (!queued) {
        std::lock_guard lock(incoming_mutex);
        queued = !incoming.empty();
      }
      if (queued || ucp_worker_arm(worker->get()) != UCS_OK) {
        outbox->sleeping.store(false);
        continue;
      }
      ::poll(fds, 2, 100);
      outbox->sleeping.store(false);
      uint64_t count;
      [[maybe_unused]] auto n = ::read(outbox->wake_fd, &count, sizeof count);
    }
    // Graceful stop: take nothing new (on_request refuses), send the replies of requests already taken.
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while ((outbox->unanswered.load() > 0 || !outbox->empty() || replies_in_flight()) && Clock::now() < deadline) {
      if (!work(on_delivery)) std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    if (const auto left = outbox->unanswered.load(); left > 0)
      log->error("I/O worker {} stopped with {} request(s) still unanswered after 30 s", index, left);
  }
};

struct UcxListener::Impl {
  UcxListenerOptions options;
  std::string endpoint;
  std::shared_ptr<Context> context;
  std::vector<std::unique_ptr<IoWorker>> io;  // io[0] also runs the listener
  ucp_listener_h listener = nullptr;
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> slot_ids{0};
  SourceCounts sources;  // connections per client address (ConnectionLimits::max_connections_per_source)
  std::shared_ptr<spdlog::logger> log = core::logger("transport");
  core::LogLimiter refused_log{20};  // peers decide how often they connect

  ~Impl() {
    for (auto& w : io) {  // connection requests never accepted (the loops have stopped)
      std::lock_guard lock(w->incoming_mutex);
      for (auto request : w->incoming) ucp_listener_reject(listener, request);
      w->incoming.clear();
    }
    if (listener) ucp_listener_destroy(listener);
    io.clear();  // closes every endpoint, then destroys the workers
  }

  size_t clients() const {
    size_t n = 0;
    for (const auto& w : io) n += w->client_count.load();
    return n;
  }

  // On worker 0's thread: hands the connection to the worker with the fewest clients.
  static void on_connection(ucp_conn_request_h request, void* arg) {
    Impl& s = *static_cast<Impl*>(arg);
    const std::string from = client_address(request);
    const ConnectionLimits& limits = s.options.limits;
    std::string why;
    if (s.stopping.load())
      why = "shutting down";
    else if (s.clients() >= limits.max_clients)
      why = fmt::format("at the limit of {} clients", limits.max_clients);
    else if (!s.sources.try_add(source_of(from), limits.max_connections_per_source))
      why = fmt::format("{} connections from {} are open already (--max-connections-per-source)",
                        limits.max_connections_per_source, source_of(from));
    if (!why.empty()) {
      if (std::string note; s.refused_log.allow(note))
        s.log->warn("refused a UCX connection from {}: {}{}", from, why, note);
      ucp_listener_reject(s.listener, request);
      return;
    }
    IoWorker* target = s.io[0].get();
    for (const auto& w : s.io)
      if (w->client_count.load() < target->client_count.load()) target = w.get();
    target->client_count.fetch_add(1);
    if (target == s.io[0].get()) return target->accept(request);
    {
      std::lock_guard lock(target->incoming_mutex);
      target->incoming.push_back(request);
    }
    target->outbox->wake();
  }
};

const UcxListenerOptions& IoWorker::options() const { return impl->options; }
bool IoWorker::stopping() const { return impl->stopping.load(); }
uint64_t IoWorker::next_slot_id() { return impl->slot_ids.fetch_add(1) + 1; }
void IoWorker::release_source(const std::string& source) { impl->sources.remove(source); }

core::Result<std::unique_ptr<UcxListener>> UcxListener::bind(const std::string& uri, UcxListenerOptions options) {
  auto address = parse_ucx_uri(uri);
  if (!address.ok()) return address.status();
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  auto context = Context::shared();
  if (!context.ok()) return context.status();
  impl->context = context.value();
  if (impl->options.landing == core::MemoryKind::kCuda && !impl->context->supports_cuda_memory())
    return Status(StatusCode::kTransportError,
                  fmt::format("landing memory 'cuda' (GPUDirect) needs a UCX that can register GPU memory; UCX {} here "
                              "has no CUDA support (use --landing host, or a CUDA-aware UCX such as PyPI's "
                              "libucx-cu13)",
                              Context::version()));
  const size_t io_threads = std::max<size_t>(1, impl->options.io_threads);
  for (size_t i = 0; i < io_threads; ++i) {
    auto io = std::make_unique<IoWorker>();
    io->impl = impl.get();
    io->index = i;
    auto worker = Worker::create(impl->context);
    if (!worker.ok()) return worker.status();
    io->worker = std::move(worker.value());
    if (io->worker->max_am_header() < core::kResponseHeaderBytes)
      return Status(StatusCode::kTransportError,
                    fmt::format("this UCX carries active-message headers of at most {} bytes; edgeserve needs {}",
                                io->worker->max_am_header(), core::kResponseHeaderBytes));
    for (auto [id, cb] : {std::pair{kHello, &IoWorker::on_hello}, std::pair{kRequest, &IoWorker::on_request}})
      if (Status s = io->worker->set_am_handler(id, cb, io.get()); !s.ok()) return s;
    impl->io.push_back(std::move(io));
  }
  sockaddr_storage storage{};
  socklen_t length = 0;
  if (Status s = resolve(address.value(), storage, length); !s.ok()) return s;
  ucp_listener_params_t params{};
  params.field_mask = UCP_LISTENER_PARAM_FIELD_SOCK_ADDR | UCP_LISTENER_PARAM_FIELD_CONN_HANDLER;
  params.sockaddr.addr = reinterpret_cast<const sockaddr*>(&storage);
  params.sockaddr.addrlen = length;
  params.conn_handler.cb = &Impl::on_connection;
  params.conn_handler.arg = impl.get();
  if (ucs_status_t s = ucp_listener_create(impl->io[0]->worker->get(), &params, &impl->listener); s != UCS_OK) {
    impl->listener = nullptr;
    return Status(StatusCode::kTransportError, fmt::format("cannot listen on {}: {}", uri, to_string(s)));
  }
  ucp_listener_attr_t attr{};
  attr.field_mask = UCP_LISTENER_ATTR_FIELD_SOCKADDR;
  uint16_t port = address->port;
  if (ucp_listener_query(impl->listener, &attr) == UCS_OK && attr.sockaddr.ss_family == AF_INET)
    port = ntohs(reinterpret_cast<const sockaddr_in&>(attr.sockaddr).sin_port);
  impl->endpoint = fmt::format("ucx://{}:{}", address->host, port);
  unsigned major = 0, minor = 0, release = 0;
  ucp_get_version(&major, &minor, &release);
  if (major == 1 && minor < 14)
    impl->log->warn(
        "UCX {}.{}.{} aborts the whole process when {} receives some malformed bytes (its connection manager "
        "asserts on them): keep this port off untrusted networks, or build against UCX 1.22 (scripts/setup.sh)",
        major, minor, release, impl->endpoint);
  return std::unique_ptr<UcxListener>(new UcxListener(std::move(impl)));
}

UcxListener::UcxListener(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
UcxListener::~UcxListener() = default;

const std::string& UcxListener::endpoint() const { return impl_->endpoint; }

void UcxListener::stop() {
  impl_->stopping.store(true);
  for (const auto& io : impl_->io) io->outbox->wake();
}

void UcxListener::run(const std::function<void(std::unique_ptr<Delivery>)>& on_delivery) {
  std::vector<std::jthread> others;
  for (size_t i = 1; i < impl_->io.size(); ++i)
    others.emplace_back([this, i, &on_delivery] { impl_->io[i]->loop(on_delivery); });
  impl_->io[0]->loop(on_delivery);
}

}  // namespace edgeserve::transport::ucx
