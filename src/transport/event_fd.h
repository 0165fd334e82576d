// An eventfd, owned: how a listener's stop() (which may run in a signal handler: write(2) is async-signal-safe)
// wakes the thread that waits in run().
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

namespace edgeserve::transport {

class EventFd {
 public:
  EventFd() : fd_(eventfd(0, EFD_CLOEXEC)) {}
  ~EventFd() {
    if (fd_ >= 0) close(fd_);
  }
  EventFd(const EventFd&) = delete;
  EventFd& operator=(const EventFd&) = delete;
  int fd() const { return fd_; }  // -1 when eventfd failed

 private:
  int fd_;
};

}  // namespace edgeserve::transport
