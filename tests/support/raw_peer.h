// Hostile peers made of plain sockets, for the tests of connection limits: raw bytes to any port, and a ZMTP 3
// peer (NULL mechanism) written by hand, so that a test can stop half-way through a handshake or a message, as
// a slowloris does, which no ZeroMQ socket can be made to do.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <vector>

namespace edgeserve::testing {

// "tcp://127.0.0.1:5555" or "ucx://127.0.0.1:6000" → 127.0.0.1, 5555.
struct HostPort {
  std::string host;
  uint16_t port = 0;
};
inline HostPort host_port(const std::string& endpoint) {
  const auto scheme = endpoint.find("://");
  const std::string rest = scheme == std::string::npos ? endpoint : endpoint.substr(scheme + 3);
  const auto colon = rest.rfind(':');
  return {rest.substr(0, colon), static_cast<uint16_t>(std::stoi(rest.substr(colon + 1)))};
}

// One TCP connection from `source` (a loopback address such as 127.0.0.2, so that tests can be several hosts)
// to an endpoint. Closed with its owner.
class RawSocket {
 public:
  RawSocket(const std::string& endpoint, const std::string& source = "127.0.0.1") {
    const HostPort to = host_port(endpoint);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    inet_pton(AF_INET, source.c_str(), &from.sin_addr);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(to.port);
    inet_pton(AF_INET, to.host.c_str(), &a.sin_addr);
    connected_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) == 0 &&
                 ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~RawSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;
  RawSocket(RawSocket&& o) noexcept : fd_(o.fd_), connected_(o.connected_) { o.fd_ = -1; }

  bool connected() const { return connected_; }
  bool send(std::span<const uint8_t> bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }
  bool send_zeros(size_t n) { return send(std::vector<uint8_t>(n, 0)); }

  // Whether the peer has closed the connection within `wait` (reads and discards what it sends meanwhile).
  bool closed_by_peer_within(std::chrono::milliseconds wait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    uint8_t buffer[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(1, left.count()))) <= 0) continue;
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) return true;  // end of stream or reset
    }
    return false;
  }

  // ZMTP 3.0 as a DEALER with the NULL mechanism: greeting and READY, then frames.
  bool zmtp_handshake() {
    std::vector<uint8_t> greeting(64, 0);
    greeting[0] = 0xff;
    greeting[9] = 0x7f;
    greeting[10] = 3;  // version 3.0
    std::memcpy(&greeting[12], "NULL", 4);
    if (!send(greeting)) return false;
    std::vector<uint8_t> body{5, 'R', 'E', 'A', 'D', 'Y'};
    const std::string name = "Socket-Type", value = "DEALER";
    body.push_back(static_cast<uint8_t>(name.size()));
    body.insert(body.end(), name.begin(), name.end());
    for (int shift : {24, 16, 8, 0}) body.push_back(static_cast<uint8_t>(value.size() >> shift));
    body.insert(body.end(), value.begin(), value.end());
    std::vector<uint8_t> command{0x04, static_cast<uint8_t>(body.size())};  // a short command frame
    command.insert(command.end(), body.begin(), body.end());
    if (!send(command)) return false;
    // The server's greeting and READY: ZeroMQ rejects a message that arrives before it has sent its READY.
    uint8_t head[64 + 2];
    if (!receive(head, sizeof head, std::chrono::seconds(10)) || head[64] != 0x04) return false;
    std::vector<uint8_t> ready(head[65]);
    return receive(ready.data(), ready.size(), std::chrono::seconds(10));
  }
  // Exactly `n` bytes within `wait`.
  bool receive(uint8_t* out, size_t n, std::chrono::milliseconds wait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    for (size_t got = 0; got < n;) {
      pollfd p{fd_, POLLIN, 0};
      if (std::chrono::steady_clock::now() > deadline) return false;
      if (::poll(&p, 1, 50) <= 0) continue;
      const ssize_t r = ::recv(fd_, out + got, n - got, 0);
      if (r <= 0) return false;
      got += static_cast<size_t>(r);
    }
    return true;
  }
  // A frame's flags and length (8 bytes, as ZMTP's long form), without its body.
  bool zmtp_frame_start(uint64_t length, bool more) {
    std::vector<uint8_t> head{static_cast<uint8_t>((more ? 0x01 : 0) | 0x02)};
    for (int shift = 56; shift >= 0; shift -= 8) head.push_back(static_cast<uint8_t>(length >> shift));
    return send(head);
  }
  bool zmtp_frame(std::span<const uint8_t> body, bool more) {
    return zmtp_frame_start(body.size(), more) && send(body);
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// Every TCP port on 127.0.0.1 that process `pid` listens on: its own listeners and those its libraries open
// (UCX's tcp transport listens on an ephemeral port of each interface). From /proc: the socket inodes among
// the process's descriptors, matched against /proc/net/tcp's listening sockets.
inline std::vector<uint16_t> loopback_listening_ports(pid_t pid) {
  std::vector<std::string> inodes;
  const std::string fds = "/proc/" + std::to_string(pid) + "/fd";
  for (const auto& entry :
       std::filesystem::directory_iterator(fds, std::filesystem::directory_options::skip_permission_denied)) {
    std::error_code error;
    const std::string target = std::filesystem::read_symlink(entry.path(), error).string();
    if (!error && target.starts_with("socket:[")) inodes.push_back(target.substr(8, target.size() - 9));
  }
  std::vector<uint16_t> ports;
  std::ifstream table("/proc/" + std::to_string(pid) + "/net/tcp");
  std::string line;
  std::getline(table, line);  // the column names
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
    fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
    // local is "0100007F:1F90": 127.0.0.1 (little-endian hex) and the port (hex); state 0A is LISTEN.
    if (state != "0A" || !local.starts_with("0100007F:")) continue;
    if (std::find(inodes.begin(), inodes.end(), inode) == inodes.end()) continue;
    ports.push_back(static_cast<uint16_t>(std::stoul(local.substr(9), nullptr, 16)));
  }
  return ports;
}

// The resident memory of a process, in bytes.
inline uint64_t resident_bytes(pid_t pid) {
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/statm").c_str(), "r");
  if (!f) return 0;
  unsigned long long size = 0, resident = 0;
  const int n = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

// CPU time (user + system) a process has used so far, in seconds.
inline double cpu_seconds(pid_t pid) {
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (!f) return 0;
  char buffer[1024] = {};
  const size_t n = std::fread(buffer, 1, sizeof buffer - 1, f);
  std::fclose(f);
  const char* after_name = std::strrchr(buffer, ')');  // the command name may hold spaces
  if (!after_name || n == 0) return 0;
  unsigned long long utime = 0, stime = 0;
  // Fields 14 and 15 (utime, stime), counted from field 3 that follows the name.
  if (std::sscanf(after_name + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
    return 0;
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace edgeserve::testing
