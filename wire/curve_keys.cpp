#include "wire/curve_keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace dsv4::curve {

namespace {

constexpr size_t kZ85KeyChars = 40;  // 32 bytes in Z85

std::runtime_error FileError(const std::string& path, int line, const std::string& what) {
  std::ostringstream msg;  // (not string concatenation: GCC 12 warns falsely about it here)
  msg << path;
  if (line > 0) msg << ":" << line;
  msg << ": " << what;
  return std::runtime_error(msg.str());
}

std::string Trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

bool ValidZ85Key(const std::string& z85) {
  if (z85.size() != kZ85KeyChars) return false;
  uint8_t bin[32];
  return zmq_z85_decode(bin, z85.c_str()) != nullptr;
}

// The content lines of a key-style file: (line number, text), comments and blanks skipped.
std::vector<std::pair<int, std::string>> ContentLines(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw FileError(path, 0, "cannot read key file");
  std::vector<std::pair<int, std::string>> out;
  std::string line;
  for (int n = 1; std::getline(f, line); ++n) {
    const std::string t = Trim(line);
    if (t.empty() || t[0] == '#') continue;
    out.emplace_back(n, t);
  }
  return out;
}

// `public-key = ...` / `secret-key = ...` lines of a .key or .pub file.
KeyPair ReadKeyFile(const std::string& path) {
  KeyPair kp;
  for (const auto& [n, t] : ContentLines(path)) {
    const size_t eq = t.find('=');
    if (eq == std::string::npos) throw FileError(path, n, "expected 'public-key = KEY' or 'secret-key = KEY'");
    const std::string name = Trim(t.substr(0, eq)), value = Trim(t.substr(eq + 1));
    std::string* slot = name == "public-key" ? &kp.public_key : name == "secret-key" ? &kp.secret_key : nullptr;
    if (!slot) throw FileError(path, n, "unknown field '" + name + "' (expected public-key or secret-key)");
    if (!ValidZ85Key(value))
      throw FileError(path, n, name + " is not a 40-character Z85 key (got " + std::to_string(value.size()) + " characters)");
    *slot = value;
  }
  if (kp.public_key.empty()) throw FileError(path, 0, "no public-key line");
  return kp;
}

void WriteFileMode(const std::string& path, const std::string& text, mode_t mode) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (fd < 0) throw FileError(path, 0, "cannot create");
  fchmod(fd, mode);  // an existing file keeps its old mode through O_CREAT
  const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  if (!ok) throw FileError(path, 0, "cannot write");
}

}  // namespace

KeyPair Generate() {
  char pub[41], sec[41];
  if (zmq_curve_keypair(pub, sec) != 0) throw std::runtime_error("zmq_curve_keypair failed: libzmq was built without CURVE");
  return {pub, sec};
}

void WriteKeyFiles(const std::string& prefix, const KeyPair& kp) {
  WriteFileMode(prefix + ".key",
                "# dsv4d CurveZMQ key pair. Keep it private: whoever reads it can act as this peer.\n"
                "public-key = " + kp.public_key + "\nsecret-key = " + kp.secret_key + "\n",
                0600);
  WriteFileMode(prefix + ".pub", "# dsv4d CurveZMQ public key (safe to share)\npublic-key = " + kp.public_key + "\n", 0644);
}

KeyPair LoadKeyPair(const std::string& path) {
  KeyPair kp = ReadKeyFile(path);
  if (kp.secret_key.empty()) throw FileError(path, 0, "no secret-key line (is this the .pub file? the peer needs its .key file)");
  char derived[41];
  if (zmq_curve_public(derived, kp.secret_key.c_str()) != 0 || kp.public_key != derived)
    throw FileError(path, 0, "public-key does not belong to secret-key");
  return kp;
}

std::string LoadPublicKey(const std::string& path) { return ReadKeyFile(path).public_key; }

const char* RoleName(Role r) {
  switch (r) {
    case Role::kClient: return "client";
    case Role::kWorker: return "worker";
    case Role::kAdmin: return "admin";
  }
  return "?";
}

std::optional<Role> ParseRole(const std::string& name) {
  for (Role r : {Role::kClient, Role::kWorker, Role::kAdmin}) {
    if (name == RoleName(r)) return r;
  }
  return std::nullopt;
}

AllowList LoadAllowList(const std::string& path) {
  AllowList out;
  for (const auto& [n, t] : ContentLines(path)) {
    std::istringstream in(t);
    std::string role, key, name;
    in >> role >> key;
    std::getline(in, name);
    name = Trim(name);
    const auto r = ParseRole(role);
    if (!r) throw FileError(path, n, "unknown role '" + role + "' (expected client, worker or admin)");
    if (!ValidZ85Key(key)) throw FileError(path, n, "'" + key + "' is not a 40-character Z85 public key");
    if (out.count(key)) throw FileError(path, n, "key listed twice (a key has exactly one role)");
    out[key] = {*r, name.empty() ? key.substr(0, 8) : name};
  }
  return out;
}

void AppendToAllowList(const std::string& path, Role role, const std::string& public_key, const std::string& name) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (fd < 0) throw FileError(path, 0, "cannot open allow-list for appending");
  const std::string line = std::string(RoleName(role)) + " " + public_key + (name.empty() ? "" : " " + name) + "\n";
  const bool ok = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  close(fd);
  if (!ok) throw FileError(path, 0, "cannot append");
}

ClientKeys LoadClientKeys(const std::string& key_file, const std::string& router_key_file) {
  if (key_file.empty() && router_key_file.empty()) return {};
  if (key_file.empty()) throw std::runtime_error("--router-key given without --key (this peer's own key pair)");
  if (router_key_file.empty()) throw std::runtime_error("--key given without --router-key (the router's public key)");
  return {LoadKeyPair(key_file), LoadPublicKey(router_key_file)};
}

void ApplyClient(zmq::socket_t& sock, const ClientKeys& keys) {
  if (!keys.Enabled()) return;
  sock.set(zmq::sockopt::curve_serverkey, keys.server_public_key);
  sock.set(zmq::sockopt::curve_publickey, keys.own.public_key);
  sock.set(zmq::sockopt::curve_secretkey, keys.own.secret_key);
}

void ApplyServer(zmq::socket_t& sock, const KeyPair& server, const std::string& zap_domain) {
  sock.set(zmq::sockopt::curve_server, 1);
  sock.set(zmq::sockopt::curve_secretkey, server.secret_key);
  // libzmq admits every CURVE peer when no ZAP handler is bound (ZMQ_ZAP_ENFORCE_DOMAIN is a
  // draft option Debian's build lacks), so the caller binds its handler before this socket binds
  // and keeps it for the socket's lifetime (router/peer_auth.h).
  sock.set(zmq::sockopt::zap_domain, zap_domain);
}

bool IsLoopbackEndpoint(const std::string& endpoint) {
  if (endpoint.rfind("ipc://", 0) == 0 || endpoint.rfind("inproc://", 0) == 0) return true;
  if (endpoint.rfind("tcp://", 0) != 0) return false;
  const std::string hostport = endpoint.substr(6);
  const size_t colon = hostport.rfind(':');
  if (colon == std::string::npos) return false;
  const std::string host = hostport.substr(0, colon);
  if (host == "localhost" || host == "[::1]") return true;
  // 127.0.0.0/8, written as a dotted address (not a name that merely starts with "127.").
  return host.rfind("127.", 0) == 0 && host.find_first_not_of("0123456789.") == std::string::npos;
}

}  // namespace dsv4::curve
