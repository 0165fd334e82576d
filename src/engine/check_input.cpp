// Validation of an inference input against the model's spec.
#include <fmt/format.h>

#include "engine/engine.h"

namespace edgeserve::engine {

using core::Status;
using core::StatusCode;

core::Status check_input(const ModelSpec& spec, const InferenceInput& input) {
  if (input.kind == core::InputKind::kPreprocessed) {
    if (input.dtype != spec.input.dtype)
      return {StatusCode::kBadDtype, fmt::format("model '{}' takes {} input, got {}", spec.name,
                                                 core::to_string(spec.input.dtype), core::to_string(input.dtype))};
    if (!(input.shape == spec.input.shape))
      return {StatusCode::kBadShape, fmt::format("model '{}' takes input of shape {}, got {}", spec.name,
                                                 spec.input.shape.to_string(), input.shape.to_string())};
    return {};
  }
  if (!spec.preprocess.enabled)
    return {StatusCode::kBadInputKind,
            fmt::format("model '{}' has no preprocessing: send its input tensor (preprocessed)", spec.name)};
  if (input.kind == core::InputKind::kJpeg) {
    // The frame's size is known only once its header is read (by the engine, which also checks it).
    if (input.dtype != core::DType::kUInt8 || input.shape.rank() != 1)
      return {StatusCode::kBadShape, fmt::format("JPEG input is the file's bytes, uint8 [bytes]; got {} {}",
                                                 core::to_string(input.dtype), input.shape.to_string())};
    return {};
  }
  if (input.dtype != core::DType::kUInt8)
    return {StatusCode::kBadDtype, fmt::format("raw images are uint8, got {}", core::to_string(input.dtype))};
  const auto& s = input.shape;
  if (s.rank() != 3 || s[2] != 3)
    return {StatusCode::kBadShape, fmt::format("raw images are [height,width,3] (HWC, RGB), got {}", s.to_string())};
  if (s[0] > kMaxRawImageSide || s[1] > kMaxRawImageSide)
    return {StatusCode::kBadShape,
            fmt::format("raw image {}x{} exceeds {} pixels per side", s[1], s[0], kMaxRawImageSide)};
  return {};
}

}  // namespace edgeserve::engine
