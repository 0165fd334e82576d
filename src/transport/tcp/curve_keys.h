// ZeroMQ CURVE keys for authenticated, encrypted client links: generating key files, and reading them.
// Files hold Z85 text: NAME.pub one line (the public key), NAME.key two lines (public, then secret).
#pragma once

#include <filesystem>
#include <set>
#include <string>

#include "core/status.h"

namespace edgeserve::transport::tcp {

struct CurveKeyPair {
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;
};

// What a server needs: its own key pair and the public keys of the clients it admits.
struct CurveServerConfig {
  CurveKeyPair server;
  std::set<std::string> authorized_clients;
};

// What a client needs: the server's public key and its own key pair.
struct CurveClientConfig {
  std::string server_public_key;
  CurveKeyPair client;
};

// Writes PREFIX.pub and PREFIX.key (mode 0600) from a fresh key pair.
core::Status write_curve_key_pair(const std::filesystem::path& prefix);
core::Result<CurveKeyPair> read_curve_key_pair(const std::filesystem::path& key_file);
core::Result<std::string> read_curve_public_key(const std::filesystem::path& pub_file);
// Every *.pub file in `dir`.
core::Result<std::set<std::string>> read_authorized_clients(const std::filesystem::path& dir);

// A server's key pair file and its folder of authorized client keys; a client's view of the server's public
// key and its own key pair. The first bad file is the error.
core::Result<CurveServerConfig> read_curve_server_config(const std::filesystem::path& key_file,
                                                         const std::filesystem::path& clients_dir);
core::Result<CurveClientConfig> read_curve_client_config(const std::filesystem::path& server_pub_file,
                                                         const std::filesystem::path& key_file);

}  // namespace edgeserve::transport::tcp
