#include "transport/http/shared_memory_routes.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "core/base64.h"
#include "core/log.h"
#include "core/log_limiter.h"
#include "transport/http/kserve_types.h"

namespace edgeserve::transport::http {

using core::Status;
using core::StatusCode;
using nlohmann::json;

namespace {

// The registration endpoints' refusals, logged as every bad request is: rate-limited.
core::LogLimiter refusal_log;

void reply(httplib::Response& res, const Status& status, const json& body = json::object()) {
  if (!status.ok()) {
    if (std::string note; refusal_log.allow(note))
      core::logger("transport")->warn("shared memory: {}{}", status.to_string(), note);
    res.status = http_status_of(status.code());
    res.set_content(error_json(status), "application/json");
    return;
  }
  res.status = 200;
  res.set_content(body.dump(), "application/json");
}

Status register_region(SharedMemoryRegions& regions, const std::string& name, const std::string& body) {
  const json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("key") || !j["key"].is_string() || !j.contains("byte_size") ||
      !j["byte_size"].is_number_unsigned() || (j.contains("offset") && !j["offset"].is_number_unsigned()))
    return {StatusCode::kMalformedHeader,
            "a register request is {\"key\": string, \"offset\": unsigned, \"byte_size\": unsigned}"};
  return regions.add(name, j["key"].get<std::string>(), j.value("offset", uint64_t{0}), j["byte_size"].get<uint64_t>());
}

// Triton's CUDA register body: the cudaIpcMemHandle_t base64-encoded, the GPU it is on, and its size.
Status register_cuda_region(SharedMemoryRegions& regions, const std::string& name, const std::string& body) {
  const json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  const bool shaped = !j.is_discarded() && j.is_object() && j.contains("raw_handle") && j["raw_handle"].is_object() &&
                      j["raw_handle"].contains("b64") && j["raw_handle"]["b64"].is_string() &&
                      j.contains("device_id") && j["device_id"].is_number_integer() && j.contains("byte_size") &&
                      j["byte_size"].is_number_unsigned();
  if (!shaped)
    return {StatusCode::kMalformedHeader,
            "a CUDA register request is {\"raw_handle\": {\"b64\": string}, \"device_id\": integer, "
            "\"byte_size\": unsigned}"};
  const auto handle = core::base64_decode(j["raw_handle"]["b64"].get<std::string>());
  if (!handle) return {StatusCode::kMalformedHeader, "raw_handle.b64 is not base64"};
  return regions.add_cuda(name, *handle, j["device_id"].get<int64_t>(), j["byte_size"].get<uint64_t>());
}

json status_json(const SharedMemoryRegionStatus& r) {
  if (r.kind == RegionKind::kCuda) return {{"name", r.name}, {"device_id", r.device_id}, {"byte_size", r.byte_size}};
  return {{"name", r.name}, {"key", r.key}, {"offset", r.offset}, {"byte_size", r.byte_size}};
}

// One kind's routes under `root` (/v2/systemsharedmemory or /v2/cudasharedmemory).
template <class Register>
void add_routes(httplib::Server& server, SharedMemoryRegions& regions, const std::string& root, RegionKind kind,
                Register register_region) {
  const std::string region = root + "/region/([^/]+)";
  server.Post(region + "/register",
              [&regions, kind, register_region](const httplib::Request& req, httplib::Response& res) {
                const Status s = register_region(regions, req.matches[1], req.body);
                if (s.ok())
                  core::logger("transport")
                      ->info("{} shared memory region '{}' registered", kind == RegionKind::kCuda ? "CUDA" : "system",
                             req.matches[1].str());
                reply(res, s);
              });
  server.Post(region + "/unregister", [&regions, kind](const httplib::Request& req, httplib::Response& res) {
    reply(res, regions.remove(req.matches[1], kind));
  });
  server.Post(root + "/unregister", [&regions, kind](const httplib::Request&, httplib::Response& res) {
    reply(res, regions.remove("", kind));
  });
  auto status = [&regions, kind](const std::string& name, httplib::Response& res) {
    auto listed = regions.status(name, kind);
    if (!listed.ok()) return reply(res, listed.status());
    json out = json::array();
    for (const auto& r : listed.value()) out.push_back(status_json(r));
    reply(res, {}, out);
  };
  server.Get(region + "/status",
             [status](const httplib::Request& req, httplib::Response& res) { status(req.matches[1], res); });
  server.Get(root + "/status", [status](const httplib::Request&, httplib::Response& res) { status("", res); });
}

}  // namespace

void add_shared_memory_routes(httplib::Server& server, SharedMemoryRegions& regions) {
  add_routes(server, regions, "/v2/systemsharedmemory", RegionKind::kSystem, register_region);
  add_routes(server, regions, "/v2/cudasharedmemory", RegionKind::kCuda, register_cuda_region);
}

}  // namespace edgeserve::transport::http
