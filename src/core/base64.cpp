#include "core/base64.h"

#include <array>
#include <cstdint>
#include <string>

namespace edgeserve::core {

namespace {

constexpr std::array<int8_t, 256> kValues = [] {
  std::array<int8_t, 256> v{};
  v.fill(-1);
  constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < alphabet.size(); ++i) v[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
  return v;
}();

}  // namespace

std::optional<std::vector<std::byte>> base64_decode(std::string_view encoded) {
  // libb64, which Triton's C++ client (and so perf_analyzer) encodes CUDA IPC handles with, breaks its output into
  // 72-character lines and ends it with a newline; MIME encoders do the same at 76.
  std::string text;
  text.reserve(encoded.size());
  for (char c : encoded)
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') text.push_back(c);
  if (text.size() % 4 != 0) return std::nullopt;
  size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
  std::vector<std::byte> out;
  out.reserve(text.size() / 4 * 3);
  uint32_t bits = 0;
  for (size_t i = 0; i < text.size() - padding; ++i) {
    const int8_t v = kValues[static_cast<unsigned char>(text[i])];
    if (v < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<uint32_t>(v);
    if (i % 4 == 3) {
      out.push_back(static_cast<std::byte>(bits >> 16));
      out.push_back(static_cast<std::byte>(bits >> 8));
      out.push_back(static_cast<std::byte>(bits));
      bits = 0;
    }
  }
  if (padding == 1) {  // 3 characters: 18 bits, 2 bytes
    out.push_back(static_cast<std::byte>(bits >> 10));
    out.push_back(static_cast<std::byte>(bits >> 2));
  } else if (padding == 2) {  // 2 characters: 12 bits, 1 byte
    out.push_back(static_cast<std::byte>(bits >> 4));
  }
  return out;
}

}  // namespace edgeserve::core
