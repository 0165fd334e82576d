// The Engine interface: one loaded model that turns a validated input into output bytes. No torch here,
// so the layers above compile without torch headers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "core/memory_buffer.h"
#include "core/status.h"
#include "core/tensor_spec.h"
#include "core/wire.h"
#include "engine/model_spec.h"
#include "engine/output_choice.h"

namespace edgeserve::engine {

struct InferenceInput {
  core::InputKind kind = core::InputKind::kPreprocessed;
  core::DType dtype = core::DType::kFloat32;
  core::TensorShape shape;
  std::span<const std::byte> data;
  bool on_device = false;  // `data` is in the engine's GPU memory already: no host→device copy
};

// Bytes placed in an engine's device memory (freed with the object).
class DeviceBytes {
 public:
  virtual ~DeviceBytes() = default;
  virtual std::span<const std::byte> bytes() const = 0;
};

// Which execution context runs a request: a lane is one CUDA stream with its own buffers and CUDA graph
// (on CPU there is one lane, shared by every caller). A lane is used by one thread at a time.
struct RunContext {
  int lane = 0;
  bool high_priority = false;  // on GPU: the lane's high-priority stream
};

struct StageDurations {
  uint64_t copy_ns = 0;
  uint64_t decode_ns = 0;  // JPEG → pixels
  uint64_t preprocess_ns = 0;
  uint64_t inference_ns = 0;    // in a batch: the batch's forward pass, which every request of it waited for
  uint64_t postprocess_ns = 0;  // dtype conversion, argmax, topk (0 when the outputs leave as the model made them)
};

// What one request gets back: the outputs concatenated in order, in memory the engine took from its reply pool
// (pinned for a GPU engine, so the device-to-host copy lands in it directly) or the CPU output tensor itself.
// Whoever sends the reply owns `payload` until its bytes have left.
struct InferenceOutput {
  std::unique_ptr<core::MemoryBuffer> payload;
  uint8_t n_outputs = 0;
  std::array<core::OutputDesc, core::kMaxOutputs> outputs{};
};

// One request of a batch: its input, what it asked back (each request of a batch keeps its own output choice),
// what it got, and what became of it. A failed request (a corrupt JPEG) fails alone: the others still run.
struct BatchItem {
  InferenceInput input;
  const ResolvedOutputs* outputs = nullptr;  // resolved against spec(); outlives the run
  InferenceOutput out;
  StageDurations durations;
  core::Status status;
};

inline constexpr int64_t kMaxRawImageSide = 8192;

// Checks an input against the model: preprocessed input must be the model's input tensor exactly; raw
// input must be a uint8 HWC image with 3 channels, each side 1..kMaxRawImageSide, and the model must
// declare preprocessing. The message says what was expected and what arrived.
core::Status check_input(const ModelSpec& spec, const InferenceInput& input);

class Engine {
 public:
  virtual ~Engine() = default;
  // Outputs are always filled in: the engine discovers them with a warm-up pass when the manifest has none.
  virtual const ModelSpec& spec() const = 0;
  virtual std::string device() const = 0;
  // How the forward pass runs: "eager", "cuda-graph", or "eager (cuda graph capture failed: ...)".
  virtual std::string execution_mode() const = 0;
  // Lanes that may run at the same time, each from its own thread (CPU: 1, callable from any thread).
  virtual int lanes() const = 0;
  // Device memory in use on the engine's GPU (0 on CPU).
  virtual uint64_t device_memory_bytes() const { return 0; }
  // Copies `host` into the engine's device memory once, for inputs that already live on the GPU (the
  // `local` lower bound on a GPU; later, GPUDirect landing). CPU engines have no device memory.
  virtual core::Result<std::unique_ptr<DeviceBytes>> copy_to_device(std::span<const std::byte> /*host*/) const {
    return core::Status(core::StatusCode::kInternal, "this engine runs on the CPU: it has no device memory");
  }
  // Runs preprocessing (raw input), the forward pass and the postprocessing `outputs` asks for (from
  // resolve_output_choice against this spec()); fills `out` with exactly `outputs`. Input must have passed
  // check_input.
  virtual core::Status run(const InferenceInput& input, const ResolvedOutputs& outputs, InferenceOutput& out,
                           StageDurations& durations, const RunContext& context) = 0;
  // The largest batch run_batch takes: the manifest's (or serve's) max_batch_size, or 1 when the model's batch
  // dimension is fixed (found at load, and said in the log).
  virtual int max_batch() const { return 1; }
  // Who decodes JPEG input, for the load log: "nvJPEG (GPU)" or "libjpeg-turbo (CPU)".
  virtual std::string jpeg_decoder() const;
  // Runs up to max_batch() requests as one forward pass, then each request's own postprocessing, setting each
  // item's output, status and durations. The default runs them one by one.
  virtual void run_batch(std::span<BatchItem> items, const RunContext& context) {
    for (auto& item : items) item.status = run(item.input, *item.outputs, item.out, item.durations, context);
  }
};

// Where a GPU engine decodes JPEG input: auto is nvJPEG when the build has it, else libjpeg-turbo on the CPU; gpu
// insists on nvJPEG (load fails without it, and on a CPU device); cpu is libjpeg-turbo. CPU engines always use
// libjpeg-turbo.
enum class JpegDecode { kAuto, kCpu, kGpu };

struct EngineOptions {
  std::string device = "cpu";  // cpu or cuda:N
  int lanes = 1;               // GPU: CUDA streams with their own buffers and graph (the server's workers)
  bool cuda_graphs = true;     // GPU: capture the forward pass once per lane and replay it
  // Reply blocks made at load (pinned on a GPU), each as large as the model's largest answer; 0: 2 per lane + 2.
  // When all are out, a reply allocates its own memory (logged): see core/buffer_pool.h.
  int reply_buffers = 0;
  // Overrides of the manifest's batching (serve flags); unset fields keep the manifest's values.
  std::optional<int> max_batch_size;
  std::optional<uint64_t> max_queue_delay_us, latency_budget_us;
  JpegDecode jpeg_decode = JpegDecode::kAuto;
};

// Loads a TorchScript model once, on the CPU or (in builds with CUDA) a GPU. The engine files are the
// only ones that include torch.
core::Result<std::unique_ptr<Engine>> load_engine(ModelSpec spec, const EngineOptions& options);

// Intra-op threads of libtorch's CPU kernels, process-wide; 0 leaves libtorch's default.
void set_torch_threads(int intra_op_threads);

// "libtorch 1.13.1" — for `edgeserve info`.
std::string torch_version();
bool cuda_available();
// The CUDA runtime the GPU engine runs on ("12.4"); "" when the GPU engine is not built.
std::string cuda_runtime_version();
// Whether this build has the GPU engine (lanes, pinned buffers, fused preprocessing, CUDA graphs).
bool gpu_engine_built();
// Whether the GPU engine of this build can decode JPEGs with nvJPEG (found at configure time).
bool nvjpeg_built();

}  // namespace edgeserve::engine
