// A transport's own settings (tcp: CURVE keys; ucx: where requests land), made by cli/, the composition root,
// and read only by the transport they are for: server/, gateway/ and bench/ carry them without looking inside,
// so none of them includes a transport's folder.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edgeserve::transport {

// Base of every transport's settings type (tcp::TcpServerSettings, ucx::UcxServerSettings, ...).
class SchemeSettings {
 public:
  virtual ~SchemeSettings() = default;
  // What the settings are, for errors when they are given to another transport: "CURVE keys".
  virtual std::string what() const = 0;
};

// Settings by scheme ("tcp", "ucx"); at most one per scheme. Cheap to copy: the settings are shared, immutable.
class TransportSettings {
 public:
  void set(std::string scheme, std::shared_ptr<const SchemeSettings> settings) {
    for (auto& [s, v] : by_scheme_)
      if (s == scheme) {
        v = std::move(settings);
        return;
      }
    by_scheme_.emplace_back(std::move(scheme), std::move(settings));
  }
  // The settings for `scheme` if they are a T; null otherwise.
  template <class T>
  const T* get(std::string_view scheme) const {
    for (const auto& [s, v] : by_scheme_)
      if (s == scheme) return dynamic_cast<const T*>(v.get());
    return nullptr;
  }
  const std::vector<std::pair<std::string, std::shared_ptr<const SchemeSettings>>>& all() const { return by_scheme_; }

 private:
  std::vector<std::pair<std::string, std::shared_ptr<const SchemeSettings>>> by_scheme_;
};

}  // namespace edgeserve::transport
