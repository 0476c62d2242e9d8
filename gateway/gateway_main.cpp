// dsv4-gateway: flags -> text model, router bridge, routes -> HTTP server until SIGINT/SIGTERM.
#include <filesystem>
#include <fstream>
#include <iostream>

#include "base/flags.h"
#include "gateway/http_server.h"
#include "gateway/routes.h"

namespace po = boost::program_options;
using namespace dsv4::gateway;

int main(int argc, char** argv) {
  HttpServerConfig http;
  std::string router = "tcp://127.0.0.1:5555", key_file, router_key_file, model_dir, tokenizer, api_keys, ready_file;
  std::vector<std::string> aliases;
  int64_t default_max_tokens = 4096, timeout_s = 600, drain_s = 30;
  dsv4::Flags flags("dsv4-gateway", "usage: dsv4-gateway (--model DIR | --tokenizer FILE) [options]", /*with_config_file=*/true);
  flags.Add()(
      "router", po::value(&router)->default_value(router), "the router's client endpoint")(
      "key", po::value(&key_file), "the gateway's own CurveZMQ key pair (dsv4ctl keygen --role client), on the router's allow-list")(
      "router-key", po::value(&router_key_file), "the router's public key file (router.pub)")(
      "model", po::value(&model_dir), "checkpoint directory to read tokenizer.json and encoding/ from")(
      "tokenizer", po::value(&tokenizer), "a tokenizer.json to use instead of MODEL/tokenizer.json")(
      "host", po::value(&http.host)->default_value(http.host), "address to listen on")(
      "port", po::value(&http.port)->default_value(http.port), "HTTP port (0 = any free port, see --ready-file)")(
      "threads", po::value(&http.threads)->default_value(http.threads), "HTTP threads")(
      "alias", po::value(&aliases)->composing(), "NAME=flash|pro|auto: another model name (repeatable)")(
      "api-keys", po::value(&api_keys), "file of accepted API keys, one a line (default: no key needed)")(
      "max-body-bytes", po::value(&http.max_body_bytes)->default_value(http.max_body_bytes), "largest request body (413 beyond)")(
      "default-max-tokens", po::value(&default_max_tokens)->default_value(default_max_tokens), "max_tokens of a chat request giving none")(
      "request-timeout-s", po::value(&timeout_s)->default_value(timeout_s), "a request with no answer from the router by then fails (503)")(
      "drain-s", po::value(&drain_s)->default_value(drain_s), "on SIGTERM, how long open responses may finish")(
      "ready-file", po::value(&ready_file), "write {port, base_url} here (JSON) once listening");
  if (const auto rc = flags.Parse(argc, argv, [&](const po::variables_map&) {
        if (model_dir.empty() && tokenizer.empty()) throw po::error("give --model DIR (or --tokenizer FILE)");
        if (http.threads < 1 || default_max_tokens < 1 || timeout_s < 1) throw po::error("--threads, --default-max-tokens and --request-timeout-s must be >= 1");
      }))
    return *rc;
  try {
    http.drain = std::chrono::seconds(drain_s);
    const TextModel text = TextModel::Load(model_dir, tokenizer);
    const ModelNames names(aliases);
    ApiKeys keys = api_keys.empty() ? ApiKeys() : ApiKeys::Load(api_keys);
    GatewayMetrics metrics;
    RouterBridge bridge(router, dsv4::curve::LoadClientKeys(key_file, router_key_file), std::chrono::seconds(timeout_s));
    Routes routes(ApiContext{text, names, default_max_tokens}, std::move(keys), bridge, metrics, http.max_body_bytes);
    HttpServer server(http, [&routes](const HttpRequest& r, std::shared_ptr<Responder> out) { routes.Handle(r, std::move(out)); }, metrics);
    const std::string base_url = "http://" + http.host + ":" + std::to_string(server.port()) + "/v1";
    std::cerr << "dsv4-gateway: serving " << base_url << " (router " << router << ", models " << names.Accepted() << ")\n";
    if (!ready_file.empty()) {
      const std::string tmp = ready_file + ".tmp";
      std::ofstream(tmp) << "{\"port\": " << server.port() << ", \"base_url\": \"" << base_url << "\"}\n";
      std::filesystem::rename(tmp, ready_file);
    }
    server.Run();
    std::cerr << "dsv4-gateway: stopped\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "dsv4-gateway: error: " << e.what() << "\n";
    return 1;
  }
}
