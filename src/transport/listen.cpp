// Server-side transports by URI.
#include "transport/listen.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <system_error>
#include <thread>

#include "core/log.h"
#include "transport/endpoint.h"
#include "transport/registry.h"

namespace edgeserve::transport {

core::Result<std::unique_ptr<Listener>> listen(const std::string& given, const ListenOptions& options) {
  auto resolved = resolve_listen_address(given);
  if (!resolved.ok()) return core::Status(resolved.status().code(), "cannot listen on " + resolved.status().message());
  const std::string& uri = resolved.value();
  if (const TransportEntry* t = find_transport(uri); t != nullptr && t->listen != nullptr)
    return t->listen(uri, options);
  return core::Status(core::StatusCode::kInternal, "resolve_listen_address let through " + uri);
}

core::Status ListenerSet::add(const std::string& uri, const ListenOptions& options) {
  if (listeners_.size() == listeners_.capacity())
    return {core::StatusCode::kInternal, "more listeners than the set was made for"};
  auto listener = listen(uri, options);
  if (!listener.ok()) return listener.status();
  listeners_.push_back(std::move(listener.value()));
  bound_.fetch_add(1);
  return {};
}

core::Status ListenerSet::run(const std::function<void(std::unique_ptr<Delivery>)>& on_delivery) {
  if (listeners_.empty()) return {};
  // An exception (cppzmq, UCX glue) never leaves a listener's thread: it is logged, stops every listener (the
  // others drain their replies) and is returned, so the process exits with an error instead of aborting.
  std::mutex failure_mutex;
  core::Status failure;
  // Each listener's deliveries carry its index (Delivery::listener()).
  std::vector<std::function<void(std::unique_ptr<Delivery>)>> tagged;
  for (size_t i = 0; i < listeners_.size(); ++i)
    tagged.emplace_back([&on_delivery, index = static_cast<uint32_t>(i)](std::unique_ptr<Delivery> delivery) {
      delivery->set_listener(index);
      on_delivery(std::move(delivery));
    });
  const auto guarded = [&](size_t i) {
    try {
      listeners_[i]->run(tagged[i]);
    } catch (const std::exception& e) {
      const std::string why = fmt::format("listener {} stopped: {}", listeners_[i]->endpoint(), e.what());
      core::logger("transport")->error("{}", why);
      {
        std::lock_guard lock(failure_mutex);
        if (failure.ok()) failure = {core::StatusCode::kInternal, why};
      }
      stop();
    }
  };
  {
    std::vector<std::jthread> others;
    for (size_t i = 1; i < listeners_.size(); ++i) others.emplace_back(guarded, i);
    guarded(0);
  }
  return failure;
}

void ListenerSet::stop() {
  const size_t bound = bound_.load();
  for (size_t i = 0; i < bound; ++i) listeners_[i]->stop();
}

std::vector<std::string> ListenerSet::endpoints() const {
  std::vector<std::string> out;
  for (const auto& l : listeners_) out.push_back(l->endpoint());
  return out;
}

core::Status ListenerSet::write_ready_file(const std::filesystem::path& path) const {
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp);
    out << fmt::format("{}\n", fmt::join(endpoints(), "\n"));
    if (!out.flush())
      return {core::StatusCode::kInvalidArgument,
              fmt::format("cannot write the ready file {}: {}", tmp, std::strerror(errno))};
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec)
    return {core::StatusCode::kInvalidArgument,
            fmt::format("cannot write the ready file {}: {}", path.string(), ec.message())};
  return {};
}

}  // namespace edgeserve::transport
