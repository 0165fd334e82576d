// What the UCX in use can do, for `edgeserve info` (no UCX headers here: the CLI does not see them).
#pragma once

#include <string>

namespace edgeserve::transport::ucx {

// "UCX 1.22.0, can land requests in GPU memory", or why UCX cannot start.
std::string describe();

}  // namespace edgeserve::transport::ucx
