// The CPU JPEG decoder over TurboJPEG (libjpeg-turbo 2.x API).
#include "engine/jpeg_decoder.h"

#include <fmt/format.h>

#ifdef EDGESERVE_HAVE_TURBOJPEG
#include <turbojpeg.h>
#endif

namespace edgeserve::engine {

using core::Status;
using core::StatusCode;

#ifdef EDGESERVE_HAVE_TURBOJPEG

struct JpegDecoder::Handle {
  tjhandle tj = tjInitDecompress();
  ~Handle() {
    if (tj) tjDestroy(tj);
  }
};

JpegDecoder::JpegDecoder() : handle_(std::make_unique<Handle>()) {}

namespace {
const unsigned char* bytes_of(std::span<const std::byte> jpeg) {
  return reinterpret_cast<const unsigned char*>(jpeg.data());
}
}  // namespace

core::Result<JpegInfo> JpegDecoder::read_header(std::span<const std::byte> jpeg) {
  if (!handle_->tj) return Status(StatusCode::kInternal, "TurboJPEG could not make a decompressor");
  if (jpeg.size() < 4 || jpeg[0] != std::byte{0xFF} || jpeg[1] != std::byte{0xD8})
    return Status(
        StatusCode::kBadInputKind,
        fmt::format("input is not a JPEG (it does not start with the SOI marker FF D8; {} bytes)", jpeg.size()));
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(handle_->tj, bytes_of(jpeg), static_cast<unsigned long>(jpeg.size()), &width, &height,
                          &subsampling, &colorspace) != 0)
    return Status(StatusCode::kBadInputKind, fmt::format("corrupt JPEG header: {}", tjGetErrorStr2(handle_->tj)));
  if (width <= 0 || height <= 0 || width > kMaxJpegSide || height > kMaxJpegSide)
    return Status(StatusCode::kBadShape,
                  fmt::format("JPEG is {}x{}; each side must be 1..{} pixels", width, height, kMaxJpegSide));
  return JpegInfo{width, height};
}

Status JpegDecoder::decode_rgb(std::span<const std::byte> jpeg, const JpegInfo& info, std::span<std::byte> rgb) {
  const size_t needed = static_cast<size_t>(info.width) * static_cast<size_t>(info.height) * 3;
  if (rgb.size() != needed)
    return {StatusCode::kInternal, fmt::format("JPEG output buffer is {} bytes, {} needed", rgb.size(), needed)};
  if (tjDecompress2(handle_->tj, bytes_of(jpeg), static_cast<unsigned long>(jpeg.size()),
                    reinterpret_cast<unsigned char*>(rgb.data()), info.width, 0, info.height, TJPF_RGB,
                    TJFLAG_STOPONWARNING) != 0)
    return {StatusCode::kBadInputKind, fmt::format("corrupt or truncated JPEG ({}x{}, {} bytes): {}", info.width,
                                                   info.height, jpeg.size(), tjGetErrorStr2(handle_->tj))};
  return {};
}

bool jpeg_decoder_built() { return true; }

#else  // no libturbojpeg at configure time

struct JpegDecoder::Handle {};
JpegDecoder::JpegDecoder() = default;

core::Result<JpegInfo> JpegDecoder::read_header(std::span<const std::byte>) {
  return Status(StatusCode::kBadInputKind, "this server was built without a JPEG decoder (libturbojpeg0-dev)");
}

Status JpegDecoder::decode_rgb(std::span<const std::byte>, const JpegInfo&, std::span<std::byte>) {
  return {StatusCode::kBadInputKind, "this server was built without a JPEG decoder (libturbojpeg0-dev)"};
}

bool jpeg_decoder_built() { return false; }

#endif

JpegDecoder::~JpegDecoder() = default;
JpegDecoder::JpegDecoder(JpegDecoder&&) noexcept = default;
JpegDecoder& JpegDecoder::operator=(JpegDecoder&&) noexcept = default;

}  // namespace edgeserve::engine
