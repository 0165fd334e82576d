// UCX transport, server side: the helpers a client's slot needs.
#include "transport/ucx/ucx_peer.h"

namespace edgeserve::transport::ucx {

using core::Status;
using core::StatusCode;

// "127.0.0.1:51234" of the client asking to connect, for log lines; "?" when UCX cannot say.
std::string client_address(ucp_conn_request_h request) {
  ucp_conn_request_attr_t attr{};
  attr.field_mask = UCP_CONN_REQUEST_ATTR_FIELD_CLIENT_ADDR;
  return ucp_conn_request_query(request, &attr) == UCS_OK ? address_text(attr.client_address) : "?";
}

// Landing (of the kind asked) or reply memory from the server's allocator; plain host memory without one.
core::Result<std::unique_ptr<core::MemoryBuffer>> allocate(const UcxListenerOptions& options, size_t bytes,
                                                           core::MemoryKind kind) {
  if (options.allocate) return options.allocate(bytes, kind);
  if (kind == core::MemoryKind::kCuda) return Status(StatusCode::kInternal, "no allocator for GPU landing memory");
  return core::allocate_host_memory(bytes);
}

}  // namespace edgeserve::transport::ucx
