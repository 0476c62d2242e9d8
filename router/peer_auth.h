// Who may talk to the router (DESIGN.md "Trust"): a ZAP handler that admits CurveZMQ peers whose
// public key is on the allow-list, in the role the list gives them, and tells the router loop each
// message's role.
//
// Both router sockets are CURVE servers. The client socket (ZAP domain "clients") admits client
// and admin keys; the worker socket ("workers") admits worker keys only, so a worker key cannot
// submit and a client key cannot register as a worker. Unknown keys get no connection at all.
// The handler answers on its own thread, so a busy router loop never delays a handshake; the
// allow-list is read once at start-up and never changes, so the two threads share it read-only.
//
// --insecure (development on loopback only): no CURVE, no handler, and every peer is an admin.
#pragma once

#include <zmq.hpp>

#include <atomic>
#include <optional>
#include <string>
#include <thread>

#include "wire/curve_keys.h"
#include "wire/metrics.h"

namespace dsv4::router {

inline constexpr char kClientDomain[] = "clients";
inline constexpr char kWorkerDomain[] = "workers";

struct PeerSecurity {
  bool insecure = false;
  curve::KeyPair server;      // the router's own key pair
  curve::AllowList allowed;   // public key -> role
};

class PeerAuth {
 public:
  // Binds the ZAP endpoint in `ctx` (before any socket of ctx binds) and starts answering.
  PeerAuth(zmq::context_t& ctx, PeerSecurity security, prometheus::Registry& reg);
  ~PeerAuth();
  PeerAuth(const PeerAuth&) = delete;
  PeerAuth& operator=(const PeerAuth&) = delete;

  // Makes `sock` a CURVE server checked under `domain` (no-op when insecure).
  void Secure(zmq::socket_t& sock, const std::string& domain) const;
  bool insecure() const { return security_.insecure; }

  // The role and name of the peer that sent `msg` (set by the handler at the handshake).
  struct Peer {
    curve::Role role = curve::Role::kClient;
    std::string name;
  };
  Peer PeerOf(zmq::message_t& msg) const;

  // An op refused because the peer's role does not allow it; counted by op and role.
  prometheus::Counter& Forbidden(const std::string& op, curve::Role role);

 private:
  void Serve();
  // The ZAP verdict for one handshake: "" when admitted (and *user_id set), else the refusal.
  std::string Decide(const std::string& domain, const std::string& mechanism, const std::string& key_bin, std::string* user_id);

  PeerSecurity security_;
  zmq::socket_t zap_;
  std::atomic<bool> stop_{false};
  prometheus::Family<prometheus::Counter>* admitted_;
  prometheus::Family<prometheus::Counter>* refused_;
  prometheus::Family<prometheus::Counter>* forbidden_;
  std::thread thread_;
};

}  // namespace dsv4::router
