// JPEG input for the load generator: a JPEG file sent as it is, or a raw frame encoded with libjpeg-turbo.
#include <fmt/format.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>

#include "bench/input_source.h"

#ifdef EDGESERVE_HAVE_TURBOJPEG
#include <turbojpeg.h>
#endif

namespace edgeserve::bench {

namespace {

Input jpeg_of(std::vector<std::byte> bytes, std::string description) {
  Input in;
  in.kind = core::InputKind::kJpeg;
  in.dtype = core::DType::kUInt8;
  in.shape = core::TensorShape{static_cast<int64_t>(bytes.size())};
  in.bytes = std::move(bytes);
  in.description = std::move(description);
  return in;
}

bool is_jpeg(const std::vector<std::byte>& bytes) {
  return bytes.size() >= 4 && bytes[0] == std::byte{0xFF} && bytes[1] == std::byte{0xD8};
}

}  // namespace

core::Result<Input> encode_jpeg(const Input& raw, int quality) {
  if (raw.kind != core::InputKind::kRaw || raw.shape.rank() != 3 || raw.shape[2] != 3)
    return core::Status(core::StatusCode::kBadShape, "only a raw RGB frame [height,width,3] can be encoded as JPEG");
  if (quality < 1 || quality > 100)
    return core::Status(core::StatusCode::kInternal, fmt::format("JPEG quality must be 1..100, got {}", quality));
#ifdef EDGESERVE_HAVE_TURBOJPEG
  std::unique_ptr<void, int (*)(tjhandle)> tj(tjInitCompress(), &tjDestroy);
  if (!tj) return core::Status(core::StatusCode::kInternal, "TurboJPEG could not make a compressor");
  unsigned char* out = nullptr;
  unsigned long size = 0;
  const int w = static_cast<int>(raw.shape[1]), h = static_cast<int>(raw.shape[0]);
  const int rc = tjCompress2(tj.get(), reinterpret_cast<const unsigned char*>(raw.bytes.data()), w, 0, h, TJPF_RGB,
                             &out, &size, TJSAMP_420, quality, TJFLAG_ACCURATEDCT);
  std::unique_ptr<unsigned char, void (*)(unsigned char*)> owned(out, &tjFree);
  if (rc != 0)
    return core::Status(core::StatusCode::kInternal, fmt::format("JPEG encoding failed: {}", tjGetErrorStr2(tj.get())));
  std::vector<std::byte> bytes(size);
  std::memcpy(bytes.data(), out, size);
  return jpeg_of(std::move(bytes), fmt::format("{} as JPEG q{} ({} bytes)", raw.description, quality, size));
#else
  return core::Status(core::StatusCode::kInternal, "this build has no JPEG encoder (install libturbojpeg0-dev)");
#endif
}

core::Result<Input> jpeg_input(const std::filesystem::path& image, int quality) {
  std::ifstream file(image, std::ios::binary);
  if (!file) return core::Status(core::StatusCode::kInternal, fmt::format("cannot read {}", image.string()));
  const std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  std::vector<std::byte> bytes(text.size());
  std::memcpy(bytes.data(), text.data(), text.size());
  if (is_jpeg(bytes))
    return jpeg_of(std::move(bytes), fmt::format("JPEG {} ({} bytes)", image.filename().string(), text.size()));
  auto raw = load_image(image);  // another format: decoded, then encoded at `quality`
  if (!raw.ok()) return raw.status();
  return encode_jpeg(*raw, quality);
}

}  // namespace edgeserve::bench
