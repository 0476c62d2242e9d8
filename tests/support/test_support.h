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

std::string GoldenDir();       // shared/golden/tiny-v4
std::string BinDir();          // the built binaries and plugins
std::vector<float> ReadF32(const std::string& path);
std::vector<int32_t> ReadI32(const std::string& path);

// A plugin by name from the build's plugin directory (fails the test if it cannot load).
PluginPtr LoadPlugin(const std::string& name);
// Names of every plugin in the build directory that can run on this CPU.
std::vector<std::string> RunnablePlugins();
// A plugin's name as a test parameter name (gtest allows only letters, digits and '_').
std::string PluginParamName(const std::string& plugin);

// An engine over `model` with one plugin.
std::unique_ptr<Engine> MakeEngine(std::shared_ptr<const Model> model, const std::string& plugin = "reference",
                                    int threads = 2, Numerics numerics = Numerics::kFp32);

// Prefill `tokens` in one step; returns logits for every position [n, vocab].
std::vector<float> PrefillAll(Engine& e, SequenceState& s, const std::vector<int32_t>& tokens);
// Prefill `tokens` in chunks of `chunk`; returns every position's logits.
std::vector<float> PrefillChunked(Engine& e, SequenceState& s, const std::vector<int32_t>& tokens, int64_t chunk);
// Runs `seqs` from new states, sharing steps: each step advances every unfinished sequence i by
// a chunk of step_sizes[i] tokens (prefill chunks beside single decode tokens, so positions
// differ within a step). Returns each sequence's logits for every position.
std::vector<std::vector<float>> StepTogether(Engine& e, const std::vector<std::vector<int32_t>>& seqs,
                                             const std::vector<int64_t>& step_sizes);

float MaxAbsDiff(const float* a, const float* b, size_t n);

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
  std::string LastLine() const;  // last non-empty line of stdout
};
// Runs a shell command, capturing stdout and stderr.
CommandResult RunCommand(const std::string& cmd);

// Resident set size of this process in bytes (VmRSS).
size_t ResidentBytes();

}  // namespace dsv4::test
