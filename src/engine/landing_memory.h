// Memory that requests land in (transport/ucx), allocated to suit the engine that will read them: CUDA-pinned
// host memory for a GPU engine (so the host→device copy runs at full speed), device memory for GPUDirect
// landing, plain page-aligned memory for a CPU engine. No torch and no CUDA headers here.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "core/memory_buffer.h"
#include "core/status.h"

namespace edgeserve::engine {

// `device` is the engine's: "cpu" or "cuda:N". kCuda on "cpu" is an error that says so.
core::Result<std::unique_ptr<core::MemoryBuffer>> allocate_landing_memory(core::MemoryKind kind,
                                                                          const std::string& device, size_t bytes);

}  // namespace edgeserve::engine
