// What the load generator sends: a raw image (decoded from a file, or a synthetic camera-like frame), a JPEG
// (a file, or a raw frame encoded) or a preprocessed tensor of the model's input shape. Made once, sent unchanged by
// every request.
#pragma once

#include <cstddef>
#include <filesystem>
#include <vector>

#include "core/status.h"
#include "core/tensor_spec.h"
#include "core/wire.h"

namespace edgeserve::bench {

struct Input {
  core::InputKind kind = core::InputKind::kRaw;
  core::DType dtype = core::DType::kUInt8;
  core::TensorShape shape;
  std::vector<std::byte> bytes;
  std::string description;  // "image photo.jpg 1280x720" / "synthetic 640x480 frame" / "float32 [1,3,224,224]"
};

// Decodes a JPEG/PNG/BMP/... file to RGB uint8 HWC (stb_image).
core::Result<Input> load_image(const std::filesystem::path& path);

// A deterministic camera-like RGB frame (smooth gradients plus texture), so JPEG-free runs still send
// realistic bytes.
Input synthetic_image(int width, int height);

// A raw RGB frame encoded as JPEG at `quality` (1..100, 4:2:0, libjpeg-turbo): what a camera would send.
core::Result<Input> encode_jpeg(const Input& raw, int quality);
// `image` as JPEG input: a JPEG file is sent byte for byte; any other format is decoded and encoded at `quality`.
core::Result<Input> jpeg_input(const std::filesystem::path& image, int quality);

// A deterministic float32 or float16 tensor of `shape`, values roughly like normalized image data.
Input preprocessed_tensor(const core::TensorShape& shape, core::DType dtype = core::DType::kFloat32);

}  // namespace edgeserve::bench
