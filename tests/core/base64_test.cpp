#include "core/base64.h"

#include <gtest/gtest.h>

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

TEST(Base64, RefusesWhatIsNotBase64) {
  for (const char* bad : {"Zg=", "Zg", "Z===", "Zm9v!A==", "Zg==Zg==", "=Zg=", "Zm 9v"})
    EXPECT_FALSE(base64_decode(bad)) << bad;
}

}  // namespace
}  // namespace edgeserve::core
