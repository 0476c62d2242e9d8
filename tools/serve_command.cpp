// `dsv4 serve --flash DIR [--pro DIR]`: the whole service in one command. Starts dsv4-router, one
// dsv4-worker per tier and dsv4-gateway as child processes (binaries beside this one, ports chosen
// by the children unless given, logs in a directory it prints), prints the base URL and a curl
// line to paste, and on Ctrl-C / SIGTERM stops them in order: the gateway first (its open streams
// finish), then the workers (they drain), then the router. A child that dies on its own stops
// the rest and makes `serve` exit 1.
// Keys: every peer of the router is authenticated (DESIGN.md "Trust"), so `serve` makes a fresh
// set for each run in LOG_DIR/keys (the router's pair; one key each for the workers, the gateway
// and an admin, allow-listed under their roles) and hands them out, so the user handles none; the
// dsv4ctl line it prints uses the admin key.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "base/flags.h"
#include "wire/curve_keys.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace dsv4 {

namespace {

struct Child {
  std::string name;
  pid_t pid = -1;
};

// Starts argv[0] with stdout+stderr to `log`, in its own process group (a terminal's Ctrl-C
// reaches `serve` only, which then stops the children in order), with signals unblocked.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& log) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  setpgid(0, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (FILE* f = std::fopen(log.c_str(), "a")) {
    dup2(fileno(f), 1);
    dup2(fileno(f), 2);
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execv(args[0], args.data());
  std::perror(("exec " + argv[0]).c_str());
  _exit(127);
}

// The JSON a child writes once it serves, or throws naming the child and its log.
nlohmann::json WaitReady(const std::string& path, const Child& c, const std::string& log) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::minutes(5);  // a big checkpoint loads slowly
  while (std::chrono::steady_clock::now() < end) {
    std::ifstream f(path);
    if (f) {
      const auto j = nlohmann::json::parse(f, nullptr, false);
      if (!j.is_discarded()) return j;
    }
    int status;
    if (waitpid(c.pid, &status, WNOHANG) == c.pid) throw std::runtime_error(c.name + " exited during start-up; see " + log);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error(c.name + " did not start within 5 minutes; see " + log);
}

// Fresh keys for one run of the service, in `dir` (0700): router.{key,pub}, and worker, gateway
// and admin key pairs admitted in dir/allow-list as worker, client and admin.
void MakeServiceKeys(const std::string& dir) {
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace);
  curve::WriteKeyFiles(dir + "/router", curve::Generate());
  for (const auto& [name, role] : {std::pair{"worker", curve::Role::kWorker}, std::pair{"gateway", curve::Role::kClient},
                                   std::pair{"admin", curve::Role::kAdmin}}) {
    const curve::KeyPair kp = curve::Generate();
    curve::WriteKeyFiles(dir + "/" + name, kp);
    curve::AppendToAllowList(dir + "/allow-list", role, kp.public_key, name);
  }
}

// SIGTERM, then wait (SIGKILL after `patience`).
void Stop(const Child& c, std::chrono::seconds patience) {
  if (c.pid <= 0 || kill(c.pid, SIGTERM) != 0) return;
  const auto end = std::chrono::steady_clock::now() + patience;
  int status;
  while (waitpid(c.pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > end) {
      kill(c.pid, SIGKILL);
      waitpid(c.pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::cerr << "dsv4 serve: " << c.name << " stopped\n";
}

}  // namespace

int ServeCommand(int argc, char** argv) {
  std::string flash, pro, host = "127.0.0.1", plugin, log_dir, ready_file, api_keys;
  int port = 8000, threads = 0;
  dsv4::Flags flags("dsv4 serve", "usage: dsv4 serve --flash DIR [--pro DIR] [options]");
  flags.Add()("flash", po::value(&flash), "Flash checkpoint directory (Hugging Face layout)")(
      "pro", po::value(&pro), "Pro checkpoint directory (optional)")("host", po::value(&host)->default_value(host), "gateway address")(
      "port", po::value(&port)->default_value(port), "gateway port (0 = any free port)")(
      "plugin", po::value(&plugin), "kernel plugin for the workers (default: best for this CPU)")(
      "threads", po::value(&threads)->default_value(threads), "engine threads per worker (0 = all cores)")(
      "api-keys", po::value(&api_keys), "file of API keys the gateway accepts (default: none needed)")(
      "log-dir", po::value(&log_dir), "where the children's logs go (default: a new directory under /tmp)")(
      "ready-file", po::value(&ready_file), "write the URLs here (JSON) once everything serves");
  if (const auto rc = flags.Parse(argc, argv, [&](const po::variables_map&) {
        if (flash.empty()) throw po::error("--flash DIR is required");
      }))
    return *rc;
  // SIGINT/SIGTERM/SIGCHLD are taken with sigtimedwait below; blocked before any child exists.
  sigset_t wanted;
  sigemptyset(&wanted);
  for (int s : {SIGINT, SIGTERM, SIGCHLD}) sigaddset(&wanted, s);
  sigprocmask(SIG_BLOCK, &wanted, nullptr);

  const std::string bin = fs::canonical("/proc/self/exe").parent_path().string();
  if (log_dir.empty()) {
    char tmpl[] = "/tmp/dsv4-serve.XXXXXX";
    if (!mkdtemp(tmpl)) {
      std::cerr << "dsv4 serve: cannot make a log directory under /tmp\n";
      return 1;
    }
    log_dir = tmpl;
  }
  fs::create_directories(log_dir);
  std::vector<Child> children;  // in start order; stopped in reverse
  const auto start = [&](const std::string& name, std::vector<std::string> args) {
    const std::string ready = log_dir + "/" + name + ".json", log = log_dir + "/" + name + ".log";
    fs::remove(ready);
    args.insert(args.end(), {"--ready-file", ready});
    children.push_back({name, Spawn(args, log)});
    return WaitReady(ready, children.back(), log);
  };
  const auto stop_all = [&] {
    for (auto it = children.rbegin(); it != children.rend(); ++it) Stop(*it, std::chrono::seconds(it->name == "router" ? 10 : 60));
  };
  try {
    const std::string keys = log_dir + "/keys";
    fs::remove_all(keys);  // a reused --log-dir gets a fresh set, never a stale allow-list
    MakeServiceKeys(keys);
    const auto key_flags = [&](const std::string& who) {
      return std::vector<std::string>{"--key", keys + "/" + who + ".key", "--router-key", keys + "/router.pub"};
    };
    const auto router = start("router", {bin + "/dsv4-router", "--server-key", keys + "/router.key", "--allow-list", keys + "/allow-list",
                                         "--client-endpoint", "tcp://127.0.0.1:*", "--worker-endpoint", "tcp://127.0.0.1:*",
                                         "--metrics-host", "127.0.0.1", "--metrics-port", "0"});
    const std::string client_endpoint = router.at("client_endpoint");
    std::vector<std::pair<std::string, int>> metrics = {{"router", router.at("metrics_port").get<int>()}};
    for (const auto& [tier, dir] : {std::pair{std::string("flash"), flash}, std::pair{std::string("pro"), pro}}) {
      if (dir.empty()) continue;
      std::vector<std::string> args = {bin + "/dsv4-worker", "--router", router.at("worker_endpoint").get<std::string>(), "--tier", tier, "--model", dir,
                                       "--worker-id", tier + "-1", "--metrics-host", "127.0.0.1", "--metrics-port", "0",
                                       "--threads", std::to_string(threads)};
      const auto worker_keys = key_flags("worker");
      args.insert(args.end(), worker_keys.begin(), worker_keys.end());
      if (!plugin.empty()) args.insert(args.end(), {"--plugin", plugin});
      metrics.emplace_back(tier + " worker", start(tier, args).at("metrics_port").get<int>());
    }
    std::vector<std::string> gw_args = {bin + "/dsv4-gateway", "--router", client_endpoint, "--model", flash, "--host", host, "--port",
                                        std::to_string(port)};
    const auto gateway_keys = key_flags("gateway");
    gw_args.insert(gw_args.end(), gateway_keys.begin(), gateway_keys.end());
    if (!api_keys.empty()) gw_args.insert(gw_args.end(), {"--api-keys", api_keys});
    const auto gateway = start("gateway", gw_args);
    const std::string base = gateway.at("base_url"), origin = base.substr(0, base.size() - 3);
    const std::string admin_flags = "--router " + client_endpoint + " --key " + keys + "/admin.key --router-key " + keys + "/router.pub";
    nlohmann::json urls{{"base_url", base}, {"gateway_metrics", origin + "/metrics"}, {"log_dir", log_dir}, {"router", client_endpoint},
                        {"keys", keys}};
    std::cout << "dsv4 serve: ready (logs in " << log_dir << ")\n"
              << "  base URL  " << base << "   (OpenAI and Anthropic SDKs: set their base URL to it; models deepseek-v4-flash"
              << (pro.empty() ? "" : ", deepseek-v4-pro, auto") << ")\n"
              << "  metrics   gateway " << origin << "/metrics\n";
    for (const auto& [name, p] : metrics) {
      const std::string url = "http://127.0.0.1:" + std::to_string(p) + "/metrics";
      std::cout << "            " << name << " " << url << "\n";
      urls[name + " metrics"] = url;
    }
    std::cout << "  try       curl -N " << base
              << "/chat/completions -H 'Content-Type: application/json' -d '{\"model\": \"deepseek-v4-flash\", \"messages\": "
                 "[{\"role\": \"user\", \"content\": \"Hello!\"}], \"stream\": true}'\n"
              << "  admin     " << bin << "/dsv4ctl " << admin_flags << " workers\n"
              << "  stop      Ctrl-C\n"
              << std::flush;
    if (!ready_file.empty()) {
      std::ofstream(ready_file + ".tmp") << urls.dump(2) << "\n";
      fs::rename(ready_file + ".tmp", ready_file);
    }
    for (;;) {
      const int sig = sigwaitinfo(&wanted, nullptr);
      if (sig == SIGINT || sig == SIGTERM) {
        std::cerr << "\ndsv4 serve: stopping (gateway, workers, router)\n";
        stop_all();
        return 0;
      }
      for (Child& c : children) {
        int status;
        if (c.pid > 0 && waitpid(c.pid, &status, WNOHANG) == c.pid) {
          std::cerr << "dsv4 serve: " << c.name << " exited on its own (see " << log_dir << "/" << c.name << ".log); stopping the rest\n";
          c.pid = -1;
          stop_all();
          return 1;
        }
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "dsv4 serve: " << e.what() << "\n";
    stop_all();
    return 1;
  }
}

}  // namespace dsv4
