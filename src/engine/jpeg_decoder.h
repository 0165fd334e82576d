// JPEG → RGB pixels on the CPU with libjpeg-turbo (its TurboJPEG API): the fallback for JPEG input where no
// GPU decoder runs, and the reference the GPU path is checked against. No torch here: the fuzzer links it.
#pragma once

#include <cstddef>
#include <memory>
#include <span>

#include "core/status.h"

namespace edgeserve::engine {

struct JpegInfo {
  int width = 0, height = 0;
};

// Largest decoded side accepted (as for raw frames): a header declaring more is refused before any allocation.
inline constexpr int kMaxJpegSide = 8192;

// One TurboJPEG handle: used by one thread at a time (the CPU engine keeps one per worker thread).
class JpegDecoder {
 public:
  JpegDecoder();
  ~JpegDecoder();
  JpegDecoder(JpegDecoder&&) noexcept;
  JpegDecoder& operator=(JpegDecoder&&) noexcept;

  // The frame's size, from its header. Errors (bad-input): not a JPEG, a corrupt header, a side over the limit.
  core::Result<JpegInfo> read_header(std::span<const std::byte> jpeg);
  // Decodes into `rgb`, which holds exactly height × width × 3 bytes (HWC). Corrupt or truncated data is an
  // error, never a partly grey image: libjpeg-turbo's warnings count as errors here.
  core::Status decode_rgb(std::span<const std::byte> jpeg, const JpegInfo& info, std::span<std::byte> rgb);

 private:
  struct Handle;
  std::unique_ptr<Handle> handle_;
};

// Whether this build has the decoder (libturbojpeg found at configure time); without it JPEG input is refused.
bool jpeg_decoder_built();

}  // namespace edgeserve::engine
