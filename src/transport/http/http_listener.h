// The http:// listener: KServe v2 REST (the Open Inference Protocol's HTTP side) on cpp-httplib. Each request is
// decoded on one of httplib's connection threads into a Delivery for the server's pipeline; that thread waits for
// the reply and writes it in the form the client asked for (JSON or binary tensors).
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "transport/http/http_settings.h"
#include "transport/listener.h"

namespace edgeserve::transport::http {

// Binds "http://IP:PORT" (resolved; port 0 picks one). `models`: what the metadata endpoints describe and how
// input and output names map onto the models; null (a gateway) serves infer without the name checks and answers
// the metadata endpoints 404.
core::Result<std::unique_ptr<Listener>> bind_http_listener(const std::string& uri, const ListenOptions& options,
                                                           std::shared_ptr<const HttpServerSettings> models);

}  // namespace edgeserve::transport::http
