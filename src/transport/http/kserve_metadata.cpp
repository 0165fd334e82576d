// KServe v2 metadata and Triton model configuration JSON.
#include "transport/http/kserve_metadata.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "core/build_info.h"
#include "transport/http/kserve_types.h"

namespace edgeserve::transport::http {

using nlohmann::json;

namespace {

json dims(const core::TensorShape& shape) {
  json out = json::array();
  for (int64_t d : shape) out.push_back(d);
  return out;
}

json tensor_metadata(const core::TensorSpec& t) {
  return {{"name", t.name}, {"datatype", kserve_datatype(t.dtype)}, {"shape", dims(t.shape)}};
}

json tensor_config(const core::TensorSpec& t) {
  return {{"name", t.name}, {"data_type", std::string("TYPE_") + kserve_datatype(t.dtype)}, {"dims", dims(t.shape)}};
}

}  // namespace

std::string server_metadata_json(bool cuda_shared_memory) {
  json extensions = {"binary_tensor_data", "system_shared_memory"};
  if (cuda_shared_memory) extensions.push_back("cuda_shared_memory");
  return json{{"name", "edgeserve"}, {"version", core::build_version()}, {"extensions", extensions}}.dump();
}

std::string model_metadata_json(const ServedModel& model) {
  json outputs = json::array();
  for (const auto& o : model.outputs) outputs.push_back(tensor_metadata(o));
  return json{{"name", model.name},
              {"versions", {"1"}},
              {"platform", model.platform},
              {"inputs", {tensor_metadata(model.input)}},
              {"outputs", std::move(outputs)}}
      .dump();
}

std::string model_config_json(const ServedModel& model) {
  json outputs = json::array();
  for (const auto& o : model.outputs) outputs.push_back(tensor_config(o));
  return json{{"name", model.name},
              {"platform", model.platform},
              {"backend", "pytorch"},
              {"max_batch_size", 0},
              {"input", {tensor_config(model.input)}},
              {"output", std::move(outputs)}}
      .dump();
}

std::vector<std::string> reply_output_names(const ServedModel* model, uint8_t select, size_t n_outputs) {
  std::vector<std::string> selected;
  if (model != nullptr)
    for (size_t i = 0; i < model->outputs.size() && i < 8; ++i)
      if (select & (1u << i)) selected.push_back(model->outputs[i].name);
  if (selected.size() == n_outputs) return selected;
  std::vector<std::string> names;
  if (!selected.empty() && selected.size() * 2 == n_outputs) {
    for (const auto& s : selected) {
      names.push_back(s + "_ids");
      names.push_back(s + "_scores");
    }
    return names;
  }
  for (size_t i = 0; i < n_outputs; ++i) names.push_back(fmt::format("output{}", i));
  return names;
}

}  // namespace edgeserve::transport::http
