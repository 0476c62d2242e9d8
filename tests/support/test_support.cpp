#include "tests/support/test_support.h"

#include <cctype>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

#include "plugins/cpu_features.h"

namespace dsv4::test {

std::string GoldenDir() { return std::string(DSV4_SHARED_DIR) + "/golden/tiny-v4"; }
std::string BinDir() { return DSV4_BIN_DIR; }

template <typename T>
static std::vector<T> ReadRaw(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  in.seekg(0, std::ios::end);
  const auto bytes = static_cast<size_t>(in.tellg());
  in.seekg(0);
  std::vector<T> v(bytes / sizeof(T));
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(T)));
  return v;
}
std::vector<float> ReadF32(const std::string& path) { return ReadRaw<float>(path); }
std::vector<int32_t> ReadI32(const std::string& path) { return ReadRaw<int32_t>(path); }

PluginPtr LoadPlugin(const std::string& name) {
  std::string error;
  PluginPtr p = OpenPlugin(BinDir() + "/" + PluginFileName(name), DetectCpuFeatures(), &error);
  if (!p) throw std::runtime_error(error);
  return p;
}

std::string PluginParamName(const std::string& plugin) {
  std::string n = plugin;
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}

std::vector<std::string> RunnablePlugins() {
  std::vector<std::string> names;
  for (const std::string& path : FindPluginFiles(BinDir())) {
    std::string error;
    PluginPtr p = OpenPlugin(path, DetectCpuFeatures(), &error);
    if (p) names.push_back(p->name());
  }
  return names;
}

std::unique_ptr<Engine> MakeEngine(std::shared_ptr<const Model> model, const std::string& plugin, int threads,
                                    Numerics numerics) {
  return std::make_unique<Engine>(std::move(model), KernelsFrom(LoadPlugin(plugin)), threads, numerics);
}

std::vector<float> PrefillAll(Engine& e, SequenceState& s, const std::vector<int32_t>& tokens) {
  std::vector<float> logits;
  e.Forward({SeqChunk{&s, tokens.data(), static_cast<int64_t>(tokens.size()), true, &logits}});
  return logits;
}

std::vector<float> PrefillChunked(Engine& e, SequenceState& s, const std::vector<int32_t>& tokens, int64_t chunk) {
  std::vector<float> all, part;
  for (size_t off = 0; off < tokens.size(); off += static_cast<size_t>(chunk)) {
    const int64_t n = std::min<int64_t>(chunk, static_cast<int64_t>(tokens.size() - off));
    e.Forward({SeqChunk{&s, tokens.data() + off, n, true, &part}});
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

std::vector<std::vector<float>> StepTogether(Engine& e, const std::vector<std::vector<int32_t>>& seqs,
                                             const std::vector<int64_t>& step_sizes) {
  std::vector<SequenceState> states;
  for (size_t i = 0; i < seqs.size(); ++i) states.push_back(e.NewSequence());
  std::vector<std::vector<float>> got(seqs.size()), part(seqs.size());
  for (;;) {
    std::vector<SeqChunk> chunks;
    std::vector<size_t> who;
    for (size_t i = 0; i < seqs.size(); ++i) {
      const auto done = static_cast<size_t>(states[i].pos);
      if (done >= seqs[i].size()) continue;
      const int64_t n = std::min<int64_t>(step_sizes[i], static_cast<int64_t>(seqs[i].size() - done));
      chunks.push_back(SeqChunk{&states[i], seqs[i].data() + done, n, true, &part[i]});
      who.push_back(i);
    }
    if (chunks.empty()) return got;
    e.Forward(chunks);
    for (size_t i : who) got[i].insert(got[i].end(), part[i].begin(), part[i].end());
  }
}

float MaxAbsDiff(const float* a, const float* b, size_t n) {
  float m = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    const float d = std::fabs(a[i] - b[i]);
    if (std::isnan(d)) return INFINITY;
    m = std::max(m, d);
  }
  return m;
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "dsv4-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace dsv4::test

namespace dsv4::test {

std::string CommandResult::LastLine() const {
  size_t end = out.size();
  while (end > 0 && (out[end - 1] == '\n' || out[end - 1] == '\r')) --end;
  const size_t start = out.rfind('\n', end == 0 ? 0 : end - 1);
  return out.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1));
}

static std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CommandResult RunCommand(const std::string& cmd) {
  TempDir tmp;
  const std::string out = tmp.path() + "/out", err = tmp.path() + "/err";
  const int status = std::system((cmd + " >" + out + " 2>" + err + " </dev/null").c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = Slurp(out);
  r.err = Slurp(err);
  return r;
}

size_t ResidentBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return static_cast<size_t>(std::stoull(line.substr(6))) * 1024;
  }
  return 0;
}

}  // namespace dsv4::test
