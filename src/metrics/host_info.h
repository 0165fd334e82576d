// The machine a result was measured on, as result files record it: host name, CPU model, kernel, and the
// NVIDIA GPUs and driver when the driver is loaded. Read from the kernel, never guessed.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace edgeserve::metrics {

struct HostInfo {
  std::string hostname;           // gethostname(): what the machine calls itself (a VM may be called "vm")
  std::string cpu_model;          // /proc/cpuinfo "model name"; "" if absent
  unsigned cpus = 0;              // hardware threads
  std::string kernel;             // uname: sysname release machine
  std::vector<std::string> gpus;  // /proc/driver/nvidia/gpus/*/information "Model"; empty without the driver
  std::string gpu_driver;         // /proc/driver/nvidia/version; "" without the driver
};

HostInfo host_info();

// Environment variables whose names start with one of `prefixes` (UCX_, EDGESERVE_): they change what a run
// measures, so results record them.
std::map<std::string, std::string> environment_with_prefixes(const std::vector<std::string>& prefixes);

}  // namespace edgeserve::metrics
