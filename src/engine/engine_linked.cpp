// Built with EDGESERVE_ENGINE_MODULE=OFF, the binary links libtorch itself (engine/engine_module.h says what the
// module saves when it is on).
#include "engine/engine_module.h"

namespace edgeserve::engine {

std::string libtorch_origin() { return "linked into the binary: EDGESERVE_ENGINE_MODULE=OFF"; }

}  // namespace edgeserve::engine
