// KServe's system shared memory extension on the http:// listener: the register / status / unregister endpoints,
// and infer requests whose input or outputs live in a registered region.
#pragma once

#include <httplib.h>

#include <span>

#include "core/status.h"
#include "core/wire.h"
#include "transport/http/kserve_request.h"
#include "transport/http/kserve_response.h"
#include "transport/http/shared_memory_regions.h"

namespace edgeserve::transport::http {

// POST /v2/systemsharedmemory/region/{name}/register {"key", "offset", "byte_size"}, POST .../region/{name}/unregister,
// POST /v2/systemsharedmemory/unregister (all), GET /v2/systemsharedmemory[/region/{name}]/status.
void add_shared_memory_routes(httplib::Server& server, SharedMemoryRegions& regions);

// Checks, before the request runs, that every output asked into shared memory names a registered region and a
// range inside it.
core::Status check_shared_outputs(const SharedMemoryRegions& regions, const std::vector<InferOutputAsk>& asks);

// Writes each output `form` places in shared memory into its region (kInvalidArgument when it does not fit, or the
// region went meanwhile). `payload`: the outputs' bytes in order, as the reply header describes them.
core::Status write_shared_outputs(const SharedMemoryRegions& regions, const core::ResponseHeader& header,
                                  std::span<const std::byte> payload, const InferReplyForm& form);

}  // namespace edgeserve::transport::http
