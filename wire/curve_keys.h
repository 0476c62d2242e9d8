// CurveZMQ keys for dsv4d peers (DESIGN.md "Trust"): key files, the router's allow-list of public
// keys with a role each, and the socket options that put a socket under CURVE.
//
// Files (text, one `name = value` per line, '#' starts a comment line; keys are Z85, 40 chars):
//   NAME.key  public-key = ...  and  secret-key = ...   (mode 0600: the peer's own key pair)
//   NAME.pub  public-key = ...                           (what others need: the router's is handed
//                                                         to clients and workers)
//   allow-list  one line per admitted peer: ROLE PUBLIC-KEY [NAME]   (ROLE: client, worker, admin)
// Z85 uses '#' and '=' as digits, so a value runs to the end of its line and only whole lines are
// comments. Every loader error names the file, the line and what was expected.
#pragma once

#include <zmq.hpp>

#include <map>
#include <optional>
#include <string>

namespace dsv4::curve {

struct KeyPair {
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;  // Z85, 40 characters; empty for a public-only file
};

// A fresh key pair from libsodium (through libzmq).
KeyPair Generate();
// Writes PREFIX.key (0600, both keys) and PREFIX.pub (public only). Throws naming the file.
void WriteKeyFiles(const std::string& prefix, const KeyPair& kp);
// Reads a key pair; the secret key is required and must match the public key.
KeyPair LoadKeyPair(const std::string& path);
// Reads the public key of a .pub or a .key file.
std::string LoadPublicKey(const std::string& path);

// The three roles (DESIGN.md "Trust"): a client submits, a worker serves, an admin may also swap
// plugins, drain workers and list them with their model paths.
enum class Role { kClient, kWorker, kAdmin };
const char* RoleName(Role r);
std::optional<Role> ParseRole(const std::string& name);

struct AllowedPeer {
  Role role;
  std::string name;  // for logs and metrics; the key's first 8 characters when the file gives none
};
// Public key (Z85) -> who it belongs to. Loaded once at start-up; immutable afterwards, so it may
// be read from the ZAP thread and the router loop at once.
using AllowList = std::map<std::string, AllowedPeer>;
AllowList LoadAllowList(const std::string& path);
// Appends one line to an allow-list file (created 0600 if missing).
void AppendToAllowList(const std::string& path, Role role, const std::string& public_key, const std::string& name);

// What a connecting peer (client, worker) needs: its own key pair and the router's public key.
struct ClientKeys {
  KeyPair own;
  std::string server_public_key;
  bool Enabled() const { return !server_public_key.empty(); }
};
// Loads both files; empty paths give disabled keys (plain ZeroMQ, for an --insecure router).
// Exactly one of the two paths empty is an error naming the missing one.
ClientKeys LoadClientKeys(const std::string& key_file, const std::string& router_key_file);
// Makes `sock` a CURVE client of the router (before connect). No-op when !keys.enabled().
void ApplyClient(zmq::socket_t& sock, const ClientKeys& keys);
// Makes `sock` a CURVE server (before bind) whose peers are checked by the ZAP handler under
// `zap_domain`.
void ApplyServer(zmq::socket_t& sock, const KeyPair& server, const std::string& zap_domain);

// True for endpoints only this host can reach: tcp://127.x, tcp://localhost, tcp://[::1], ipc://,
// inproc://. An --insecure router binds nothing else.
bool IsLoopbackEndpoint(const std::string& endpoint);

}  // namespace dsv4::curve
