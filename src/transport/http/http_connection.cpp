// edgeserve's KServe v2 client over cpp-httplib.
#include "transport/http/http_connection.h"

#include <fmt/format.h>
#include <httplib.h>

#include <charconv>
#include <map>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "transport/endpoint.h"
#include "transport/http/kserve_request.h"
#include "transport/http/kserve_response.h"
#include "transport/http/kserve_types.h"

namespace edgeserve::transport::http {

using core::Status;
using core::StatusCode;

namespace {

struct ModelNames {
  std::string input;
  std::vector<std::string> outputs;
};

class HttpConnection final : public ClientConnection {
 public:
  HttpConnection(std::string target, const std::string& host, int port)
      : target_(std::move(target)), client_(host, port) {
    client_.set_keep_alive(true);
    client_.set_tcp_nodelay(true);
  }

  Status call(const core::RequestHeader& header, std::span<const std::byte> payload, Reply& reply,
              std::chrono::milliseconds timeout) override {
    client_.set_connection_timeout(timeout);
    client_.set_read_timeout(timeout);
    client_.set_write_timeout(timeout);
    reply = Reply{};
    const ModelNames* names = nullptr;
    if (Status s = model_names(header, reply, names); !s.ok() || names == nullptr) return s;
    std::vector<std::string> outputs;
    for (size_t i = 0; i < names->outputs.size() && i < 8; ++i)
      if (header.output.select & (1u << i)) outputs.push_back(names->outputs[i]);
    // The header carries what the payload is; its byte count is what arrives (a short payload is the server's
    // payload-size-mismatch to answer, as on every transport).
    core::RequestHeader sent = header;
    sent.payload_bytes = payload.size();
    const std::string json = encode_infer_request_json(sent, names->input, outputs);
    const httplib::Headers headers{{"Inference-Header-Content-Length", std::to_string(json.size())}};
    auto result = client_.Post(
        path(header.model) + "/infer", headers, json.size() + payload.size(),
        [&json, payload](size_t offset, size_t length, httplib::DataSink& sink) {
          // The JSON, then the tensor's bytes where the caller keeps them: no copy of the payload.
          if (offset < json.size()) {
            const size_t n = std::min(length, json.size() - offset);
            return sink.write(json.data() + offset, n);
          }
          const size_t at = offset - json.size();
          return sink.write(reinterpret_cast<const char*>(payload.data()) + at, std::min(length, payload.size() - at));
        },
        "application/octet-stream");
    if (!result) return failed(result);
    reply.recv_clock_ns = core::now_ns();
    body_ = std::move(result->body);
    if (result->status != 200) {
      const Status error = status_from_error_body(body_, result->status);
      reply.header = core::error_response(header.request_id, error);
      return {};
    }
    std::optional<uint64_t> header_length;
    if (result->has_header("Inference-Header-Content-Length")) {
      const std::string text = result->get_header_value("Inference-Header-Content-Length");
      uint64_t v = 0;
      if (std::from_chars(text.data(), text.data() + text.size(), v).ec == std::errc()) header_length = v;
    }
    auto decoded = decode_infer_reply(std::as_bytes(std::span(body_.data(), body_.size())), header_length);
    if (!decoded.ok()) return decoded.status();
    reply.header = decoded->header;
    reply.header.request_id = header.request_id;
    reply.payload = decoded->payload;
    return {};
  }

  std::string target() const override { return target_; }
  LinkReport link() const override { return {"http", "cpp-httplib " CPPHTTPLIB_VERSION, "", {}, {}}; }

 private:
  static std::string path(const std::string& model) { return "/v2/models/" + model; }

  // The model's input and output names, from its metadata the first time. An unknown model is the reply (404).
  Status model_names(const core::RequestHeader& header, Reply& reply, const ModelNames*& out) {
    if (auto it = names_.find(header.model); it != names_.end()) {
      out = &it->second;
      return {};
    }
    auto result = client_.Get(path(header.model));
    if (!result) return failed(result);
    if (result->status != 200) {
      const Status why = status_from_error_body(result->body, result->status);
      if (why.code() == StatusCode::kUnavailable) {  // a gateway: no names to learn; the request says it all
        out = &names_.emplace(header.model, ModelNames{"input", {}}).first->second;
        return {};
      }
      reply.recv_clock_ns = core::now_ns();
      reply.header = core::error_response(header.request_id, why);
      return {};
    }
    const auto j = nlohmann::json::parse(result->body, nullptr, false);
    ModelNames names;
    if (!j.is_object() || !j.contains("inputs") || !j["inputs"].is_array() || j["inputs"].empty() ||
        !j["inputs"][0].contains("name") || !j["inputs"][0]["name"].is_string())
      return {StatusCode::kMalformedHeader,
              fmt::format("{}: model {}'s metadata has no input name", target_, header.model)};
    names.input = j["inputs"][0]["name"].get<std::string>();
    if (j.contains("outputs") && j["outputs"].is_array())
      for (const auto& o : j["outputs"])
        names.outputs.push_back(o.contains("name") && o["name"].is_string() ? o["name"].get<std::string>() : "");
    out = &names_.emplace(header.model, std::move(names)).first->second;
    return {};
  }

  // A failed exchange closes the socket at once: left open, a killed server's side of it lingers (FIN_WAIT2) and
  // keeps a restarted server from binding the same port for a minute.
  Status failed(const httplib::Result& result) {
    client_.stop();
    const auto error = result.error();
    const StatusCode code = error == httplib::Error::Read || error == httplib::Error::ConnectionTimeout
                                ? StatusCode::kTimeout
                                : StatusCode::kTransportError;
    return {code, fmt::format("{}: {}", target_, httplib::to_string(error))};
  }

  std::string target_;
  httplib::Client client_;
  std::map<std::string, ModelNames, std::less<>> names_;
  std::string body_;  // the last reply's body: Reply::payload points into it
};

}  // namespace

core::Result<std::unique_ptr<ClientConnection>> connect_http(const std::string& target) {
  auto endpoint = parse_endpoint(target, EndpointUse::kConnect);
  if (!endpoint.ok()) return endpoint.status();
  return std::unique_ptr<ClientConnection>(
      std::make_unique<HttpConnection>(target, endpoint->host, std::stoi(endpoint->port)));
}

}  // namespace edgeserve::transport::http
