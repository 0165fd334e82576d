// Host, CPU, kernel and GPU description from /proc and uname.
#include "metrics/host_info.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

extern char** environ;

namespace edgeserve::metrics {

namespace {

std::string trim(std::string s) {
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

// The value of the first "key: value" line of `path` whose key is `key`.
std::string field(const std::filesystem::path& path, const std::string& key) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    const auto colon = line.find(':');
    if (colon != std::string::npos && trim(line.substr(0, colon)) == key) return trim(line.substr(colon + 1));
  }
  return {};
}

}  // namespace

HostInfo host_info() {
  HostInfo h;
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) == 0) h.hostname = name;
  h.cpu_model = field("/proc/cpuinfo", "model name");
  h.cpus = std::thread::hardware_concurrency();
  if (utsname u{}; uname(&u) == 0) h.kernel = std::string(u.sysname) + " " + u.release + " " + u.machine;
  std::error_code ec;
  const std::filesystem::path gpus = "/proc/driver/nvidia/gpus";
  if (std::filesystem::is_directory(gpus, ec)) {
    for (const auto& entry : std::filesystem::directory_iterator(gpus, ec))
      if (auto model = field(entry.path() / "information", "Model"); !model.empty()) h.gpus.push_back(model);
    std::sort(h.gpus.begin(), h.gpus.end());
  }
  // "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 ..." → "550.54.15"
  std::ifstream version("/proc/driver/nvidia/version");
  if (std::string line; std::getline(version, line)) {
    std::smatch m;
    if (std::regex_search(line, m, std::regex(R"(\s(\d+\.\d+(\.\d+)?)\s)"))) h.gpu_driver = m[1];
  }
  return h;
}

std::map<std::string, std::string> environment_with_prefixes(const std::vector<std::string>& prefixes) {
  std::map<std::string, std::string> out;
  for (char** e = environ; e && *e; ++e) {
    const std::string entry = *e;
    const auto eq = entry.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = entry.substr(0, eq);
    for (const auto& p : prefixes)
      if (key.starts_with(p)) out[key] = entry.substr(eq + 1);
  }
  return out;
}

}  // namespace edgeserve::metrics
