// What was built: the version and the git commit, baked in when CMake configured the build.
#pragma once

namespace edgeserve::core {

// "0.1.0"
const char* build_version();
// `git describe --always --dirty` at configure time ("cd0f083", "cd0f083-dirty"); "unknown" outside a git
// checkout. Re-run cmake (any commit on the branch does it) for a fresh value.
const char* build_commit();

}  // namespace edgeserve::core
