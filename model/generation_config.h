// A checkpoint's sampling defaults, from its generation_config.json (every V4 release ships one:
// do_sample true, temperature 1.0, top_p 1.0). Used for a request that names no sampling
// parameter; one that names them overrides.
#pragma once

#include <string>

namespace dsv4 {

struct GenerationDefaults {
  double temperature = 0.0;  // 0 = greedy: what a checkpoint without the file gets
  double top_p = 1.0;
  std::string source;        // the file read, or "" when there is none
};

// MODEL_DIR/generation_config.json, or greedy defaults when there is none. Throws dsv4::Error
// naming the file and field for a value out of range or of the wrong type.
GenerationDefaults LoadGenerationDefaults(const std::string& model_dir);

// From the text of a generation_config.json; `source` names it in errors.
GenerationDefaults ParseGenerationDefaults(const std::string& json_text, const std::string& source);

}  // namespace dsv4
