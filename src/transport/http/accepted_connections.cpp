// Finding a listener's accepted connections through /proc/self/fd.
#include "transport/http/accepted_connections.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <filesystem>

namespace edgeserve::transport::http {

void end_accepted_connections(const std::string& host, uint16_t port) {
  in_addr bound{};
  const bool any = host == "0.0.0.0" || inet_pton(AF_INET, host.c_str(), &bound) != 1;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    const std::string name = entry.path().filename().string();
    int fd = -1;
    if (std::from_chars(name.data(), name.data() + name.size(), fd).ec != std::errc()) continue;
    sockaddr_in local{}, peer{};
    socklen_t length = sizeof local;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0 || local.sin_family != AF_INET) continue;
    if (ntohs(local.sin_port) != port || (!any && local.sin_addr.s_addr != bound.s_addr)) continue;
    length = sizeof peer;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0) continue;  // the listener, or unconnected
    shutdown(fd, SHUT_RD);
  }
}

}  // namespace edgeserve::transport::http
