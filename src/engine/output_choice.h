// Which outputs a request gets back, in what dtype and after which postprocessing: the request's choice with
// the model's manifest defaults filled in, and the shapes and dtypes that follow from it. No torch here: the
// pipeline and the engines use the same answer.
#pragma once

#include <array>
#include <cstdint>

#include "core/status.h"
#include "core/wire.h"
#include "engine/model_spec.h"

namespace edgeserve::engine {

struct ResolvedOutputs {
  core::OutputChoice choice;  // settled: select != 0, postprocess != kDefault
  uint8_t n_outputs = 0;      // what the reply carries, in order (topk: ids then scores, per chosen output)
  std::array<core::OutputDesc, core::kMaxOutputs> outputs{};
  uint64_t payload_bytes = 0;
  // Whether the reply is the model's outputs exactly as it makes them (nothing to convert or compute).
  bool as_made = false;
};

// Errors (kBadShape, kBadDtype) say what the model has and what was asked. `spec.outputs` must be settled.
core::Result<ResolvedOutputs> resolve_output_choice(const ModelSpec& spec, const core::OutputChoice& asked);

// Argmax answers uint8 class ids up to this many classes, int32 beyond.
inline constexpr int64_t kMaxUint8Classes = 256;

}  // namespace edgeserve::engine
