// KServe's system and CUDA shared memory extensions on the http:// listener: the register / status / unregister
// endpoints (infer tensors in regions: shared_memory_tensors.h).
#pragma once

#include <httplib.h>

#include "transport/http/shared_memory_regions.h"

namespace edgeserve::transport::http {

// POST /v2/systemsharedmemory/region/{name}/register {"key", "offset", "byte_size"}, POST .../region/{name}/unregister,
// POST /v2/systemsharedmemory/unregister (all), GET /v2/systemsharedmemory[/region/{name}]/status; the same under
// /v2/cudasharedmemory, whose register body is {"raw_handle": {"b64"}, "device_id", "byte_size"}.
void add_shared_memory_routes(httplib::Server& server, SharedMemoryRegions& regions);

}  // namespace edgeserve::transport::http
