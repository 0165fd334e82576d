// UCX transport, server side: one I/O worker, a UCX worker driven by one thread, the clients it serves and the
// state of its loop. UCX callbacks (ucx_io_callbacks.cpp) only record what happened; the loop
// (ucx_io_loop.cpp) acts on it. Every UCX call happens on the worker's own thread.
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/log.h"
#include "core/log_limiter.h"
#include "transport/ucx/ucx_peer.h"

namespace edgeserve::transport::ucx {

using core::Status;
using core::StatusCode;

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
  // Endpoints whose close is under way, each with its slot: the loop never waits on a close (under load a
  // forced close of a killed client's endpoint can take a second, and twenty of them held new clients'
  // handshakes past their timeout); the slot lives until the close request and its cancelled receive and
  // reply (their callbacks hold the raw slot) have ended. `request` is null when the close ended at once.
  struct Closing {
    ucs_status_ptr_t request;
    std::shared_ptr<Slot> slot;
  };
  std::vector<Closing> closing;
  std::shared_ptr<spdlog::logger> log = core::logger("transport");
  core::LogLimiterByStatus request_log;  // clients choose how many bad requests they send; the log stays bounded

  const UcxListenerOptions& options() const;
  bool stopping() const;

  // Every reply has left by now (the loop drained): clients only learn that the server is gone.
  ~IoWorker();

  std::shared_ptr<Slot> find(const ucp_am_recv_param_t* param);

  void queue_error(const std::shared_ptr<Slot>& slot, uint64_t request_id, const Status& status);
  // Sends `header` (no payload) from its own storage, as queue_error does.
  void queue_reply(const std::shared_ptr<Slot>& slot, const core::ResponseHeader& header);

  // Grows the slot's landing buffer to hold `bytes` (allocation and registration once per size reached).
  Status reserve_landing(Slot& slot, size_t bytes);

  // --- UCX callbacks (inside ucp_worker_progress on the loop's thread) --------------------------------------

  // Accepts a connection request handed over by the listener, on this worker.
  void accept(ucp_conn_request_h request);

  uint64_t next_slot_id();

  bool accept_incoming();

  static void on_endpoint_error(void* arg, ucp_ep_h /*ep*/, ucs_status_t status);

  static ucs_status_t on_hello(void* arg, const void* header, size_t header_length, void* /*data*/, size_t /*length*/,
                               const ucp_am_recv_param_t* param);

  static ucs_status_t on_request(void* arg, const void* header, size_t header_length, void* data, size_t length,
                                 const ucp_am_recv_param_t* param);

  static void on_payload(void* request, ucs_status_t status, size_t /*length*/, void* user_data);

  void landed_now(std::shared_ptr<Slot> slot);

  static void on_reply_sent(void* request, ucs_status_t status, void* user_data);

  static void on_error_sent(void* request, ucs_status_t /*status*/, void* user_data);

  // --- the loop's work ---------------------------------------------------------------------------------------

  bool send_welcomes();

  bool send_errors();

  bool deliver_landed(const std::function<void(std::unique_ptr<Delivery>)>& on_delivery);

  bool flush_outbox();

  void send_reply(Slot& slot);

  bool close_failed();
  // Frees the close requests that have ended (and their slots).
  bool reap_closed();

  bool work(const std::function<void(std::unique_ptr<Delivery>)>& on_delivery);

  // Closes connections past their deadlines (checked at most every 250 ms): idle ones, and ones whose payload
  // has not arrived within the request timeout. They go the way of a failed endpoint (close_failed).
  Clock::time_point next_expiry_check{};
  core::LogLimiter idle_log, slow_log;
  void expire_stale();

  void release_source(const std::string& source);

  // Whether a request taken is still unanswered, or an answer is still leaving.
  bool replies_in_flight() const;
  void loop(const std::function<void(std::unique_ptr<Delivery>)>& on_delivery);
};

}  // namespace edgeserve::transport::ucx
