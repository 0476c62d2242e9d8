#include "router/peer_auth.h"

#include <zmq_addon.hpp>

#include <iostream>

namespace dsv4::router {

using curve::Role;

namespace {

// RFC 27 (ZAP): the handler's endpoint name is fixed by libzmq.
constexpr char kZapEndpoint[] = "inproc://zeromq.zap.01";

std::string SocketName(const std::string& domain) { return domain == kWorkerDomain ? "worker" : "client"; }

}  // namespace

PeerAuth::PeerAuth(zmq::context_t& ctx, PeerSecurity security, prometheus::Registry& reg) : security_(std::move(security)) {
  admitted_ = &prometheus::BuildCounter()
                   .Name("dsv4_router_peers_admitted_total")
                   .Help("CurveZMQ handshakes admitted by the allow-list, by socket and role")
                   .Register(reg);
  refused_ = &prometheus::BuildCounter()
                  .Name("dsv4_router_peers_refused_total")
                  .Help("CurveZMQ handshakes refused, by socket and reason (unknown_key, wrong_role, mechanism)")
                  .Register(reg);
  forbidden_ = &prometheus::BuildCounter()
                    .Name("dsv4_router_forbidden_ops_total")
                    .Help("Operations refused because the peer's role does not allow them, by op and role")
                    .Register(reg);
  for (const char* socket : {"client", "worker"}) {
    refused_->Add({{"socket", socket}, {"reason", "unknown_key"}});
    refused_->Add({{"socket", socket}, {"reason", "wrong_role"}});
  }
  if (security_.insecure) return;
  int per_role[3] = {0, 0, 0};
  for (const auto& [key, peer] : security_.allowed) ++per_role[static_cast<int>(peer.role)];
  std::cerr << "I: dsv4-router: CurveZMQ on both sockets; allow-list: " << per_role[0] << " client, " << per_role[1] << " worker, "
            << per_role[2] << " admin key(s)\n";
  zap_ = zmq::socket_t(ctx, zmq::socket_type::rep);
  zap_.set(zmq::sockopt::linger, 0);
  zap_.bind(kZapEndpoint);
  thread_ = std::thread([this] { Serve(); });
}

PeerAuth::~PeerAuth() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void PeerAuth::Secure(zmq::socket_t& sock, const std::string& domain) const {
  if (!security_.insecure) curve::ApplyServer(sock, security_.server, domain);
}

std::string PeerAuth::Decide(const std::string& domain, const std::string& mechanism, const std::string& key_bin,
                             std::string* user_id) {
  if (mechanism != "CURVE" || key_bin.size() != 32) return "mechanism";
  char z85[41];
  zmq_z85_encode(z85, reinterpret_cast<const uint8_t*>(key_bin.data()), 32);
  const auto it = security_.allowed.find(z85);
  if (it == security_.allowed.end()) return "unknown_key";
  const Role role = it->second.role;
  const bool fits = domain == kWorkerDomain ? role == Role::kWorker : role == Role::kClient || role == Role::kAdmin;
  if (!fits) return "wrong_role";
  *user_id = std::string(curve::RoleName(role)) + ":" + it->second.name;
  admitted_->Add({{"socket", SocketName(domain)}, {"role", curve::RoleName(role)}}).Increment();
  return "";
}

void PeerAuth::Serve() {
  zmq::pollitem_t item{zap_.handle(), 0, ZMQ_POLLIN, 0};
  while (!stop_) {
    if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) == 0) continue;
    std::vector<zmq::message_t> req;
    if (!zmq::recv_multipart(zap_, std::back_inserter(req), zmq::recv_flags::dontwait)) continue;
    // version, request id, domain, address, routing id, mechanism, credentials...
    if (req.size() < 6) {
      // Not a ZAP request (nothing else should reach this endpoint); REP must still answer.
      zap_.send(zmq::str_buffer(""), zmq::send_flags::none);
      continue;
    }
    const std::string domain = req[2].to_string(), mechanism = req[5].to_string();
    const std::string key = req.size() > 6 ? req[6].to_string() : "";
    std::string user_id;
    const std::string refusal = Decide(domain, mechanism, key, &user_id);
    if (!refusal.empty()) refused_->Add({{"socket", SocketName(domain)}, {"reason", refusal}}).Increment();
    std::vector<zmq::const_buffer> reply = {zmq::str_buffer("1.0"), zmq::buffer(req[1].data(), req[1].size()),
                                            zmq::buffer(std::string_view(refusal.empty() ? "200" : "400")),
                                            // Both arms string_views: `cond ? "OK" : refusal` would make a
                                            // temporary std::string that dies before the send.
                                            zmq::buffer(refusal.empty() ? std::string_view("OK") : std::string_view(refusal)),
                                            zmq::buffer(std::string_view(user_id)), zmq::str_buffer("")};
    zmq::send_multipart(zap_, reply);
  }
}

PeerAuth::Peer PeerAuth::PeerOf(zmq::message_t& msg) const {
  if (security_.insecure) return {Role::kAdmin, "insecure"};
  const char* uid = zmq_msg_gets(msg.handle(), "User-Id");
  const std::string s = uid ? uid : "";
  const size_t colon = s.find(':');
  const auto role = curve::ParseRole(s.substr(0, colon));
  // Every admitted peer has a User-Id; anything else gets the least rights.
  if (!role || colon == std::string::npos) return {Role::kClient, "unknown"};
  return {*role, s.substr(colon + 1)};
}

prometheus::Counter& PeerAuth::Forbidden(const std::string& op, Role role) {
  return forbidden_->Add({{"op", op}, {"role", curve::RoleName(role)}});
}

}  // namespace dsv4::router
