#include "plugins/plugin_loader.h"

#include <dirent.h>
#include <sys/stat.h>
#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <stdexcept>

#include "plugins/cpu_features.h"

namespace dsv4 {

KernelPlugin::KernelPlugin(void* handle, const dsv4_kernel_table* table, std::string path)
    : handle_(handle), table_(table), path_(std::move(path)) {}

KernelPlugin::~KernelPlugin() {
  if (handle_) dlclose(handle_);
}

namespace {

const char* MissingSlot(const dsv4_kernel_table& t) {
  if (!t.name) return "name";
  if (!t.score) return "score";
  if (!t.matmul) return "matmul";
  if (!t.rmsnorm) return "rmsnorm";
  if (!t.rope) return "rope";
  if (!t.attention) return "attention";
  if (!t.index_scores) return "index_scores";
  if (!t.topk) return "topk";
  if (!t.swiglu) return "swiglu";
  if (!t.softmax_pool) return "softmax_pool";
  if (!t.sinkhorn) return "sinkhorn";
  if (!t.matmul_invariant) return "matmul_invariant";
  if (!t.matmul_quantized) return "matmul_quantized";
  // The packed products come as a set: all three slots or none.
  const int packed = (t.packed_x_bytes != nullptr) + (t.pack_x != nullptr) + (t.matmul_packed != nullptr);
  if (packed != 0 && packed != 3) return !t.packed_x_bytes ? "packed_x_bytes" : !t.pack_x ? "pack_x" : "matmul_packed";
  return nullptr;
}

// "" when neither the file nor its directory is writable by users other than the owner's group;
// else the refusal.
std::string WritableByOthers(const std::string& path) {
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return "cannot stat the file";
  if (st.st_mode & S_IWOTH) return "the file is writable by others (chmod o-w it)";
  if (stat(dir.c_str(), &st) != 0) return "cannot stat its directory " + dir;
  if (st.st_mode & S_IWOTH) return "its directory " + dir + " is writable by others";
  return "";
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

PluginPtr OpenPlugin(const std::string& path, uint64_t cpu_features, std::string* error) {
  auto refuse = [&](const std::string& why) -> PluginPtr {
    *error = "plugin " + path + ": " + why;
    return nullptr;
  };
  if (access(path.c_str(), R_OK) != 0) return refuse("no such readable file");
  // Whoever can write the file or replace it in its directory can run code in this process.
  if (const std::string why = WritableByOthers(path); !why.empty()) return refuse(why);
  // RTLD_LOCAL keeps two copies of the same plugin from sharing symbols.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* e = dlerror();
    return refuse(std::string("dlopen failed: ") + (e ? e : "unknown"));
  }
  auto close_and_refuse = [&](const std::string& why) {
    dlclose(handle);
    return refuse(why);
  };
  auto entry = reinterpret_cast<dsv4_kernel_entry_fn>(dlsym(handle, DSV4_KERNEL_ENTRY_SYMBOL));
  if (!entry) return close_and_refuse("missing entry symbol " DSV4_KERNEL_ENTRY_SYMBOL);
  const dsv4_kernel_table* t = entry();
  if (!t) return close_and_refuse("entry symbol returned no kernel table");
  if (t->abi_version != DSV4_KERNEL_ABI_VERSION) {
    return close_and_refuse("ABI version " + std::to_string(t->abi_version) + ", this engine needs " +
                            std::to_string(DSV4_KERNEL_ABI_VERSION));
  }
  if (t->table_size < sizeof(dsv4_kernel_table)) {
    return close_and_refuse("kernel table is " + std::to_string(t->table_size) +
                            " bytes, this engine needs " + std::to_string(sizeof(dsv4_kernel_table)));
  }
  if (const char* slot = MissingSlot(*t)) {
    return close_and_refuse(std::string("required kernel slot '") + slot + "' is NULL");
  }
  const uint64_t missing = t->required_features & ~cpu_features;
  if (missing) {
    return close_and_refuse("needs CPU features this machine lacks: " + DescribeCpuFeatures(missing));
  }
  if (t->score(cpu_features) <= 0) return close_and_refuse("scores 0 (cannot run on this CPU)");
  return std::make_shared<KernelPlugin>(handle, t, path);
}

std::string DefaultPluginDir() {
  if (const char* env = std::getenv("DSV4_PLUGIN_DIR"); env && *env) return env;
  char buf[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string exe(buf, static_cast<size_t>(n));
  const auto slash = exe.rfind('/');
  return slash == std::string::npos ? "." : exe.substr(0, slash);
}

std::string PluginFileName(const std::string& name) { return "libdsv4_kernels_" + name + ".so"; }

bool IsPluginName(const std::string& name) {
  return !name.empty() && name.size() <= 64 &&
         name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == std::string::npos;
}

std::vector<std::string> FindPluginFiles(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.rfind("libdsv4_kernels_", 0) == 0 && EndsWith(name, ".so")) out.push_back(dir + "/" + name);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

PluginPtr SelectPlugin(const PluginSelection& sel, const PluginLog& log) {
  const std::string dir = sel.dir.empty() ? DefaultPluginDir() : sel.dir;
  const uint64_t cpu = sel.cpu_features_set ? sel.cpu_features : DetectCpuFeatures();
  std::string error;
  PluginPtr reference = OpenPlugin(dir + "/" + PluginFileName("reference"), cpu, &error);
  if (!reference) throw std::runtime_error("the reference kernel plugin is required: " + error);

  std::string why;  // the last refusal
  auto validate = [&](const std::string& path) -> PluginPtr {
    PluginPtr p = OpenPlugin(path, cpu, &why);
    if (!p) {
      log("refused " + why);
      return nullptr;
    }
    if (p.get() != reference.get() && std::string(p->name()) != "reference") {
      const std::string failure = ConformanceSelfTest(p->Table(), reference->Table());
      if (!failure.empty()) {
        why = "plugin " + path + ": conformance self-test failed: " + failure;
        log("refused " + why);
        return nullptr;
      }
    }
    return p;
  };

  if (!sel.requested.empty()) {
    const bool is_path = sel.requested.find('/') != std::string::npos || EndsWith(sel.requested, ".so");
    const std::string path = is_path ? sel.requested : dir + "/" + PluginFileName(sel.requested);
    if (!is_path && sel.requested == "reference") return reference;
    PluginPtr p = validate(path);
    if (!p) throw std::runtime_error("requested kernel plugin '" + sel.requested + "' is not usable: " + why);
    return p;
  }

  PluginPtr best = reference;
  int32_t best_score = reference->Table().score(cpu);
  for (const std::string& path : FindPluginFiles(dir)) {
    if (path == reference->path()) continue;
    PluginPtr p = validate(path);
    if (!p) continue;
    const int32_t s = p->Table().score(cpu);
    if (s > best_score) {
      best = p;
      best_score = s;
    }
  }
  log("using kernel plugin '" + std::string(best->name()) + "' (" + best->path() + ", cpu: " +
      DescribeCpuFeatures(cpu) + ")");
  return best;
}

}  // namespace dsv4
