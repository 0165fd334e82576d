// Element types and tensor shapes: sizes, names, validation.
#include "core/tensor_spec.h"

#include <limits>

namespace edgeserve::core {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kUInt8:
      return 1;
    case DType::kFloat32:
      return 4;
    case DType::kFloat16:
      return 2;
    case DType::kInt32:
      return 4;
  }
  return 0;
}

const char* to_string(DType dtype) {
  switch (dtype) {
    case DType::kUInt8:
      return "uint8";
    case DType::kFloat32:
      return "float32";
    case DType::kFloat16:
      return "float16";
    case DType::kInt32:
      return "int32";
  }
  return "unknown";
}

std::optional<DType> parse_dtype(std::string_view name) {
  if (name == "uint8") return DType::kUInt8;
  if (name == "float32") return DType::kFloat32;
  if (name == "float16") return DType::kFloat16;
  if (name == "int32") return DType::kInt32;
  return std::nullopt;
}

bool is_known_dtype(uint8_t raw) { return raw >= 1 && raw <= 4; }

TensorShape::TensorShape(std::initializer_list<int64_t> dims) {
  for (int64_t d : dims) push_back(d);
}

bool TensorShape::push_back(int64_t dim) {
  if (rank_ >= kMaxRank) return false;
  dims_[rank_++] = dim;
  return true;
}

std::optional<uint64_t> TensorShape::numel() const {
  constexpr uint64_t kLimit = uint64_t{1} << 62;
  uint64_t n = 1;
  for (size_t i = 0; i < rank_; ++i) {
    if (dims_[i] <= 0) return std::nullopt;
    const auto d = static_cast<uint64_t>(dims_[i]);
    if (n > kLimit / d) return std::nullopt;
    n *= d;
  }
  return n;
}

std::string TensorShape::to_string() const {
  std::string s = "[";
  for (size_t i = 0; i < rank_; ++i) {
    if (i) s += ',';
    s += std::to_string(dims_[i]);
  }
  return s + "]";
}

bool operator==(const TensorShape& a, const TensorShape& b) {
  if (a.rank_ != b.rank_) return false;
  for (size_t i = 0; i < a.rank_; ++i)
    if (a.dims_[i] != b.dims_[i]) return false;
  return true;
}

std::optional<uint64_t> tensor_bytes(const TensorShape& shape, DType dtype) {
  auto n = shape.numel();
  if (!n) return std::nullopt;
  // 2^62 float32 elements are 2^64 bytes: that wrapped to 0, and a header declaring 0 payload bytes was accepted.
  if (*n > std::numeric_limits<uint64_t>::max() / dtype_size(dtype)) return std::nullopt;
  return *n * dtype_size(dtype);
}

}  // namespace edgeserve::core
