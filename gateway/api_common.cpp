#include "gateway/api_common.h"

#include <chrono>
#include <cstdio>
#include <random>

#include "gateway/api_error.h"

namespace dsv4::gateway {

protocol::ModelChoice ResolveModel(const Fields& f, const ModelNames& names) {
  const std::string name = f.RequiredStr("model");
  const auto tier = names.Resolve(name);
  if (!tier) {
    throw ApiError(ErrorKind::kNotFound, "the model '" + name + "' does not exist; this gateway serves: " + names.Accepted(), "model");
  }
  return *tier;
}

void ReadSampling(const Fields& f, double max_temperature, protocol::GenerateRequest* r) {
  if (f.Get("temperature")) r->temperature = f.Number("temperature", 0.0, 0.0, max_temperature);
  if (f.Get("top_p")) {
    r->top_p = f.Number("top_p", 1.0, 0.0, 1.0);
    if (*r->top_p <= 0.0) f.Fail("top_p", "must be greater than 0");
  }
  r->top_k = f.Int("top_k", 0, 0, INT64_MAX);
  r->seed = static_cast<uint64_t>(f.Int("seed", 0, INT64_MIN, INT64_MAX));
}

std::vector<std::string> ReadStops(const Fields& f, const char* key) {
  const Json* v = f.Get(key);
  if (!v) return {};
  if (v->is_string()) return {v->get<std::string>()};
  if (!v->is_array()) f.Fail(key, std::string("must be a string or an array of strings, got ") + TypeName(*v));
  if (v->size() > 16) f.Fail(key, "may hold at most 16 strings, got " + std::to_string(v->size()));
  std::vector<std::string> stops;
  for (const Json& s : *v) {
    if (!s.is_string()) f.Fail(key, std::string("must hold strings only, found ") + TypeName(s));
    stops.push_back(s.get<std::string>());
  }
  return stops;
}

std::string NewId(const std::string& prefix) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char hex[25];
  std::snprintf(hex, sizeof hex, "%016llx%08llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng() & 0xffffffffULL));
  return prefix + hex;
}

int64_t UnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace dsv4::gateway
