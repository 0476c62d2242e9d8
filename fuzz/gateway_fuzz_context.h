// What the gateway's two fuzz targets read requests against, as dsv4-gateway does: the real
// tokenizer.json and the 0731 release's encoder file (the effort prompts), the default model
// names. Loaded once per process; the paths are $DSV4_TOKENIZER_JSON (as for the tests), else
// the shared copies named at build time.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/error.h"
#include "gateway/api_common.h"
#include "gateway/model_names.h"
#include "gateway/text_model.h"

namespace dsv4::fuzz {

inline const gateway::ApiContext& GatewayContext() {
  static const gateway::TextModel model = [] {
    const char* env = std::getenv("DSV4_TOKENIZER_JSON");
    try {
      return gateway::TextModel::Load(DSV4_FUZZ_MODEL_DIR, env && *env ? env : DSV4_FUZZ_TOKENIZER_JSON);
    } catch (const Error& e) {
      std::fprintf(stderr, "gateway fuzz target: cannot load the text model: %s\n", e.what());
      std::abort();
    }
  }();
  static const gateway::ModelNames names;
  static const gateway::ApiContext ctx{model, names};
  return ctx;
}

}  // namespace dsv4::fuzz
