// The values come from compile definitions set by src/CMakeLists.txt for this file only.
#include "core/build_info.h"

#ifndef EDGESERVE_BUILD_VERSION
#define EDGESERVE_BUILD_VERSION "unknown"
#endif
#ifndef EDGESERVE_BUILD_COMMIT
#define EDGESERVE_BUILD_COMMIT "unknown"
#endif

namespace edgeserve::core {

const char* build_version() { return EDGESERVE_BUILD_VERSION; }
const char* build_commit() { return EDGESERVE_BUILD_COMMIT; }

}  // namespace edgeserve::core
