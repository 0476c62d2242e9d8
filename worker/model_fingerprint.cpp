#include "worker/model_fingerprint.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

namespace dsv4::worker {

namespace {

struct Hash {
  uint64_t h = 0xcbf29ce484222325ull;
  void Add(const char* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(p[i])) * 0x100000001b3ull;
  }
  void Add(const std::string& s) { Add(s.data(), s.size() + 1); }  // with its terminator: "ab"+"c" != "a"+"bc"
};

// Up to `n` bytes of `path` from `offset`.
void AddRange(Hash& h, const std::filesystem::path& path, uint64_t offset, size_t n) {
  std::ifstream f(path, std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  std::vector<char> buf(n);
  f.read(buf.data(), static_cast<std::streamsize>(n));
  h.Add(buf.data(), static_cast<size_t>(f.gcount()));
}

}  // namespace

std::string ModelFingerprint(const std::string& model_dir) {
  if (model_dir.empty()) return "";
  namespace fs = std::filesystem;
  Hash h;
  const fs::path dir(model_dir);
  std::error_code ec;
  if (fs::exists(dir / "config.json", ec)) AddRange(h, dir / "config.json", 0, 1 << 20);
  std::vector<fs::path> shards;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".safetensors") shards.push_back(e.path());
  std::sort(shards.begin(), shards.end());
  constexpr size_t kSample = 64 * 1024;
  for (const fs::path& p : shards) {
    const uint64_t size = fs::file_size(p, ec);
    h.Add(p.filename().string());
    h.Add(std::to_string(size));
    AddRange(h, p, size / 2, kSample);
    AddRange(h, p, size > kSample ? size - kSample : 0, kSample);
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h.h));
  return hex;
}

}  // namespace dsv4::worker
