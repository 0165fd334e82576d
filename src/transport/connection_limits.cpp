#include "transport/connection_limits.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/resource.h>

namespace edgeserve::transport {

bool SourceCounts::try_add(const std::string& source, size_t limit) {
  std::lock_guard lock(mutex_);
  size_t& n = counts_[source];
  if (n >= limit) {
    if (n == 0) counts_.erase(source);
    return false;
  }
  ++n;
  return true;
}

void SourceCounts::remove(const std::string& source) {
  std::lock_guard lock(mutex_);
  if (auto it = counts_.find(source); it != counts_.end() && --it->second == 0) counts_.erase(it);
}

uint64_t raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  // An unlimited hard limit is not a valid soft one for open files: the kernel's nr_open (2^20 by default) is.
  for (rlim_t target : {limit.rlim_max, rlim_t{1} << 20}) {
    if (target <= limit.rlim_cur) break;
    rlimit raised{target, limit.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) return target;
  }
  return limit.rlim_cur;
}

std::string address_text(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(address);
    inet_ntop(AF_INET, &in.sin_addr, text, sizeof text);
    return fmt::format("{}:{}", text, ntohs(in.sin_port));
  }
  if (address.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(address);
    inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text);
    return fmt::format("[{}]:{}", text, ntohs(in6.sin6_port));
  }
  return "?";
}

std::string source_of(const std::string& address_and_port) {
  if (address_and_port.starts_with('[')) {
    const auto close = address_and_port.find(']');
    return close == std::string::npos ? address_and_port : address_and_port.substr(1, close - 1);
  }
  const auto colon = address_and_port.rfind(':');
  return colon == std::string::npos ? address_and_port : address_and_port.substr(0, colon);
}

}  // namespace edgeserve::transport
