// Helpers shared by the engine tests: reading golden files, running the engine, comparing.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/engine.h"
#include "plugins/plugin_slot.h"
#include "plugins/plugin_loader.h"

namespace dsv4::test {

std::string golden_dir();       // shared/golden/tiny-v4
std::string bin_dir();          // the built binaries and plugins
std::vector<float> read_f32(const std::string& path);
std::vector<int32_t> read_i32(const std::string& path);

// A plugin by name from the build's plugin directory (fails the test if it cannot load).
PluginPtr load_plugin(const std::string& name);
// Names of every plugin in the build directory that can run on this CPU.
std::vector<std::string> runnable_plugins();

// An engine over `model` with one plugin.
std::unique_ptr<Engine> make_engine(std::shared_ptr<const Model> model, const std::string& plugin = "reference",
                                    int threads = 2, Numerics numerics = Numerics::kFp32);

// Prefill `tokens` in one step; returns logits for every position [n, vocab].
std::vector<float> prefill_all(Engine& e, SequenceState& s, const std::vector<int32_t>& tokens);
// Prefill `tokens` in chunks of `chunk`; returns every position's logits.
std::vector<float> prefill_chunked(Engine& e, SequenceState& s, const std::vector<int32_t>& tokens, int64_t chunk);

float max_abs_diff(const float* a, const float* b, size_t n);

// A temporary directory removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace dsv4::test

namespace dsv4::test {

struct CommandResult {
  int exit_code = -1;
  std::string out, err;
  std::string last_line() const;  // last non-empty line of stdout
};
// Runs a shell command, capturing stdout and stderr.
CommandResult run_command(const std::string& cmd);

// Resident set size of this process in bytes (VmRSS).
size_t resident_bytes();

}  // namespace dsv4::test
