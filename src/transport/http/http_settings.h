// What the http:// listener needs to know of the models it fronts (KServe v2 model metadata and config, input and
// output names), given by the serving process (cli/) as this transport's settings: transport/ knows no models.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor_spec.h"
#include "transport/transport_settings.h"

namespace edgeserve::transport::http {

struct ServedModel {
  std::string name;
  std::string platform = "pytorch_libtorch";
  core::TensorSpec input;
  std::vector<core::TensorSpec> outputs;  // in the model's order: bit i of a request's output choice is outputs[i]
  uint8_t default_select = 1;             // the outputs a request that names none gets (the manifest's "reply")
};

// Prometheus text exposition, version 0.0.4 (GET /metrics).
inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

class HttpServerSettings final : public SchemeSettings {
 public:
  // `metrics`: renders the process's Prometheus metrics for GET /metrics (on a scrape, on a connection thread);
  // empty: /metrics is not served.
  explicit HttpServerSettings(std::vector<ServedModel> models, std::function<std::string()> metrics = {})
      : models_(std::move(models)), metrics_(std::move(metrics)) {}
  std::string what() const override { return "the served models' metadata"; }
  const std::vector<ServedModel>& models() const { return models_; }
  const std::function<std::string()>& metrics() const { return metrics_; }
  const ServedModel* find(std::string_view name) const {
    for (const auto& m : models_)
      if (m.name == name) return &m;
    return nullptr;
  }

 private:
  std::vector<ServedModel> models_;
  std::function<std::string()> metrics_;
};

}  // namespace edgeserve::transport::http
