// UCX transport, server side: an I/O worker's loop: progress, deliveries, replies, welcomes, error replies,
// deadlines, closing endpoints of clients that are gone, and the graceful drain at stop.
#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "transport/ucx/ucx_delivery.h"
#include "transport/ucx/ucx_io_worker.h"

namespace edgeserve::transport::ucx {

bool IoWorker::send_welcomes() {
  if (hellos.empty()) return false;
  auto batch = std::move(hellos);
  hellos.clear();
  for (auto& slot : batch) {
    if (slot->dead) continue;
    const auto lanes = endpoint_transports(slot->ep.get());
    log->debug("{}: UCX endpoint\n{}", slot->peer, endpoint_info(slot->ep.get()));
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
    ucs_status_ptr_t r =
        ucp_am_send_nbx(slot->ep.get(), kWelcome, &slot->welcome, sizeof slot->welcome, nullptr, 0, &p);
    if (UCS_PTR_IS_ERR(r))
      log->warn("cannot welcome {}: {}", slot->peer, to_string(UCS_PTR_STATUS(r)));
    else if (r != nullptr)
      ucp_request_free(r);  // completes on its own; nothing to do when it does
  }
  return true;
}

bool IoWorker::send_errors() {
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
    ucs_status_ptr_t r = ucp_am_send_nbx(e->slot->ep.get(), kReply, e->header.data(), e->header.size(), nullptr, 0, &p);
    if (UCS_PTR_IS_ERR(r)) {
      log->warn("error reply to {} failed: {}", e->slot->peer, to_string(UCS_PTR_STATUS(r)));
    } else if (r != nullptr) {
      errors_in_flight.push_back(std::move(e));
    }
  }
  return true;
}

bool IoWorker::deliver_landed(const std::function<void(std::unique_ptr<Delivery>)>& on_delivery) {
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
    // The previous reply may still be leaving: the slot holds one reply payload, and it must outlive its send.
    if (slot->reply_request) {
      later.push_back(std::move(slot));
      continue;
    }
    slot->landed = false;
    any = true;
    auto request = core::decode_request_header(slot->header);
    if (!request.ok()) {  // the serving process's error reply (it logs), or a bare one logged here
      slot->executing = false;
      if (options().edge_error)
        queue_reply(slot, options().edge_error(core::peek_request_id(slot->header), request.status(), slot->recv_ns,
                                               slot->peer));
      else
        queue_error(slot, core::peek_request_id(slot->header), request.status());
      continue;
    }
    on_delivery(std::make_unique<UcxDelivery>(slot, std::move(request.value()), outbox));
  }
  for (auto& slot : later) landed.push_back(std::move(slot));
  return any;
}

bool IoWorker::flush_outbox() {
  std::vector<std::shared_ptr<Slot>> batch;
  {
    std::lock_guard lock(outbox->mutex);
    if (outbox->queue.empty()) return false;
    batch.swap(outbox->queue);
  }
  for (auto& slot : batch) send_reply(*slot);
  return true;
}

void IoWorker::send_reply(Slot& slot) {
  slot.executing = false;
  if (slot.dead) {
    log->warn("reply to {} dropped: the client disconnected before its reply was ready", slot.peer);
    slot.reply.reset();
    return;
  }
  ucp_request_param_t p{};
  p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
  p.cb.send = &IoWorker::on_reply_sent;
  p.user_data = &slot;
  const size_t bytes = slot.reply ? slot.reply->bytes().size() : 0;
  ucs_status_ptr_t r = ucp_am_send_nbx(slot.ep.get(), kReply, slot.reply_header.data(), slot.reply_header.size(),
                                       bytes ? slot.reply->bytes().data() : nullptr, bytes, &p);
  if (UCS_PTR_IS_ERR(r)) log->warn("reply to {} failed: {}", slot.peer, to_string(UCS_PTR_STATUS(r)));
  if (r != nullptr && !UCS_PTR_IS_ERR(r))
    slot.reply_request = r;
  else
    slot.reply.reset();  // sent already (or failed): the block goes back to its pool
}

bool IoWorker::close_failed() {
  if (failed.empty()) return false;
  auto batch = std::move(failed);
  failed.clear();
  for (auto& slot : batch) {
    if (slots.erase(slot->ep.get())) {
      client_count.fetch_sub(1);
      release_source(slot->source);
    }
    // Cancels what was outstanding. The cancelled receive or reply may complete later, inside a progress call,
    // with the slot as its user data: the slot stays in `closing` until the close and both have ended (a
    // request still running keeps it too, through its delivery, until its reply is dropped).
    closing.push_back({slot->ep.begin_close(/*force=*/true), slot});
  }
  return true;
}

bool IoWorker::reap_closed() {
  return std::erase_if(closing, [](Closing& c) {
           if (c.request != nullptr) {
             if (ucp_request_check_status(c.request) == UCS_INPROGRESS) return false;
             ucp_request_free(std::exchange(c.request, nullptr));
           }
           return c.slot->recv_request == nullptr && c.slot->reply_request == nullptr;
         }) > 0;
}

bool IoWorker::work(const std::function<void(std::unique_ptr<Delivery>)>& on_delivery) {
  bool worked = ucp_worker_progress(worker->get()) != 0;
  worked |= accept_incoming();
  worked |= deliver_landed(on_delivery);
  worked |= flush_outbox();
  worked |= send_welcomes();
  worked |= send_errors();
  expire_stale();
  worked |= close_failed();
  worked |= reap_closed();
  return worked;
}

void IoWorker::expire_stale() {
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
        log->warn("closed {}: idle for over {} s (--idle-timeout-s){}", slot->peer, limits.idle_timeout.count(), note);
    } else {
      continue;
    }
    slot->dead = true;
    failed.push_back(slot);
  }
}

bool IoWorker::replies_in_flight() const {
  if (!errors_in_flight.empty() || !errors_to_send.empty() || !landed.empty()) return true;
  for (const auto& [ep, slot] : slots)
    if (slot->reply_request || slot->executing || slot->recv_request) return true;
  return false;
}

void IoWorker::loop(const std::function<void(std::unique_ptr<Delivery>)>& on_delivery) {
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

}  // namespace edgeserve::transport::ucx
