// dsv4ctl: admin commands for a running dsv4-router.
//   dsv4ctl --router tcp://127.0.0.1:5555 workers
//   dsv4ctl --router ... drain WORKER
//   dsv4ctl --router ... swap-plugin (--worker ID | --tier flash|pro) --plugin NAME
// Prints the router's answer; exits 0 when it says ok, 1 otherwise, 2 on usage errors.
#include <boost/program_options.hpp>
#include <iostream>

#include "client/client.h"

namespace po = boost::program_options;
using dsv4::protocol::Message;
using dsv4::protocol::Writer;

namespace {

std::string Str(const msgpack::object& o) {
  if (o.type == msgpack::type::STR) return o.as<std::string>();
  if (o.type == msgpack::type::BOOLEAN) return o.via.boolean ? "yes" : "no";
  if (o.type == msgpack::type::POSITIVE_INTEGER) return std::to_string(o.via.u64);
  return "?";
}

// Prints an array of maps as "key=value" lines.
void PrintRows(const msgpack::object* rows) {
  for (uint32_t i = 0; rows && rows->type == msgpack::type::ARRAY && i < rows->via.array.size; ++i) {
    const auto& m = rows->via.array.ptr[i];
    if (m.type != msgpack::type::MAP) continue;
    for (uint32_t j = 0; j < m.via.map.size; ++j) std::cout << (j ? "  " : "") << Str(m.via.map.ptr[j].key) << "=" << Str(m.via.map.ptr[j].val);
    std::cout << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string router = "tcp://127.0.0.1:5555", worker, tier, plugin, command;
  std::vector<std::string> args;
  int timeout_s = 60;
  po::options_description opts("dsv4ctl options");
  opts.add_options()("help,h", "show this help")("router", po::value(&router)->default_value(router), "router client endpoint")(
      "worker", po::value(&worker), "target worker id (swap-plugin)")("tier", po::value(&tier), "target tier (swap-plugin)")(
      "plugin", po::value(&plugin), "plugin name or .so path (swap-plugin)")(
      "timeout", po::value(&timeout_s)->default_value(timeout_s), "seconds to wait for the answer")(
      "command", po::value(&command), "workers | drain | swap-plugin")("args", po::value(&args), "command arguments");
  po::positional_options_description pos;
  pos.add("command", 1).add("args", -1);
  po::variables_map vm;
  const char* usage = "usage: dsv4ctl [--router ENDPOINT] workers | drain WORKER | swap-plugin (--worker ID | --tier T) --plugin NAME\n";
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "dsv4ctl: " << e.what() << "\n" << usage;
    return 2;
  }
  if (vm.count("help") || command.empty()) {
    std::cout << usage << opts;
    return command.empty() && !vm.count("help") ? 2 : 0;
  }
  const std::string id = dsv4::client::NewRequestId("ctl");
  std::string body;
  if (command == "workers") {
    body = Writer("op", "workers").Field("id", id).Finish();
  } else if (command == "drain" && args.size() == 1) {
    body = Writer("op", "drain").Field("id", id).Field("worker", args[0]).Finish();
  } else if (command == "swap-plugin" && !plugin.empty() && worker.empty() != tier.empty()) {
    Writer w("op", "swap_plugin");
    w.Field("id", id).Field("plugin", plugin);
    if (!worker.empty()) w.Field("worker", worker);
    if (!tier.empty()) w.Field("tier", tier);
    body = w.Finish();
  } else {
    std::cerr << "dsv4ctl: bad command line\n" << usage;
    return 2;
  }
  try {
    dsv4::client::Client c(router);
    auto reply = c.Call(body, id, std::chrono::seconds(timeout_s));
    if (!reply) {
      std::cerr << "dsv4ctl: no answer from " << router << " within " << timeout_s << " s\n";
      return 1;
    }
    if (reply->kind() == "error") {
      std::cerr << "dsv4ctl: " << reply->StrOr("code", "") << ": " << reply->StrOr("message", "") << "\n";
      return 1;
    }
    if (reply->kind() == "status") {
      PrintRows(reply->Find("workers"));
      const Message q = reply->Sub("queues");
      std::cout << "queued: flash=" << q.IntOr("flash", 0) << " pro=" << q.IntOr("pro", 0) << "  in_flight=" << reply->IntOr("in_flight", 0)
                << "\n";
      return 0;
    }
    const bool ok = reply->BoolOr("ok", false);
    std::cout << (ok ? "ok" : "FAILED") << ": " << reply->StrOr("message", "") << "\n";
    PrintRows(reply->Find("results"));
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "dsv4ctl: " << e.what() << "\n";
    return 1;
  }
}
