// ucx's own settings, made by cli/ and carried opaquely (transport_settings.h) to the ucx transport.
#pragma once

#include <string>

#include "core/memory_buffer.h"
#include "transport/transport_settings.h"

namespace edgeserve::transport::ucx {

// Listeners: where request payloads land. kHost is the paper's RDMA (a copy to the GPU follows), kCuda its GDR
// (GPU memory registered with UCX; needs models on a GPU and a CUDA-aware UCX).
struct UcxServerSettings final : SchemeSettings {
  explicit UcxServerSettings(core::MemoryKind l) : landing(l) {}
  std::string what() const override { return "--landing memory"; }
  core::MemoryKind landing;
};

}  // namespace edgeserve::transport::ucx
