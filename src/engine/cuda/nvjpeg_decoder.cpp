// The GPU JPEG decoder over nvJPEG's decoupled API (parse → host stage → copy to device → device stage), which
// lets a lane keep its own state and buffers and run the GPU stages on its own stream.
#include "engine/cuda/nvjpeg_decoder.h"

#include <fmt/format.h>
#include <nvjpeg.h>

#include <array>
#include <cstdlib>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <utility>

#include "core/clock.h"
#include "engine/cuda/cuda_resources.h"

namespace edgeserve::engine::cuda {

using core::Status;
using core::StatusCode;

namespace {

const char* name_of(nvjpegStatus_t s) {
  switch (s) {
    case NVJPEG_STATUS_SUCCESS:
      return "success";
    case NVJPEG_STATUS_NOT_INITIALIZED:
      return "not initialized";
    case NVJPEG_STATUS_INVALID_PARAMETER:
      return "invalid parameter";
    case NVJPEG_STATUS_BAD_JPEG:
      return "bad JPEG";
    case NVJPEG_STATUS_JPEG_NOT_SUPPORTED:
      return "JPEG not supported";
    case NVJPEG_STATUS_ALLOCATOR_FAILURE:
      return "allocator failure";
    case NVJPEG_STATUS_EXECUTION_FAILED:
      return "execution failed";
    case NVJPEG_STATUS_ARCH_MISMATCH:
      return "architecture mismatch";
    case NVJPEG_STATUS_INTERNAL_ERROR:
      return "internal error";
    case NVJPEG_STATUS_IMPLEMENTATION_NOT_SUPPORTED:
      return "implementation not supported";
    case NVJPEG_STATUS_INCOMPLETE_BITSTREAM:
      return "incomplete bitstream";
  }
  return "unknown status";
}

void check(nvjpegStatus_t s, const char* what) {
  if (s != NVJPEG_STATUS_SUCCESS) throw std::runtime_error(fmt::format("{}: {}", what, name_of(s)));
}

template <class T, nvjpegStatus_t (*Destroy)(T)>
struct Destroyer {
  void operator()(T h) const { Destroy(h); }
};
template <class T, nvjpegStatus_t (*Destroy)(T)>
using NvOwned = std::unique_ptr<std::remove_pointer_t<T>, Destroyer<T, Destroy>>;

// Buffers are sized for a 1080p 4:4:4 frame's DCT coefficients (2 bytes a sample) and bitstream, so frames up
// to that size never make nvJPEG allocate on the request path; larger ones grow them once.
constexpr size_t kPresizedBytes = 1920 * 1088 * 3 * 2;

// A truncated stream lacks the end-of-image marker. FF D9 cannot occur inside entropy-coded data (an FF there
// is followed by 00 or a restart marker), so finding it near the end means the scan ended; a few bytes of
// padding after it are allowed.
bool ends_with_eoi(std::span<const std::byte> jpeg) {
  constexpr size_t kTail = 32;
  const size_t from = jpeg.size() > kTail ? jpeg.size() - kTail : 0;
  for (size_t i = jpeg.size(); i-- > from + 1;)
    if (jpeg[i - 1] == std::byte{0xFF} && jpeg[i] == std::byte{0xD9}) return true;
  return false;
}

const unsigned char* bytes_of(std::span<const std::byte> jpeg) {
  return reinterpret_cast<const unsigned char*>(jpeg.data());
}

// The decoder's output: one interleaved RGB plane of info.width × 3 bytes a row, at `rgb`.
nvjpegImage_t interleaved_rgb(uint8_t* rgb, const JpegInfo& info) {
  nvjpegImage_t image{};
  image.channel[0] = rgb;
  image.pitch[0] = static_cast<size_t>(info.width) * 3;
  return image;
}

}  // namespace

struct NvjpegDecoder::State {
  // Declared in the order of creation, so they are destroyed the other way round: the states before the
  // buffers attached to them, everything before the handle.
  // The GPU's hardware JPEG engines (A100, H100, H200: NVJPG), through the batched API at batch 1; null where
  // the GPU has none or EDGESERVE_NVJPEG_HARDWARE=0. It takes baseline streams; the others go the hybrid way.
  NvOwned<nvjpegHandle_t, nvjpegDestroy> hw_handle;
  NvOwned<nvjpegJpegState_t, nvjpegJpegStateDestroy> hw_state;
  NvOwned<nvjpegJpegStream_t, nvjpegJpegStreamDestroy> hw_parsed;
  NvOwned<nvjpegHandle_t, nvjpegDestroy> handle;
  // Huffman decoding on the GPU (no per-image host work beyond parsing); the CPU one for streams it refuses.
  NvOwned<nvjpegJpegDecoder_t, nvjpegDecoderDestroy> gpu_decoder, cpu_decoder;
  std::array<NvOwned<nvjpegBufferPinned_t, nvjpegBufferPinnedDestroy>, 2> pinned;
  NvOwned<nvjpegBufferDevice_t, nvjpegBufferDeviceDestroy> device;
  std::array<NvOwned<nvjpegJpegStream_t, nvjpegJpegStreamDestroy>, 2> streams;  // parsed with pinned[i]
  NvOwned<nvjpegDecodeParams_t, nvjpegDecodeParamsDestroy> params;
  NvOwned<nvjpegJpegState_t, nvjpegJpegStateDestroy> gpu_state, cpu_state;
  std::array<Event, 2> pinned_free;  // recorded after the copy that read pinned[i] (and streams[i])
  std::array<Event, kSlots> begin, end;
  size_t next = 0;  // which of pinned/streams the next image takes
};

namespace {

// A handle on `backend` with the strictest flags it accepts; null with the status when it refuses all.
// Strict: a damaged bitstream is an error, as libjpeg-turbo's warnings are on the CPU path. Interpolated
// chroma upsampling is what libjpeg-turbo does too. A library that refuses a flag gets the next set (the
// end-of-image check still catches truncation without the strict mode).
std::pair<nvjpegHandle_t, nvjpegStatus_t> create_handle(nvjpegBackend_t backend) {
  nvjpegHandle_t handle = nullptr;
  nvjpegStatus_t created = NVJPEG_STATUS_NOT_INITIALIZED;
  for (const unsigned flags :
       std::array<unsigned, 3>{NVJPEG_FLAGS_BITSTREAM_STRICT | NVJPEG_FLAGS_UPSAMPLING_WITH_INTERPOLATION,
                               NVJPEG_FLAGS_BITSTREAM_STRICT, NVJPEG_FLAGS_DEFAULT}) {
    created = nvjpegCreateEx(backend, nullptr, nullptr, flags, &handle);
    if (created == NVJPEG_STATUS_SUCCESS) return {handle, created};
  }
  return {nullptr, created};
}

}  // namespace

NvjpegDecoder::NvjpegDecoder() : state_(std::make_unique<State>()) {
  State& s = *state_;
  if (const char* hw = std::getenv("EDGESERVE_NVJPEG_HARDWARE"); hw == nullptr || std::string_view(hw) != "0") {
    if (auto [h, created] = create_handle(NVJPEG_BACKEND_HARDWARE); created == NVJPEG_STATUS_SUCCESS) {
      s.hw_handle.reset(h);
      nvjpegJpegState_t st = nullptr;
      nvjpegJpegStream_t j = nullptr;
      if (nvjpegJpegStateCreate(h, &st) == NVJPEG_STATUS_SUCCESS) s.hw_state.reset(st);
      if (nvjpegJpegStreamCreate(h, &j) == NVJPEG_STATUS_SUCCESS) s.hw_parsed.reset(j);
      if (!s.hw_state || !s.hw_parsed ||
          nvjpegDecodeBatchedInitialize(h, st, 1, 1, NVJPEG_OUTPUT_RGBI) != NVJPEG_STATUS_SUCCESS) {
        s.hw_parsed.reset();
        s.hw_state.reset();
        s.hw_handle.reset();
      }
    }
  }
  auto [handle, created] = create_handle(NVJPEG_BACKEND_DEFAULT);
  check(created, "nvjpegCreateEx");
  s.handle.reset(handle);
  nvjpegJpegDecoder_t decoder = nullptr;
  check(nvjpegDecoderCreate(handle, NVJPEG_BACKEND_GPU_HYBRID, &decoder), "nvjpegDecoderCreate(GPU_HYBRID)");
  s.gpu_decoder.reset(decoder);
  check(nvjpegDecoderCreate(handle, NVJPEG_BACKEND_HYBRID, &decoder), "nvjpegDecoderCreate(HYBRID)");
  s.cpu_decoder.reset(decoder);
  for (auto& p : s.pinned) {
    nvjpegBufferPinned_t b = nullptr;
    check(nvjpegBufferPinnedCreate(handle, nullptr, &b), "nvjpegBufferPinnedCreate");
    p.reset(b);
    check(nvjpegBufferPinnedResize(b, kPresizedBytes, nullptr), "nvjpegBufferPinnedResize");
  }
  nvjpegBufferDevice_t device = nullptr;
  check(nvjpegBufferDeviceCreate(handle, nullptr, &device), "nvjpegBufferDeviceCreate");
  s.device.reset(device);
  check(nvjpegBufferDeviceResize(device, kPresizedBytes, nullptr), "nvjpegBufferDeviceResize");
  for (auto& js : s.streams) {
    nvjpegJpegStream_t j = nullptr;
    check(nvjpegJpegStreamCreate(handle, &j), "nvjpegJpegStreamCreate");
    js.reset(j);
  }
  nvjpegDecodeParams_t params = nullptr;
  check(nvjpegDecodeParamsCreate(handle, &params), "nvjpegDecodeParamsCreate");
  s.params.reset(params);
  check(nvjpegDecodeParamsSetOutputFormat(params, NVJPEG_OUTPUT_RGBI), "nvjpegDecodeParamsSetOutputFormat");
  for (auto [d, state] : {std::pair{s.gpu_decoder.get(), &s.gpu_state}, std::pair{s.cpu_decoder.get(), &s.cpu_state}}) {
    nvjpegJpegState_t st = nullptr;
    check(nvjpegDecoderStateCreate(handle, d, &st), "nvjpegDecoderStateCreate");
    state->reset(st);
    check(nvjpegStateAttachDeviceBuffer(st, device), "nvjpegStateAttachDeviceBuffer");
  }
  for (auto& e : s.pinned_free) {
    e = Event::create();
    check_cuda(cudaEventRecord(e.get(), nullptr), "cudaEventRecord");
  }
  for (size_t k = 0; k < kSlots; ++k) {
    s.begin[k] = Event::create();
    s.end[k] = Event::create();
  }
  check_cuda(cudaStreamSynchronize(nullptr), "cudaStreamSynchronize");  // the resizes above
}

NvjpegDecoder::~NvjpegDecoder() = default;
NvjpegDecoder::NvjpegDecoder(NvjpegDecoder&&) noexcept = default;
NvjpegDecoder& NvjpegDecoder::operator=(NvjpegDecoder&&) noexcept = default;

core::Result<JpegInfo> NvjpegDecoder::read_header(std::span<const std::byte> jpeg) {
  if (jpeg.size() < 4 || jpeg[0] != std::byte{0xFF} || jpeg[1] != std::byte{0xD8})
    return Status(
        StatusCode::kBadInputKind,
        fmt::format("input is not a JPEG (it does not start with the SOI marker FF D8; {} bytes)", jpeg.size()));
  int components = 0;
  nvjpegChromaSubsampling_t subsampling{};
  std::array<int, NVJPEG_MAX_COMPONENT> widths{}, heights{};
  if (const auto e = nvjpegGetImageInfo(state_->handle.get(), bytes_of(jpeg), jpeg.size(), &components, &subsampling,
                                        widths.data(), heights.data());
      e != NVJPEG_STATUS_SUCCESS)
    return Status(StatusCode::kBadInputKind, fmt::format("corrupt JPEG header: nvJPEG: {}", name_of(e)));
  const int width = widths[0], height = heights[0];
  if (width <= 0 || height <= 0 || width > kMaxJpegSide || height > kMaxJpegSide)
    return Status(StatusCode::kBadShape,
                  fmt::format("JPEG is {}x{}; each side must be 1..{} pixels", width, height, kMaxJpegSide));
  return JpegInfo{width, height};
}

Status NvjpegDecoder::decode_rgb(std::span<const std::byte> jpeg, const JpegInfo& info, uint8_t* rgb,
                                 cudaStream_t stream, size_t k) {
  State& s = *state_;
  auto corrupt = [&](const std::string& why) {
    return Status(StatusCode::kBadInputKind, fmt::format("corrupt or truncated JPEG ({}x{}, {} bytes): {}", info.width,
                                                         info.height, jpeg.size(), why));
  };
  // The caller's fault (kBadInputKind) or the GPU's (kInferenceFailed).
  auto failed = [&](const char* step, nvjpegStatus_t e) {
    if (e == NVJPEG_STATUS_BAD_JPEG || e == NVJPEG_STATUS_INCOMPLETE_BITSTREAM)
      return corrupt(fmt::format("nvJPEG {}: {}", step, name_of(e)));
    if (e == NVJPEG_STATUS_JPEG_NOT_SUPPORTED)
      return Status(StatusCode::kBadInputKind, fmt::format("this JPEG's encoding is not supported by nvJPEG ({}x{}, "
                                                           "{} bytes): serve with --jpeg-decoder cpu",
                                                           info.width, info.height, jpeg.size()));
    return Status(StatusCode::kInferenceFailed, fmt::format("nvJPEG {}: {}", step, name_of(e)));
  };
  if (k >= kSlots) return {StatusCode::kInternal, fmt::format("nvJPEG slot {} of {}", k, kSlots)};
  if (!ends_with_eoi(jpeg)) return corrupt("no end-of-image marker");
  if (s.hw_handle) {
    // The hardware engines: one call, queued on the stream (the bitstream is copied before it returns).
    int unsupported = 1;
    if (nvjpegJpegStreamParse(s.hw_handle.get(), bytes_of(jpeg), jpeg.size(), 0, 0, s.hw_parsed.get()) ==
            NVJPEG_STATUS_SUCCESS &&
        nvjpegDecodeBatchedSupported(s.hw_handle.get(), s.hw_parsed.get(), &unsupported) == NVJPEG_STATUS_SUCCESS &&
        unsupported == 0) {
      const unsigned char* data = bytes_of(jpeg);
      const size_t length = jpeg.size();
      nvjpegImage_t destination = interleaved_rgb(rgb, info);
      cudaEventRecord(s.begin[k].get(), stream);
      if (auto e = nvjpegDecodeBatched(s.hw_handle.get(), s.hw_state.get(), &data, &length, &destination, stream);
          e != NVJPEG_STATUS_SUCCESS)
        return failed("hardware decode", e);
      cudaEventRecord(s.end[k].get(), stream);
      return {};
    }
  }
  // Two pinned buffers (and parsed streams) in turn: the host stage of this image fills one while the copy of
  // the one before may still read the other; the copy of two images ago must be done before its turn comes.
  const size_t i = s.next;
  s.next ^= 1;
  if (const cudaError_t e = cudaEventSynchronize(s.pinned_free[i].get()); e != cudaSuccess)
    return {StatusCode::kInferenceFailed, fmt::format("nvJPEG buffer wait: {}", cudaGetErrorString(e))};
  nvjpegJpegStream_t parsed = s.streams[i].get();
  if (auto e = nvjpegJpegStreamParse(s.handle.get(), bytes_of(jpeg), jpeg.size(), 0, 0, parsed);
      e != NVJPEG_STATUS_SUCCESS)
    return failed("parse", e);
  unsigned width = 0, height = 0;
  nvjpegJpegStreamGetFrameDimensions(parsed, &width, &height);
  if (static_cast<int>(width) != info.width || static_cast<int>(height) != info.height)
    return corrupt(fmt::format("its frame is {}x{} past the header", width, height));
  int unsupported = 1;
  nvjpegDecoderJpegSupported(s.gpu_decoder.get(), parsed, s.params.get(), &unsupported);
  nvjpegJpegDecoder_t decoder = unsupported == 0 ? s.gpu_decoder.get() : s.cpu_decoder.get();
  nvjpegJpegState_t state = unsupported == 0 ? s.gpu_state.get() : s.cpu_state.get();

  if (auto e = nvjpegStateAttachPinnedBuffer(state, s.pinned[i].get()); e != NVJPEG_STATUS_SUCCESS)
    return failed("attach", e);
  if (auto e = nvjpegDecodeJpegHost(s.handle.get(), decoder, state, s.params.get(), parsed); e != NVJPEG_STATUS_SUCCESS)
    return failed("host stage", e);
  cudaEventRecord(s.begin[k].get(), stream);
  if (auto e = nvjpegDecodeJpegTransferToDevice(s.handle.get(), decoder, state, parsed, stream);
      e != NVJPEG_STATUS_SUCCESS)
    return failed("copy to device", e);
  cudaEventRecord(s.pinned_free[i].get(), stream);
  nvjpegImage_t destination = interleaved_rgb(rgb, info);
  if (auto e = nvjpegDecodeJpegDevice(s.handle.get(), decoder, state, &destination, stream); e != NVJPEG_STATUS_SUCCESS)
    return failed("device stage", e);
  cudaEventRecord(s.end[k].get(), stream);
  return {};
}

const char* NvjpegDecoder::backend() const {
  return state_->hw_handle ? "the GPU's hardware JPEG engines (baseline streams; others GPU-hybrid)"
                           : "GPU-hybrid (Huffman decoding on the GPU)";
}

uint64_t NvjpegDecoder::gpu_ns(size_t k) const {
  return k < kSlots ? Event::elapsed_ns(state_->begin[k], state_->end[k]) : 0;
}

}  // namespace edgeserve::engine::cuda
