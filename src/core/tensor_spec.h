// Element types and tensor shapes as they appear on the wire and in model specs.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace edgeserve::core {

// Wire-visible values: never renumber.
enum class DType : uint8_t { kUInt8 = 1, kFloat32 = 2, kFloat16 = 3, kInt32 = 4 };  // int32: class ids (topk)

size_t dtype_size(DType dtype);
const char* to_string(DType dtype);
std::optional<DType> parse_dtype(std::string_view name);
bool is_known_dtype(uint8_t raw);

inline constexpr size_t kMaxRank = 8;

// A fixed-capacity shape: no allocation, trivially copyable, so it lives inside wire headers.
class TensorShape {
 public:
  TensorShape() = default;
  TensorShape(std::initializer_list<int64_t> dims);

  size_t rank() const { return rank_; }
  int64_t operator[](size_t i) const { return dims_[i]; }
  const int64_t* begin() const { return dims_.data(); }
  const int64_t* end() const { return dims_.data() + rank_; }
  // Returns false (and leaves the shape unchanged) when the rank limit is reached.
  bool push_back(int64_t dim);
  // Number of elements; nullopt when a dimension is not positive or the product overflows 2^62.
  std::optional<uint64_t> numel() const;
  std::string to_string() const;  // "[1,3,224,224]"

  friend bool operator==(const TensorShape& a, const TensorShape& b);

 private:
  uint8_t rank_ = 0;
  std::array<int64_t, kMaxRank> dims_{};
};

// Bytes a tensor of this shape and dtype takes; nullopt for an invalid shape or more than 2^64 - 1 bytes.
std::optional<uint64_t> tensor_bytes(const TensorShape& shape, DType dtype);

struct TensorSpec {
  std::string name;
  DType dtype = DType::kFloat32;
  TensorShape shape;
};

}  // namespace edgeserve::core
