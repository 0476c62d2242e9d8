// The plugin a worker serves with, replaceable while steps run (hot swap, DESIGN.md): a step takes
// a lease at its start and keeps it until it ends, so a swap never changes kernels mid-step and the
// old library stays loaded until its last step is done. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include "plugins/plugin_loader.h"

namespace dsv4 {

class PluginSlot {
 public:
  explicit PluginSlot(PluginPtr p) : current_(std::move(p)) {}

  PluginPtr get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return current_;
  }

  // The current kernel table, keeping its plugin loaded while the lease lives (the engine's
  // KernelSource).
  std::shared_ptr<const dsv4_kernel_table> Lease() const {
    PluginPtr p = get();
    const dsv4_kernel_table* table = &p->Table();
    return {std::move(p), table};
  }

  void Publish(PluginPtr p) {
    std::lock_guard<std::mutex> lock(mu_);
    current_ = std::move(p);
    ++swaps_;
  }

  uint64_t Swaps() const {
    std::lock_guard<std::mutex> lock(mu_);
    return swaps_;
  }

 private:
  mutable std::mutex mu_;
  PluginPtr current_;
  uint64_t swaps_ = 0;
};

// The engine's KernelSource for a slot: every step leases the slot's current plugin.
inline std::function<std::shared_ptr<const dsv4_kernel_table>()> KernelsFrom(std::shared_ptr<const PluginSlot> slot) {
  return [slot = std::move(slot)] { return slot->Lease(); };
}

// The same for one fixed plugin (tools and tests that never swap).
inline std::function<std::shared_ptr<const dsv4_kernel_table>()> KernelsFrom(PluginPtr plugin) {
  return KernelsFrom(std::make_shared<const PluginSlot>(std::move(plugin)));
}

}  // namespace dsv4
