#include "transport/http/shared_memory_routes.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

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
      core::logger("transport")->warn("system shared memory: {}{}", status.to_string(), note);
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

}  // namespace

void add_shared_memory_routes(httplib::Server& server, SharedMemoryRegions& regions) {
  const std::string region = "/v2/systemsharedmemory/region/([^/]+)";
  server.Post(region + "/register", [&regions](const httplib::Request& req, httplib::Response& res) {
    const Status s = register_region(regions, req.matches[1], req.body);
    if (s.ok()) core::logger("transport")->info("shared memory region '{}' registered", req.matches[1].str());
    reply(res, s);
  });
  server.Post(region + "/unregister", [&regions](const httplib::Request& req, httplib::Response& res) {
    reply(res, regions.remove(req.matches[1]));
  });
  server.Post("/v2/systemsharedmemory/unregister",
              [&regions](const httplib::Request&, httplib::Response& res) { reply(res, regions.remove("")); });
  auto status = [&regions](const std::string& name, httplib::Response& res) {
    auto listed = regions.status(name);
    if (!listed.ok()) return reply(res, listed.status());
    json out = json::array();
    for (const auto& r : listed.value())
      out.push_back({{"name", r.name}, {"key", r.key}, {"offset", r.offset}, {"byte_size", r.byte_size}});
    reply(res, {}, out);
  };
  server.Get(region + "/status",
             [status](const httplib::Request& req, httplib::Response& res) { status(req.matches[1], res); });
  server.Get("/v2/systemsharedmemory/status",
             [status](const httplib::Request&, httplib::Response& res) { status("", res); });
}

}  // namespace edgeserve::transport::http
