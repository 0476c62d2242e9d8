// A checkpoint's config.json and generation_config.json on arbitrary bytes, as a worker reads
// them when it loads a model. A bad file may only throw dsv4::Error naming the field; a config
// that is accepted must write back (ConfigToJson, what dsv4-mkmodel writes) to a file that reads
// as the same config.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/error.h"
#include "model/config.h"
#include "model/generation_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    dsv4::ParseGenerationDefaults(text, "generation_config.json");
  } catch (const dsv4::Error&) {
  }
  std::string written;
  try {
    written = dsv4::ConfigToJson(dsv4::ParseConfig(text, "config.json"));
  } catch (const dsv4::Error&) {
    return 0;
  }
  try {
    if (dsv4::ConfigToJson(dsv4::ParseConfig(written, "written config.json")) == written) return 0;
    std::fprintf(stderr, "config_json_fuzz: an accepted config reads back different once written:\n%s\n", written.c_str());
  } catch (const dsv4::Error& e) {
    std::fprintf(stderr, "config_json_fuzz: an accepted config is refused once written: %s\n", e.what());
  }
  std::abort();
}
