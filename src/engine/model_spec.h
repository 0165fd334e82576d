// What a model expects and returns, as read from a model repository's manifest.json.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/tensor_spec.h"
#include "core/wire.h"

namespace edgeserve::engine {

// Raw uint8 HWC image → bilinear resize to (height, width) → /255 → (x - mean) / std → CHW float.
struct PreprocessSpec {
  bool enabled = false;
  int64_t height = 0, width = 0;
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};  // ImageNet
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};
};

// Dynamic batching (manifest "batching", overridden by `serve` flags). A batch closes when it holds
// max_batch_size requests, when its oldest request has waited max_queue_delay_us, when the oldest would miss
// latency_budget_us by the time a batch of this size takes to run, or at once when the queue is idle.
inline constexpr int kMaxBatchSize = 32;  // the largest CUDA graph bucket
struct BatchingSpec {
  int max_batch_size = 1;  // 1: no batching
  uint64_t max_queue_delay_us = 0;
  uint64_t latency_budget_us = 0;  // 0: none
};

struct ModelSpec {
  std::string name;
  std::filesystem::path file;  // absolute, resolved against the manifest's folder
  std::string task;
  core::TensorSpec input;
  PreprocessSpec preprocess;
  std::vector<core::TensorSpec> outputs;  // empty until known: the engine fills it from a warm-up pass
  bool channels_last = false;             // the model was exported for NHWC ("memory_format": "channels_last")
  BatchingSpec batching;
  // The manifest's "reply": what a request that leaves its output choice open gets (engine/output_choice.h).
  core::OutputChoice reply;

  uint64_t input_bytes() const;
  uint64_t output_bytes() const;  // all outputs in the dtype the model makes them, concatenated
  // The most one reply can take without topk: every output at its own dtype or float32, whichever is larger.
  uint64_t max_reply_bytes() const;
};

// Reads DIR/manifest.json (format 1, see tools/README.md). Errors name the file and the field.
core::Result<std::vector<ModelSpec>> load_manifest(const std::filesystem::path& repo_dir);
// load_manifest without the disk: parses the text of repo_dir/manifest.json (errors name that file).
core::Result<std::vector<ModelSpec>> parse_manifest(std::string_view json_text, const std::filesystem::path& repo_dir);

}  // namespace edgeserve::engine
