// Debian's real `prometheus` server for tests (issue 17): started on a free loopback port with a
// generated config that scrapes given targets every second and loads the project's alert rules,
// and queried through its HTTP API. Killed and reaped with its owner (Process).
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/integration/service_harness.h"

namespace dsv4::itest {

inline constexpr char kPrometheusBinary[] = "/usr/bin/prometheus";

class PrometheusServer {
 public:
  // `jobs`: job name -> "127.0.0.1:port" targets. `rule_files`: absolute paths. Throws with the
  // server's log when it does not become ready.
  PrometheusServer(const std::string& dir, const std::map<std::string, std::vector<std::string>>& jobs,
                   const std::vector<std::string>& rule_files);

  // GET /api/v1/<path> (query string already encoded); the parsed JSON, or null on failure.
  nlohmann::json Api(const std::string& path_and_query) const;
  // An instant query's result vector (`data.result`); throws naming the query and the error when
  // Prometheus refuses it.
  nlohmann::json Query(const std::string& promql) const;
  // The query's single value (sum/count style), or NaN when the result is empty.
  double Scalar(const std::string& promql) const;
  // Polls Scalar(promql) until it equals `want` or `timeout` passes; the last value seen.
  double WaitFor(const std::string& promql, double want, std::chrono::milliseconds timeout) const;

  int port() const { return port_; }
  std::string Log() const { return proc_->Log(); }

 private:
  int port_ = 0;
  std::unique_ptr<Process> proc_;
};

// Percent-encoding for a URL query value.
std::string UrlEncode(const std::string& s);

// A loopback TCP port nothing listens on right now (bound and released; for servers that cannot
// report the port they picked).
int FreeLoopbackPort();

}  // namespace dsv4::itest
