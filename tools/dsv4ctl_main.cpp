// dsv4ctl: admin commands for a running dsv4-router.
//   dsv4ctl --router tcp://127.0.0.1:5555 workers
//   dsv4ctl --router ... drain WORKER
//   dsv4ctl --router ... swap-plugin (--worker ID | --tier flash|pro) --plugin NAME
//   dsv4ctl --router ... prefix-cache list|clear (--worker ID | --tier flash|pro)
//   dsv4ctl keygen --out DIR/NAME [--role client|worker|admin --allow-list FILE [--name NAME]]
// Router commands need an admin key (--key, --router-key). Prints the router's answer; exits 0
// when it says ok, 1 otherwise, 2 on usage errors.
#include <iostream>

#include "base/flags.h"
#include "client/client.h"
#include "tools/client_key_flags.h"

namespace po = boost::program_options;
namespace protocol = dsv4::protocol;

namespace {

// keygen: writes PREFIX.key (0600) and PREFIX.pub, and with --role adds the public key to an
// allow-list, so one command admits a new peer.
int Keygen(const std::string& out, const std::string& role_name, const std::string& allow_list, const std::string& name) {
  if (out.empty()) {
    std::cerr << "dsv4ctl keygen: --out DIR/NAME is required (writes NAME.key and NAME.pub)\n";
    return 2;
  }
  if (role_name.empty() != allow_list.empty()) {
    std::cerr << "dsv4ctl keygen: --role and --allow-list go together\n";
    return 2;
  }
  std::optional<dsv4::curve::Role> role;
  if (!role_name.empty() && !(role = dsv4::curve::ParseRole(role_name))) {
    std::cerr << "dsv4ctl keygen: unknown role '" << role_name << "' (client, worker or admin)\n";
    return 2;
  }
  try {
    const dsv4::curve::KeyPair kp = dsv4::curve::Generate();
    dsv4::curve::WriteKeyFiles(out, kp);
    if (role) dsv4::curve::AppendToAllowList(allow_list, *role, kp.public_key, name.empty() ? out.substr(out.rfind('/') + 1) : name);
    std::cout << "wrote " << out << ".key and " << out << ".pub" << (role ? "; admitted as " + role_name + " in " + allow_list : "") << "\n"
              << "public-key = " << kp.public_key << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "dsv4ctl keygen: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string router = "tcp://127.0.0.1:5555", worker, tier, plugin, command, out, role, allow_list, name;
  std::vector<std::string> args;
  int timeout_s = 60;
  dsv4::Flags flags("dsv4ctl",
                    "usage: dsv4ctl [--router ENDPOINT --key ADMIN.key --router-key ROUTER.pub] workers | drain WORKER | "
                    "swap-plugin (--worker ID | --tier T) --plugin NAME | prefix-cache list|clear (--worker ID | --tier T)\n"
                    "       dsv4ctl keygen --out DIR/NAME [--role client|worker|admin --allow-list FILE [--name NAME]]");
  flags.Add()("router", po::value(&router)->default_value(router), "router client endpoint")(
      "worker", po::value(&worker), "target worker id (swap-plugin, prefix-cache)")(
      "tier", po::value(&tier), "target tier (swap-plugin, prefix-cache)")(
      "plugin", po::value(&plugin), "plugin name, looked up in each worker's plugin directory (swap-plugin)")(
      "out", po::value(&out), "keygen: write OUT.key and OUT.pub")("role", po::value(&role), "keygen: client, worker or admin")(
      "allow-list", po::value(&allow_list), "keygen: append the new public key with --role to this allow-list")(
      "name", po::value(&name), "keygen: the peer's name in the allow-list (default: the file name)")(
      "timeout", po::value(&timeout_s)->default_value(timeout_s), "seconds to wait for the answer")(
      "command", po::value(&command), "workers | drain | swap-plugin | prefix-cache | keygen")("args", po::value(&args), "command arguments");
  dsv4::ClientKeyFlags keys;
  keys.Add(flags.Add());
  flags.Positional().add("command", 1).add("args", -1);
  if (const auto rc = flags.Parse(argc, argv, [&](const po::variables_map&) {
        if (command.empty()) throw po::error("give a command: workers, drain, swap-plugin, prefix-cache or keygen");
      }))
    return *rc;
  if (command == "keygen") return Keygen(out, role, allow_list, name);
  const std::string id = dsv4::client::NewRequestId("ctl");
  std::string body;
  const auto tier_choice = protocol::ParseTier(tier);
  const bool one_target = worker.empty() != tier.empty() && (tier.empty() || tier_choice);
  // (A plain enum and a flag: GCC 12 takes a std::optional's payload here for uninitialized.)
  const bool cache_action_ok = args.size() == 1 && protocol::ParseName<protocol::PrefixCacheAction>(args[0]).has_value();
  const protocol::PrefixCacheAction cache_action =
      cache_action_ok ? protocol::ParseName<protocol::PrefixCacheAction>(args[0]).value_or(protocol::PrefixCacheAction::kList)
                      : protocol::PrefixCacheAction::kList;
  if (command == "workers") {
    body = protocol::EncodeStatusRequest({id});
  } else if (command == "drain" && args.size() == 1) {
    body = protocol::EncodeDrain({id, args[0]});
  } else if (command == "swap-plugin" && !plugin.empty() && one_target) {
    body = protocol::EncodeSwapPlugin({id, plugin, worker, tier_choice});
  } else if (command == "prefix-cache" && cache_action_ok && one_target) {
    body = protocol::EncodePrefixCache({id, cache_action, worker, tier_choice});
  } else {
    return flags.Fail("'" + command + "' needs other arguments (see the usage line)");
  }
  try {
    dsv4::client::Client c(router, keys.Load());
    auto reply = c.Call(body, id, std::chrono::seconds(timeout_s));
    if (!reply) {
      std::cerr << "dsv4ctl: no answer from " << router << " within " << timeout_s << " s" << keys.SilenceHint() << "\n";
      return 1;
    }
    using Kind = dsv4::client::Event::Kind;
    if (reply->kind == Kind::kError) {
      std::cerr << "dsv4ctl: " << protocol::ErrorCodeName(reply->error.code) << ": " << reply->error.message << "\n";
      return 1;
    }
    const auto yes_no = [](bool b) { return b ? "yes" : "no"; };
    if (reply->kind == Kind::kStatus) {
      const protocol::StatusReply& st = reply->status;
      for (const protocol::WorkerStatus& w : st.workers) {
        std::cout << "worker_id=" << w.worker_id << "  tier=" << protocol::TierName(w.tier) << "  model_id=" << w.model_id
                  << "  plugin=" << w.plugin << "  capacity=" << w.capacity << "  active=" << w.active
                  << "  draining=" << yes_no(w.draining) << "  echo=" << yes_no(w.echo)
                  << "  numerics=" << w.numerics << "  default_sampling=temperature:" << w.default_temperature
                  << ",top_p:" << w.default_top_p << "\n";
      }
      std::cout << "queued: flash=" << st.queued_flash << " pro=" << st.queued_pro << "  in_flight=" << st.in_flight << "\n";
      return 0;
    }
    if (reply->kind != Kind::kAdmin) {
      std::cerr << "dsv4ctl: unexpected reply '" << (reply->raw ? reply->raw->kind() : std::string("?")) << "'\n";
      return 1;
    }
    const protocol::AdminReply& a = reply->admin;
    std::cout << (a.ok ? "ok" : "FAILED") << ": " << a.message << "\n";
    for (const protocol::AdminResult& r : a.results) {
      std::cout << "worker=" << r.worker << "  ok=" << yes_no(r.ok) << "  plugin=" << r.plugin << "  error=" << r.error << "\n";
      if (command != "prefix-cache") continue;
      // For clear, the snapshots it dropped.
      std::cout << "  " << r.snapshots.size() << (cache_action == protocol::PrefixCacheAction::kClear ? " snapshots cleared" : " snapshots")
                << "\n";
      for (const protocol::PrefixSnapshot& s : r.snapshots) {
        std::cout << "  key=" << s.key << "  tokens=" << s.tokens << "  store=" << protocol::NameOf(s.store) << "  bytes=" << s.bytes << "\n";
      }
    }
    return a.ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "dsv4ctl: " << e.what() << "\n";
    return 1;
  }
}
