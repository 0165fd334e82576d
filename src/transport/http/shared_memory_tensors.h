// Infer tensors in KServe shared memory regions (system or CUDA), on http:// and grpc:// alike: outputs checked before
// a request runs and written into their regions after.
#pragma once

#include <span>
#include <vector>

#include "core/status.h"
#include "core/wire.h"
#include "transport/http/kserve_request.h"
#include "transport/http/kserve_response.h"
#include "transport/http/shared_memory_regions.h"

namespace edgeserve::transport::http {

// Checks, before the request runs, that every output asked into shared memory names a registered region and a
// range inside it.
core::Status check_shared_outputs(const SharedMemoryRegions& regions, const std::vector<InferOutputAsk>& asks);

// Writes each output `form` places in shared memory into its region (kInvalidArgument when it does not fit, or the
// region went meanwhile). `payload`: the outputs' bytes in order, as the reply header describes them.
core::Status write_shared_outputs(const SharedMemoryRegions& regions, const core::ResponseHeader& header,
                                  std::span<const std::byte> payload, const InferReplyForm& form);

}  // namespace edgeserve::transport::http
