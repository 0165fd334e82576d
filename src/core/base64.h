// Base64 (RFC 4648, standard alphabet, padded) decoding, for the binary fields of JSON bodies (KServe's CUDA IPC
// handles).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace edgeserve::core {

// The bytes `encoded` encodes, line breaks and spaces skipped; nullopt for another character outside the alphabet, a
// length (without the skipped ones) that is not a multiple of 4, or padding anywhere but at the end.
std::optional<std::vector<std::byte>> base64_decode(std::string_view encoded);

}  // namespace edgeserve::core
