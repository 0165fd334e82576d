// Fuzzes the server's JPEG decoder (libjpeg-turbo behind engine/jpeg_decoder.h) on whatever bytes a client sends
// as JPEG input: read_header, then decode_rgb into a buffer of exactly the size the header declared.
//
// Beyond "no crash, no UB": every failure says why, and a header that decodes is within the side limit. Frames
// over 4096x4096 are not decoded here (the server decodes up to 8192 per side; above 4096 the run would spend
// its time in a few huge frames rather than in the parser).
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "engine/jpeg_decoder.h"
#include "require.h"

using edgeserve::fuzz::require;
using namespace edgeserve::engine;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static JpegDecoder decoder;  // one handle across runs, as a server worker keeps one
  const std::span<const std::byte> jpeg(reinterpret_cast<const std::byte*>(data), size);
  auto info = decoder.read_header(jpeg);
  if (!info.ok()) {
    require(!info.status().message().empty());
    return 0;
  }
  require(info->width > 0 && info->height > 0 && info->width <= kMaxJpegSide && info->height <= kMaxJpegSide);
  if (static_cast<int64_t>(info->width) * info->height > 4096 * 4096) return 0;
  std::vector<std::byte> rgb(static_cast<size_t>(info->width) * static_cast<size_t>(info->height) * 3);
  const auto decoded = decoder.decode_rgb(jpeg, *info, rgb);
  require(decoded.ok() || !decoded.message().empty());
  // A buffer of the wrong size is refused, never written past.
  std::vector<std::byte> small(rgb.size() - 1);
  require(!decoder.decode_rgb(jpeg, *info, small).ok());
  return 0;
}
