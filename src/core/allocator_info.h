// Which malloc this process runs on, read at run time (a build may link gperftools' tcmalloc, a user may
// LD_PRELOAD another): results record it, because a client that receives replies over 32 MB pays a page
// fault per 4 KiB of every reply under glibc's malloc (README, "Memory allocator").
#pragma once

#include <string>

namespace edgeserve::core {

// "gperftools 2.10 (tcmalloc)", "jemalloc", "AddressSanitizer", "ThreadSanitizer", "glibc 2.36 malloc", or the
// file that defines malloc.
std::string allocator_name();

}  // namespace edgeserve::core
