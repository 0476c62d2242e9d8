#include "tests/integration/prometheus_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace dsv4::itest {

std::string UrlEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

int FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) close(fd);
    throw std::runtime_error("cannot find a free loopback port");
  }
  close(fd);
  return ntohs(addr.sin_port);
}

PrometheusServer::PrometheusServer(const std::string& dir, const std::map<std::string, std::vector<std::string>>& jobs,
                                   const std::vector<std::string>& rule_files) {
  // One-second scrapes and rule evaluations, so a test sees its load within seconds.
  const std::string config = dir + "/prometheus.yml";
  {
    std::ofstream f(config);
    f << "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\nrule_files:\n";
    for (const auto& r : rule_files) f << "  - \"" << r << "\"\n";
    f << "scrape_configs:\n";
    for (const auto& [job, targets] : jobs) {
      f << "  - job_name: " << job << "\n    static_configs: [{targets: [";
      for (size_t i = 0; i < targets.size(); ++i) f << (i ? ", " : "") << '"' << targets[i] << '"';
      f << "]}]\n";
    }
  }
  // The port is picked here and handed over; a clash with another test's server in between shows
  // up as a start failure naming the address, and the loop tries another one.
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = FreeLoopbackPort();
    proc_ = std::make_unique<Process>(std::vector<std::string>{kPrometheusBinary, "--config.file=" + config,
                                                               "--storage.tsdb.path=" + dir + "/tsdb",
                                                               "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                                               "--log.level=warn"},
                                      dir + "/prometheus" + std::to_string(attempt) + ".log");
    for (int i = 0; i < 300 && proc_->Running(); ++i) {
      if (HttpGet(port_, "/-/ready").find("Ready") != std::string::npos) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  throw std::runtime_error("prometheus did not become ready:\n" + proc_->Log());
}

nlohmann::json PrometheusServer::Api(const std::string& path_and_query) const {
  const std::string body = HttpGet(port_, "/api/v1/" + path_and_query);
  return nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
}

nlohmann::json PrometheusServer::Query(const std::string& promql) const {
  const nlohmann::json j = Api("query?query=" + UrlEncode(promql));
  if (j.is_discarded() || j.value("status", "") != "success")
    throw std::runtime_error("prometheus refused query '" + promql + "': " + (j.is_discarded() ? "no answer" : j.dump()));
  return j.at("data").at("result");
}

double PrometheusServer::Scalar(const std::string& promql) const {
  const nlohmann::json r = Query(promql);
  if (r.empty()) return std::nan("");
  return std::stod(r.at(0).at("value").at(1).get<std::string>());
}

double PrometheusServer::WaitFor(const std::string& promql, double want, std::chrono::milliseconds timeout) const {
  const auto end = std::chrono::steady_clock::now() + timeout;
  double v = Scalar(promql);
  while (v != want && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    v = Scalar(promql);
  }
  return v;
}

}  // namespace dsv4::itest
