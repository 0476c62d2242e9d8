// Finding, opening, validating and choosing kernel plugins (shared objects with the C ABI of
// dsv4_kernel_abi.h). Every refusal is one log line naming the file and the reason.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "plugins/dsv4_kernel_abi.h"

namespace dsv4 {

// A plugin that passed every check. Closing the library happens when the last shared_ptr to it
// is released, so code is never unmapped while a holder may still call into it.
// Thread-safe to share: the table is immutable.
class KernelPlugin {
 public:
  KernelPlugin(void* handle, const dsv4_kernel_table* table, std::string path);
  ~KernelPlugin();
  KernelPlugin(const KernelPlugin&) = delete;
  KernelPlugin& operator=(const KernelPlugin&) = delete;

  const dsv4_kernel_table& Table() const { return *table_; }
  const char* name() const { return table_->name; }
  const std::string& path() const { return path_; }

 private:
  void* handle_;
  const dsv4_kernel_table* table_;
  std::string path_;
};
using PluginPtr = std::shared_ptr<const KernelPlugin>;

using PluginLog = std::function<void(const std::string& line)>;

// Opens one file and checks that neither it nor its directory is writable by others, then the
// entry symbol, ABI version, table size, required CPU features,
// required slots and score. Returns null and sets *error (naming the file) on refusal.
PluginPtr OpenPlugin(const std::string& path, uint64_t cpu_features, std::string* error);

// Compares `candidate` with `reference` on small deterministic cases of every kernel.
// Returns "" when they agree, else a sentence naming the first kernel that did not.
std::string ConformanceSelfTest(const dsv4_kernel_table& candidate,
                                  const dsv4_kernel_table& reference);

struct PluginSelection {
  std::string dir;        // where to look; empty = DefaultPluginDir()
  std::string requested;  // a plugin name ("avx2") or a path to a .so; empty = best score
  uint64_t cpu_features = 0;
  bool cpu_features_set = false;  // false: DetectCpuFeatures()
};

// Directory of the plugins: $DSV4_PLUGIN_DIR if set, else the directory of this executable.
std::string DefaultPluginDir();

// The plugin file name for a plugin name: libdsv4_kernels_NAME.so.
std::string PluginFileName(const std::string& name);

// True for a bare plugin name (letters, digits, '_', '-'; at most 64): what a request over the
// network may name. Paths never come from a request (DESIGN.md "Trust").
bool IsPluginName(const std::string& name);

// Every libdsv4_kernels_*.so in dir, sorted by name.
std::vector<std::string> FindPluginFiles(const std::string& dir);

// Loads the reference plugin (the conformance baseline) and then either the requested plugin or
// the best-scoring one that passes every check, falling back to the next best. Throws
// std::runtime_error if nothing usable is found (a requested plugin that fails is an error, not a
// silent fallback).
PluginPtr SelectPlugin(const PluginSelection& sel, const PluginLog& log);

}  // namespace dsv4
