#include "tests/integration/service_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace dsv4::itest {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string BinDir() { return DSV4_BIN_DIR; }
std::string SourceDir() { return DSV4_SOURCE_DIR; }

ScratchDir::ScratchDir() {
  std::string tmpl = (fs::temp_directory_path() / "dsv4-itest-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

// ---- Process ------------------------------------------------------------------------------

Process::Process(const std::vector<std::string>& argv, const std::string& log_path) : log_path_(log_path) {
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    std::perror("execv");
    _exit(127);
  }
}

Process::~Process() {
  if (!reaped_ && pid_ > 0) {
    kill(pid_, SIGCONT);  // a stopped process cannot die of SIGKILL until reaped... make sure
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
}

void Process::Signal(int sig) {
  if (!reaped_) kill(pid_, sig);
}

std::optional<int> Process::Wait(std::chrono::milliseconds timeout) {
  const auto end = Clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      return status;
    }
    if (Clock::now() >= end) return std::nullopt;
    std::this_thread::sleep_for(10ms);
  }
}

bool Process::Running() {
  if (reaped_) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    reaped_ = true;
    return false;
  }
  return true;
}

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

std::string Process::Log() const { return ReadFile(log_path_); }

// ---- models -------------------------------------------------------------------------------

const std::string& TestModel(const std::string& name) {
  static std::mutex mu;
  static std::map<std::string, std::string> paths;
  std::lock_guard lock(mu);
  auto [it, fresh] = paths.try_emplace(name, std::string(DSV4_TEST_MODELS_DIR) + "/" + name);
  if (fresh && !fs::exists(it->second + "/config.json")) {
    const std::string missing = it->second;
    paths.erase(it);
    throw std::runtime_error("test model " + missing + " is missing: build the target dsv4_test_models");
  }
  return it->second;
}

const std::string& FlashModel() { return TestModel("flash"); }
const std::string& ProModel() { return TestModel("pro"); }

std::string WaitForFile(const std::string& path, std::chrono::milliseconds timeout) {
  const auto end = Clock::now() + timeout;
  while (Clock::now() < end) {
    if (std::string text = ReadFile(path); !text.empty()) return text;
    std::this_thread::sleep_for(10ms);
  }
  return "";
}

void MakeKeys(const std::string& keys_dir) {
  fs::create_directories(keys_dir);
  const std::string keygen = BinDir() + "/dsv4ctl keygen --out " + keys_dir + "/";
  const std::string allow = " --allow-list " + keys_dir + "/allow-list";
  const std::string errors = keys_dir + "/keygen.err";
  for (const std::string& args : {keygen + "router", keygen + "stranger", keygen + "client --role client" + allow,
                                 keygen + "worker --role worker" + allow, keygen + "admin --role admin" + allow}) {
    const std::string cmd = args + " > /dev/null 2> " + errors;
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("key generation failed: " + args + ": " + ReadFile(errors));
  }
}

// ---- Service ------------------------------------------------------------------------------

Service::Service(const std::vector<std::string>& router_flags, int heartbeat_ms)
    : router_flags_(router_flags), heartbeat_ms_(std::to_string(heartbeat_ms)) {
  MakeKeys(dir.path() + "/keys");
  StartRouter("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", 0);
}

void Service::StartRouter(const std::string& client_ep, const std::string& worker_ep, int metrics) {
  const std::string ready = dir.path() + "/router.json";
  fs::remove(ready);
  std::vector<std::string> argv = {BinDir() + "/dsv4-router", "--server-key", KeyFile("router"), "--allow-list",
                                   dir.path() + "/keys/allow-list", "--client-endpoint", client_ep, "--worker-endpoint",
                                   worker_ep, "--metrics-host", "127.0.0.1", "--metrics-port", std::to_string(metrics),
                                   "--ready-file", ready, "--heartbeat-ms", heartbeat_ms_, "--heartbeat-liveness", "3"};
  argv.insert(argv.end(), router_flags_.begin(), router_flags_.end());
  // A restarted router appends to the same log, so Logs() shows both lives.
  router = std::make_unique<Process>(argv, dir.path() + "/router.log");
  const std::string text = WaitForFile(ready, 20s);
  if (text.empty()) throw std::runtime_error("router did not start:\n" + router->Log());
  const auto j = nlohmann::json::parse(text);
  client_endpoint = j.at("client_endpoint");
  worker_endpoint = j.at("worker_endpoint");
  metrics_port = j.at("metrics_port");
}

void Service::RestartRouter() {
  router->Signal(SIGKILL);
  router->Wait(10s);
  StartRouter(client_endpoint, worker_endpoint, metrics_port);
}

Service::Worker& Service::AddWorker(const std::string& tier, const std::string& model, const std::vector<std::string>& flags,
                                    const std::string& key) {
  const size_t n = workers.size();
  const std::string ready = dir.path() + "/worker" + std::to_string(n) + ".json";
  // Tests run one reference-plugin thread unless `flags` say otherwise (a benchmark does).
  const auto given = [&](const char* flag) { return std::find(flags.begin(), flags.end(), flag) != flags.end(); };
  std::vector<std::string> argv = {BinDir() + "/dsv4-worker", "--router", worker_endpoint, "--key", KeyFile(key), "--router-key",
                                   RouterPublicKey(), "--tier", tier, "--metrics-host", "127.0.0.1",
                                   "--metrics-port", "0", "--ready-file", ready, "--heartbeat-ms", heartbeat_ms_,
                                   "--worker-id", tier + "-" + std::to_string(n)};
  if (!given("--threads")) argv.insert(argv.end(), {"--threads", "1"});
  if (model == "echo") {
    argv.push_back("--echo");
  } else {
    argv.insert(argv.end(), {"--model", model});
    if (!given("--plugin")) argv.insert(argv.end(), {"--plugin", "reference"});
  }
  argv.insert(argv.end(), flags.begin(), flags.end());
  auto w = std::make_unique<Worker>();
  w->proc = std::make_unique<Process>(argv, dir.path() + "/worker" + std::to_string(n) + ".log");
  w->id = tier + "-" + std::to_string(n);
  const std::string text = WaitForFile(ready, 60s);
  if (text.empty()) throw std::runtime_error("worker did not start:\n" + w->proc->Log());
  w->metrics_port = nlohmann::json::parse(text).at("metrics_port");
  workers.push_back(std::move(w));
  return *workers.back();
}

bool Service::WaitForWorkers(size_t n, std::chrono::milliseconds timeout, const std::string& tier) {
  return WaitForWorkersAt(client_endpoint, Keys("client"), n, timeout, tier);
}

bool WaitForWorkersAt(const std::string& client_endpoint, const curve::ClientKeys& keys, size_t n, std::chrono::milliseconds timeout,
                      const std::string& tier) {
  client::Client c(client_endpoint, keys);
  const auto end = Clock::now() + timeout;
  int k = 0;
  while (Clock::now() < end) {
    const std::string id = "status-" + std::to_string(++k);
    auto reply = c.Call(protocol::EncodeStatusRequest({id}), id, 2s);
    if (reply && reply->kind == client::Event::Kind::kStatus) {
      size_t live = 0;
      for (const protocol::WorkerStatus& w : reply->status.workers) {
        if (w.draining) continue;
        if (!tier.empty() && protocol::TierName(w.tier) != tier) continue;
        ++live;
      }
      if (live >= n) return true;
    }
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

std::map<std::string, int64_t> Service::ActiveByWorker() const { return ActiveByWorkerAt(client_endpoint, Keys("admin")); }

std::map<std::string, int64_t> ActiveByWorkerAt(const std::string& client_endpoint, const curve::ClientKeys& keys) {
  client::Client c(client_endpoint, keys);
  std::map<std::string, int64_t> out;
  auto reply = c.Call(protocol::EncodeStatusRequest({"active"}), "active", 2s);
  if (!reply || reply->kind != client::Event::Kind::kStatus) return out;
  for (const protocol::WorkerStatus& w : reply->status.workers) out[w.worker_id] = w.active;
  return out;
}

Service::Worker* Service::Find(const std::string& id) {
  for (auto& w : workers) {
    if (w->id == id) return w.get();
  }
  return nullptr;
}

Service::Worker* Service::WaitForBusyWorker(std::chrono::milliseconds timeout) {
  const auto end = Clock::now() + timeout;
  while (Clock::now() < end) {
    for (const auto& [id, active] : ActiveByWorker()) {
      if (active > 0) return Find(id);
    }
    std::this_thread::sleep_for(10ms);
  }
  return nullptr;
}

std::string Service::RouterMetrics() const { return HttpGet(metrics_port, "/metrics"); }

std::string Service::Logs() const {
  std::string s = "---- router log ----\n" + router->Log();
  for (const auto& w : workers) s += "---- " + w->id + " log ----\n" + w->proc->Log();
  return s;
}

// ---- HTTP + metrics -----------------------------------------------------------------------

Cli RunCli(const std::string& cmd) {
  Cli r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), p)) > 0;) r.out.append(buf, n);
  const int status = pclose(p);
  if (status != -1 && WIFEXITED(status)) r.status = WEXITSTATUS(status);
  return r;
}

std::string HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (send(fd, req.data(), req.size(), 0) == static_cast<ssize_t>(req.size())) {
      char buf[65536];
      ssize_t n;
      while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  const size_t body = out.find("\r\n\r\n");
  return body == std::string::npos ? "" : out.substr(body + 4);
}

double Metric(const std::string& text, const std::string& name, const std::map<std::string, std::string>& labels) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t brace = line.find('{');
    const size_t space = line.rfind(' ');
    const std::string n = line.substr(0, std::min(brace, space));
    if (n != name) continue;
    std::map<std::string, std::string> got;
    if (brace != std::string::npos) {
      const size_t close = line.find('}', brace);
      std::string body = line.substr(brace + 1, close - brace - 1);
      size_t i = 0;
      while (i < body.size()) {
        const size_t eq = body.find('=', i);
        const size_t q1 = body.find('"', eq);
        const size_t q2 = body.find('"', q1 + 1);
        got[body.substr(i, eq - i)] = body.substr(q1 + 1, q2 - q1 - 1);
        i = q2 + 2;  // skip `",`
      }
    }
    if (got == labels) return std::stod(line.substr(space + 1));
  }
  return 0.0;
}

std::vector<int32_t> GenerateLocally(const std::string& model, const std::vector<int32_t>& prompt, int64_t max_tokens, double temperature,
                                     uint64_t seed) {
  std::string ids;
  for (size_t i = 0; i < prompt.size(); ++i) {
    if (i) ids += ',';
    ids += std::to_string(prompt[i]);
  }
  const std::string cmd = BinDir() + "/dsv4 generate --model " + model + " --plugin reference --threads 1 --ignore-eos --tokens " + ids +
                          " --max-tokens " + std::to_string(max_tokens) + " --temperature " + std::to_string(temperature) + " --seed " +
                          std::to_string(seed) + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return {};
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  std::istringstream lines(out);
  std::string line, last;
  while (std::getline(lines, line)) {
    if (!line.empty()) last = line;
  }
  std::vector<int32_t> v;
  std::istringstream ls(last);
  for (int32_t t; ls >> t;) v.push_back(t);
  return v;
}

protocol::GenerateRequest Request(const std::string& model, const std::vector<int32_t>& tokens, int64_t max_tokens, const std::string& id) {
  protocol::GenerateRequest r;
  r.id = id.empty() ? client::NewRequestId("itest") : id;
  r.model = protocol::ParseName<protocol::ModelChoice>(model).value();
  r.prompt_kind = protocol::PromptKind::kTokens;
  r.tokens = tokens;
  r.max_tokens = max_tokens;
  r.ignore_eos = true;
  return r;
}

}  // namespace dsv4::itest
