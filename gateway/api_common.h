// What the OpenAI and Anthropic mappings share: the context they read (text model, model names,
// limits), the model name -> tier lookup, sampling fields, stop strings, response ids.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gateway/generation.h"
#include "gateway/model_names.h"
#include "gateway/request_fields.h"
#include "gateway/text_model.h"

namespace dsv4::gateway {

struct ApiContext {
  const TextModel& model;
  const ModelNames& names;
  int64_t default_max_tokens = 4096;  // when a chat request gives none
};

// The tier for the request's `model` field: ApiError kNotFound naming the model and the accepted
// names when unknown.
protocol::ModelChoice ResolveModel(const Fields& f, const ModelNames& names);

// temperature (0..max_temperature) and top_p (0..1] when the request names them (otherwise the
// worker applies its checkpoint's generation_config.json), top_k (0 = off), seed.
void ReadSampling(const Fields& f, double max_temperature, protocol::GenerateRequest* r);

// A string or an array of at most 16 strings (`key` names it in errors).
std::vector<std::string> ReadStops(const Fields& f, const char* key);

// A fresh id for a response or a tool call: prefix + 24 hex digits.
std::string NewId(const std::string& prefix);

// Seconds since the epoch (the `created` of OpenAI objects).
int64_t UnixSeconds();

}  // namespace dsv4::gateway
