#include "transport/http/shared_memory_tensors.h"

#include <fmt/format.h>

#include <algorithm>

namespace edgeserve::transport::http {

using core::Status;
using core::StatusCode;

Status check_shared_outputs(const SharedMemoryRegions& regions, const std::vector<InferOutputAsk>& asks) {
  for (const auto& ask : asks) {
    if (!ask.shared_memory) continue;
    if (auto view = regions.view(*ask.shared_memory); !view.ok())
      return {view.status().code(), fmt::format("output {}: {}", ask.name.substr(0, 64), view.status().message())};
  }
  return {};
}

Status write_shared_outputs(const SharedMemoryRegions& regions, const core::ResponseHeader& header,
                            std::span<const std::byte> payload, const InferReplyForm& form) {
  size_t offset = 0;
  for (size_t i = 0; i < header.n_outputs; ++i) {
    const uint64_t bytes = core::tensor_bytes(header.outputs[i].shape, header.outputs[i].dtype).value_or(0);
    const size_t start = std::min(offset, payload.size());
    const auto part = payload.subspan(start, std::min<uint64_t>(bytes, payload.size() - start));
    offset += bytes;
    if (i >= form.shared_memory.size() || !form.shared_memory[i]) continue;
    auto view = regions.view(*form.shared_memory[i]);
    if (!view.ok()) return view.status();
    if (part.size() > view->byte_size)
      return {StatusCode::kInvalidArgument, fmt::format("output {} is {} bytes; its shared_memory_byte_size is {}",
                                                        form.names[i].substr(0, 64), part.size(), view->byte_size)};
    if (Status s = view->write(part); !s.ok()) return s;
  }
  return {};
}

}  // namespace edgeserve::transport::http
