// Fuzzes the parsing of a model repository's manifest.json (engine::parse_manifest, what load_manifest runs).
//
// Beyond "no crash, no UB" it checks what the engine relies on for every model it accepts: a named model whose input
// and outputs have valid shapes, at most kMaxOutputs outputs, and a [1,3,H,W] input when preprocessing is on.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/wire.h"
#include "engine/model_spec.h"
#include "require.h"

using namespace edgeserve;

using edgeserve::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto specs = engine::parse_manifest(text, "/repo");
  if (!specs.ok()) {
    require(specs.status().message().starts_with("/repo/manifest.json: "));
    return 0;
  }
  for (const auto& spec : *specs) {
    require(!spec.name.empty() && spec.name.size() <= core::kMaxModelNameBytes);
    require(spec.input.shape.numel().has_value() && spec.input_bytes() > 0);
    require(spec.outputs.size() <= core::kMaxOutputs);
    for (const auto& o : spec.outputs) require(o.shape.numel().has_value());
    if (spec.preprocess.enabled)
      require(spec.input.shape.rank() == 4 && spec.input.shape[0] == 1 && spec.input.shape[1] == 3 &&
              spec.preprocess.height > 0 && spec.preprocess.width > 0);
  }
  return 0;
}
