#include "core/base64.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace edgeserve::core {
namespace {

std::string as_text(const std::vector<std::byte>& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

TEST(Base64, DecodesRfc4648TestVectors) {
  const std::pair<std::string, std::string> vectors[] = {{"", ""},
                                                         {"Zg==", "f"},
                                                         {"Zm8=", "fo"},
                                                         {"Zm9v", "foo"},
                                                         {"Zm9vYg==", "foob"},
                                                         {"Zm9vYmE=", "fooba"},
                                                         {"Zm9vYmFy", "foobar"}};
  for (const auto& [encoded, plain] : vectors) {
    const auto decoded = base64_decode(encoded);
    ASSERT_TRUE(decoded) << encoded;
    EXPECT_EQ(as_text(*decoded), plain) << encoded;
  }
}

TEST(Base64, DecodesEveryByteValue) {
  // "AAECAwQ...": bytes 0, 1, 2, 3 then 252..255 ("/P3+/w==") cover both ends of the alphabet.
  const auto low = base64_decode("AAECAw==");
  ASSERT_TRUE(low);
  EXPECT_EQ(*low, (std::vector<std::byte>{std::byte{0}, std::byte{1}, std::byte{2}, std::byte{3}}));
  const auto high = base64_decode("/P3+/w==");
  ASSERT_TRUE(high);
  EXPECT_EQ(*high, (std::vector<std::byte>{std::byte{252}, std::byte{253}, std::byte{254}, std::byte{255}}));
}

// Triton's C++ client (perf_analyzer) encodes a 64-byte CUDA IPC handle with libb64: a line break after 72
// characters and one at the end. Refusing it refused every CUDA region perf_analyzer registered over http://.
TEST(Base64, SkipsTheLineBreaksOfLibb64AndMime) {
  std::string handle(64, '\0');
  for (size_t i = 0; i < handle.size(); ++i) handle[i] = static_cast<char>(i * 7);
  const std::string one_line =
      "AAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0tng5+71/AMKERgfJi00O0JJUFdeZWxzeoGIj5adpKuyuQ==";
  const auto plain = base64_decode(one_line);
  ASSERT_TRUE(plain);
  ASSERT_EQ(plain->size(), 64u);
  EXPECT_EQ(0, std::memcmp(plain->data(), handle.data(), 64));
  const std::string libb64 = one_line.substr(0, 72) + "\n" + one_line.substr(72) + "\n";
  EXPECT_EQ(base64_decode(libb64), plain);
  EXPECT_EQ(base64_decode("Zm9v\r\nYmFy"), base64_decode("Zm9vYmFy"));
  EXPECT_EQ(base64_decode(" Zm 9v\t"), base64_decode("Zm9v"));
}

TEST(Base64, RefusesWhatIsNotBase64) {
  for (const char* bad : {"Zg=", "Zg", "Z===", "Zm9v!A==", "Zg==Zg==", "=Zg=", "Zm\n9"})
    EXPECT_FALSE(base64_decode(bad)) << bad;
}

}  // namespace
}  // namespace edgeserve::core
