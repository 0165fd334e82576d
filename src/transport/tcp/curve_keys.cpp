// CURVE key files: generation with zmq_curve_keypair, reading and checking Z85 keys.
#include "transport/tcp/curve_keys.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <zmq.h>

#include <algorithm>
#include <fstream>

namespace edgeserve::transport::tcp {

namespace {

using core::Status;
using core::StatusCode;

constexpr size_t kZ85KeyLength = 40;

bool is_z85_key(const std::string& key) {
  static const std::string kAlphabet =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
  return key.size() == kZ85KeyLength &&
         std::all_of(key.begin(), key.end(), [](char c) { return kAlphabet.find(c) != std::string::npos; });
}

Status bad_key(const std::filesystem::path& file, const char* what) {
  return {StatusCode::kInternal,
          fmt::format("{}: {} is not a 40-character Z85 CURVE key (make keys with `edgeserve keygen`)", file.string(),
                      what)};
}

}  // namespace

Status write_curve_key_pair(const std::filesystem::path& prefix) {
  char public_key[kZ85KeyLength + 1] = {}, secret_key[kZ85KeyLength + 1] = {};
  if (zmq_curve_keypair(public_key, secret_key) != 0)
    return {StatusCode::kInternal,
            fmt::format("zmq_curve_keypair failed: {} (is libzmq built with CURVE?)", zmq_strerror(zmq_errno()))};
  const auto pub = prefix.string() + ".pub", key = prefix.string() + ".key";
  {
    std::ofstream out(key);
    if (!out) return {StatusCode::kInternal, fmt::format("cannot write {}", key)};
    ::chmod(key.c_str(), 0600);
    out << public_key << '\n' << secret_key << '\n';
  }
  std::ofstream out(pub);
  if (!out) return {StatusCode::kInternal, fmt::format("cannot write {}", pub)};
  out << public_key << '\n';
  return {};
}

core::Result<CurveKeyPair> read_curve_key_pair(const std::filesystem::path& key_file) {
  std::ifstream in(key_file);
  if (!in) return Status(StatusCode::kInternal, fmt::format("cannot read CURVE key file {}", key_file.string()));
  CurveKeyPair pair;
  std::getline(in, pair.public_key);
  std::getline(in, pair.secret_key);
  if (!is_z85_key(pair.public_key)) return bad_key(key_file, "line 1 (public key)");
  if (!is_z85_key(pair.secret_key)) return bad_key(key_file, "line 2 (secret key)");
  return pair;
}

core::Result<std::string> read_curve_public_key(const std::filesystem::path& pub_file) {
  std::ifstream in(pub_file);
  if (!in) return Status(StatusCode::kInternal, fmt::format("cannot read CURVE public key {}", pub_file.string()));
  std::string key;
  std::getline(in, key);
  if (!is_z85_key(key)) return bad_key(pub_file, "line 1");
  return key;
}

core::Result<std::set<std::string>> read_authorized_clients(const std::filesystem::path& dir) {
  std::error_code ec;
  std::set<std::string> keys;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".pub") continue;
    auto key = read_curve_public_key(entry.path());
    if (!key.ok()) return key.status();
    keys.insert(*key);
  }
  if (ec) return Status(StatusCode::kInternal, fmt::format("cannot list {}: {}", dir.string(), ec.message()));
  if (keys.empty())
    return Status(StatusCode::kInternal,
                  fmt::format("{} holds no client public keys (*.pub): no client could connect", dir.string()));
  return keys;
}

core::Result<CurveServerConfig> read_curve_server_config(const std::filesystem::path& key_file,
                                                         const std::filesystem::path& clients_dir) {
  auto pair = read_curve_key_pair(key_file);
  if (!pair.ok()) return pair.status();
  auto clients = read_authorized_clients(clients_dir);
  if (!clients.ok()) return clients.status();
  return CurveServerConfig{std::move(pair.value()), std::move(clients.value())};
}

core::Result<CurveClientConfig> read_curve_client_config(const std::filesystem::path& server_pub_file,
                                                         const std::filesystem::path& key_file) {
  auto server = read_curve_public_key(server_pub_file);
  if (!server.ok()) return server.status();
  auto pair = read_curve_key_pair(key_file);
  if (!pair.ok()) return pair.status();
  return CurveClientConfig{std::move(server.value()), std::move(pair.value())};
}

}  // namespace edgeserve::transport::tcp
