// UCX transport, server side: an I/O worker's UCX callbacks (they run inside ucp_worker_progress on the loop's
// thread and only record what happened), connection set-up on the worker, and landing buffers.
#include <fmt/format.h>

#include <cstring>

#include "core/clock.h"
#include "transport/ucx/ucx_io_worker.h"

namespace edgeserve::transport::ucx {

IoWorker::~IoWorker() {
  // Closes still under way get the same bounded wait close() gives each endpoint; a request freed unfinished
  // is released by UCX when it ends.
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  while (!closing.empty() && Clock::now() < deadline) {
    ucp_worker_progress(worker->get());
    reap_closed();
  }
  for (const auto& c : closing)
    if (c.request != nullptr) ucp_request_free(c.request);
  closing.clear();
  for (auto& [ep, slot] : slots) slot->ep.close(/*force=*/true);
  slots.clear();
}

std::shared_ptr<Slot> IoWorker::find(const ucp_am_recv_param_t* param) {
  if (!(param->recv_attr & UCP_AM_RECV_ATTR_FIELD_REPLY_EP)) return nullptr;
  auto it = slots.find(param->reply_ep);
  return it == slots.end() || it->second->dead ? nullptr : it->second;
}

void IoWorker::queue_error(const std::shared_ptr<Slot>& slot, uint64_t request_id, const Status& status) {
  if (std::string note; request_log.allow(status.code(), note))
    log->warn("request {} from {}: {}{}", request_id, slot->peer, status.to_string(), note);
  queue_reply(slot, core::error_response(request_id, status));
}

void IoWorker::queue_reply(const std::shared_ptr<Slot>& slot, const core::ResponseHeader& header) {
  auto e = std::make_unique<ErrorReply>();
  e->slot = slot;
  core::encode(header, e->header);
  errors_to_send.push_back(std::move(e));
}

Status IoWorker::reserve_landing(Slot& slot, size_t bytes) {
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

void IoWorker::accept(ucp_conn_request_h request) {
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
  ucp_ep_h ep = nullptr;
  if (ucs_status_t st = ucp_ep_create(worker->get(), &params, &ep); st != UCS_OK) {
    log->warn("cannot accept the UCX connection from {}: {}", from, to_string(st));
    client_count.fetch_sub(1);
    release_source(slot->source);
    return;
  }
  log->debug("{} connected to I/O worker {}", slot->peer, index);
  slot->ep = UcpEndpoint(worker->get(), ep);
  slots.emplace(ep, std::move(slot));
}

bool IoWorker::accept_incoming() {
  std::vector<ucp_conn_request_h> batch;
  {
    std::lock_guard lock(incoming_mutex);
    if (incoming.empty()) return false;
    batch.swap(incoming);
  }
  for (auto request : batch) accept(request);
  return true;
}

void IoWorker::on_endpoint_error(void* arg, ucp_ep_h /*ep*/, ucs_status_t status) {
  auto* slot = static_cast<Slot*>(arg);
  if (slot->dead) return;
  slot->dead = true;
  slot->owner->log->info("{} disconnected ({})", slot->peer, to_string(status));
  slot->owner->failed.push_back(slot->shared_from_this());
}

ucs_status_t IoWorker::on_hello(void* arg, const void* header, size_t header_length, void* /*data*/, size_t /*length*/,
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

ucs_status_t IoWorker::on_request(void* arg, const void* header, size_t header_length, void* data, size_t length,
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
  p.op_attr_mask =
      UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_MEMORY_TYPE | UCP_OP_ATTR_FIELD_MEMH;
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

void IoWorker::on_payload(void* request, ucs_status_t status, size_t /*length*/, void* user_data) {
  auto* slot = static_cast<Slot*>(user_data);
  ucp_request_free(request);
  slot->recv_request = nullptr;
  if (status == UCS_OK) return slot->owner->landed_now(slot->shared_from_this());
  slot->executing = false;
  if (!slot->dead)
    slot->owner->queue_error(slot->shared_from_this(), core::peek_request_id(slot->header),
                             Status(StatusCode::kTruncatedMessage, "payload transfer failed: " + to_string(status)));
}

void IoWorker::landed_now(std::shared_ptr<Slot> slot) {
  slot->recv_ns = core::now_ns();
  slot->landed = true;
  landed.push_back(std::move(slot));
}

void IoWorker::on_reply_sent(void* request, ucs_status_t status, void* user_data) {
  auto* slot = static_cast<Slot*>(user_data);
  ucp_request_free(request);
  slot->reply_request = nullptr;
  slot->reply.reset();  // the block goes back to its pool
  if (status != UCS_OK && !slot->dead) slot->owner->log->warn("reply to {} failed: {}", slot->peer, to_string(status));
}

void IoWorker::on_error_sent(void* request, ucs_status_t /*status*/, void* user_data) {
  ucp_request_free(request);
  static_cast<ErrorReply*>(user_data)->done = true;
}

}  // namespace edgeserve::transport::ucx
