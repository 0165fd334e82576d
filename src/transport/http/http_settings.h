// What the http:// listener needs to know of the models it fronts (KServe v2 model metadata and config, input and
// output names), given by the serving process (cli/) as this transport's settings: transport/ knows no models.
#pragma once

#include <cstdint>
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

class HttpServerSettings final : public SchemeSettings {
 public:
  explicit HttpServerSettings(std::vector<ServedModel> models) : models_(std::move(models)) {}
  std::string what() const override { return "the served models' metadata"; }
  const std::vector<ServedModel>& models() const { return models_; }
  const ServedModel* find(std::string_view name) const {
    for (const auto& m : models_)
      if (m.name == name) return &m;
    return nullptr;
  }

 private:
  std::vector<ServedModel> models_;
};

}  // namespace edgeserve::transport::http
