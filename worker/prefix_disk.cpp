#include "worker/prefix_disk.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace dsv4::worker {

namespace {

constexpr char kMagic[8] = {'D', 'S', 'V', '4', 'P', 'F', 'X', '1'};
constexpr const char* kSuffix = ".snap";

// Fixed-size part at the start of every file; the body follows.
struct RawHeader {
  char magic[8];
  uint64_t key;
  uint64_t parent;
  int64_t pos;             // tokens the snapshot covers
  int64_t block;           // tokens its last block added (the parent covers pos - block)
  uint64_t identity_bytes;
  uint64_t layers;
  uint64_t body_bytes;
  uint64_t checksum;       // of the body
};

uint64_t Checksum(const char* p, size_t n) {
  uint64_t h = 0x84222325cbf29ce4ull ^ n;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
  }
  for (; i < n; ++i) h = (h ^ static_cast<unsigned char>(p[i])) * 0x100000001b3ull;
  return h ^ (h >> 32);
}

// ---- writing ----
class Out {
 public:
  template <typename T>
  void Put(T v) { bytes.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void Floats(const float* p, size_t n) {
    Put<uint64_t>(n);
    if (n) bytes.append(reinterpret_cast<const char*>(p), n * sizeof(float));  // p may be null when n is 0
  }
  void Buffer(const CompressorBuffer& b) {
    Put<int64_t>(b.base_pos);
    Put<int64_t>(b.rows);
    Floats(b.value.data(), b.value.size());
    Floats(b.score.data(), b.score.size());
  }
  std::string bytes;
};

// The rows of `g` its parent snapshot (at parent_pos) did not have: at a block boundary every
// compressor window is closed, so a layer holds n_entries = pos / ratio rows and the parent
// n_entries * parent_pos / pos of them. False for any other layout (nothing is written then).
bool NewRows(const GrowableFloats& g, int64_t n_entries, int64_t pos, int64_t parent_pos, size_t& base) {
  if (g.size() == 0) return base = 0, true;
  if (n_entries <= 0 || g.size() % static_cast<size_t>(n_entries) != 0 || (n_entries * parent_pos) % pos != 0) return false;
  base = g.size() / static_cast<size_t>(n_entries) * static_cast<size_t>(n_entries * parent_pos / pos);
  return true;
}

// ---- reading ----
class In {
 public:
  In(const char* p, size_t n) : p_(p), end_(p + n) {}
  template <typename T>
  bool Get(T& v) {
    if (static_cast<size_t>(end_ - p_) < sizeof v) return false;
    std::memcpy(&v, p_, sizeof v);
    p_ += sizeof v;
    return true;
  }
  // A float array's length and where its bytes are (copied later, once everything checked).
  bool Floats(const char*& data, uint64_t& n) {
    if (!Get(n) || n > static_cast<size_t>(end_ - p_) / sizeof(float)) return false;
    data = p_;
    p_ += n * sizeof(float);
    return true;
  }
  bool Bytes(const char*& data, size_t n) {
    if (n > static_cast<size_t>(end_ - p_)) return false;
    data = p_;
    p_ += n;
    return true;
  }
  bool AtEnd() const { return p_ == end_; }

 private:
  const char* p_;
  const char* end_;
};

struct FloatsView {
  const char* data = nullptr;
  uint64_t n = 0;
  void CopyTo(std::vector<float>& v) const {
    v.resize(n);
    if (n) std::memcpy(v.data(), data, n * sizeof(float));  // an empty vector's data() may be null
  }
};

struct BufferView {
  int64_t base_pos = 0, rows = 0;
  FloatsView value, score;
  bool Read(In& in) { return in.Get(base_pos) && in.Get(rows) && in.Floats(value.data, value.n) && in.Floats(score.data, score.n); }
  void CopyTo(CompressorBuffer& b) const {
    b.base_pos = base_pos;
    b.rows = rows;
    value.CopyTo(b.value);
    score.CopyTo(b.score);
  }
};

struct LayerView {
  int64_t n_entries = 0;
  FloatsView window;
  BufferView compressor, index_compressor;
  uint64_t entries_base = 0, keys_base = 0;
  FloatsView entries, keys;
};

// A read-only mapping of a whole file, unmapped and closed at scope exit.
struct Mapping {
  int fd = -1;
  void* data = MAP_FAILED;
  size_t size = 0;
  ~Mapping() {
    if (data != MAP_FAILED) munmap(data, size);
    if (fd >= 0) close(fd);
  }
};

void Append(GrowableFloats& g, const FloatsView& rows) {
  const size_t at = g.size();
  g.resize(at + rows.n);
  if (rows.n) std::memcpy(g.data() + at, rows.data, rows.n * sizeof(float));
}

bool ParseKey(const std::string& name, uint64_t& key) {
  const size_t n = std::strlen(kSuffix);
  if (name.size() != 16 + n || name.compare(16, n, kSuffix) != 0) return false;
  for (size_t i = 0; i < 16; ++i)
    if (!std::isxdigit(static_cast<unsigned char>(name[i]))) return false;
  key = std::stoull(name.substr(0, 16), nullptr, 16);
  return true;
}

}  // namespace

PrefixDisk::PrefixDisk(std::string dir, size_t budget_bytes, int64_t block_tokens, std::string identity)
    : dir_(std::move(dir)), budget_bytes_(budget_bytes), block_tokens_(block_tokens), identity_(std::move(identity)) {
  if (mkdir(dir_.c_str(), 0755) != 0 && errno != EEXIST)
    throw std::runtime_error("prefix cache directory " + dir_ + ": cannot create it: " + std::strerror(errno));
  struct stat st {};
  if (stat(dir_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) throw std::runtime_error("prefix cache directory " + dir_ + ": not a directory");
  if (access(dir_.c_str(), R_OK | W_OK | X_OK) != 0)
    throw std::runtime_error("prefix cache directory " + dir_ + ": cannot read and write it: " + std::strerror(errno));
  Scan();
  EvictToBudget(budget_bytes_);
}

std::string PrefixDisk::KeyName(uint64_t key) {
  char name[17];
  std::snprintf(name, sizeof name, "%016llx", static_cast<unsigned long long>(key));
  return name;
}

std::string PrefixDisk::FileName(uint64_t key) { return KeyName(key) + kSuffix; }

std::string PrefixDisk::PathOf(uint64_t key) const { return dir_ + "/" + FileName(key); }

bool PrefixDisk::ReadHeader(const std::string& path, Header& h) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  RawHeader raw{};
  const bool ok = pread(fd, &raw, sizeof raw, 0) == static_cast<ssize_t>(sizeof raw) && std::memcmp(raw.magic, kMagic, sizeof kMagic) == 0;
  close(fd);
  if (ok) h = Header{raw.key, raw.parent, raw.pos};
  return ok;
}

void PrefixDisk::Scan() {
  // Headers are read only for files not seen before (a file never changes under its name,
  // except when replaced whole by one with the same key, hence the same parent).
  std::unordered_map<uint64_t, File> known = std::move(files_);
  files_.clear();
  bytes_ = 0;
  DIR* d = opendir(dir_.c_str());
  if (!d) return;  // checked at construction; gone since: nothing is cached
  struct Found {
    uint64_t key;
    File file;
    int64_t mtime_ns;
  };
  std::vector<Found> found;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    const std::string path = dir_ + "/" + name;
    uint64_t key = 0;
    if (name.size() > 5 && name[0] == '.' && name.compare(name.size() - 4, 4, ".tmp") == 0) {
      // ".<key>.<pid>.<n>.tmp": a write that a dead worker never finished.
      const size_t dot = name.find('.', 1);
      const long pid = dot == std::string::npos ? 0 : std::strtol(name.c_str() + dot + 1, nullptr, 10);
      if (pid > 0 && kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) unlink(path.c_str());
      continue;
    }
    if (!ParseKey(name, key)) continue;
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) continue;  // removed meanwhile
    Header h;
    auto seen = known.find(key);
    if (seen != known.end()) {
      h.parent = seen->second.parent;
      h.pos = seen->second.pos;
    } else if (!ReadHeader(path, h) || h.key != key) {
      unlink(path.c_str());
      ++rejected_;
      continue;
    }
    found.push_back({key, File{h.parent, h.pos, static_cast<size_t>(st.st_size), 0, 0},
                     static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec});
  }
  closedir(d);
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) { return a.mtime_ns < b.mtime_ns; });
  for (Found& f : found) {
    f.file.used = ++clock_;
    files_.emplace(f.key, f.file);
    bytes_ += f.file.bytes;
  }
  for (auto& [key, f] : files_) {
    auto parent = files_.find(f.parent);
    if (parent != files_.end() && parent->first != key) ++parent->second.children;
  }
}

void PrefixDisk::Add(uint64_t key, const File& f) {
  auto [it, added] = files_.emplace(key, f);
  if (!added) return;
  bytes_ += f.bytes;
  // Its children are not there yet: a file is written after its parent, and a file read back
  // was found by walking from its parent (a child left from an earlier life is counted at the
  // next scan).
  auto parent = files_.find(f.parent);
  if (parent != files_.end() && parent->first != key) ++parent->second.children;
}

void PrefixDisk::Forget(uint64_t key) {
  auto it = files_.find(key);
  if (it == files_.end()) return;
  auto parent = files_.find(it->second.parent);
  if (parent != files_.end() && parent->second.children > 0) --parent->second.children;
  bytes_ -= it->second.bytes;
  files_.erase(it);
}

void PrefixDisk::Remove(uint64_t key) {
  unlink(PathOf(key).c_str());
  Forget(key);
}

void PrefixDisk::Reject(uint64_t key) {
  ++rejected_;
  Remove(key);
}

void PrefixDisk::EvictToBudget(size_t target) {
  while (bytes_ > target && !files_.empty()) {
    // The least recently used chain end; a cycle of parents (only from hash collisions) has
    // none, and then the least recently used file at all goes.
    auto victim = files_.end(), oldest = files_.end();
    for (auto it = files_.begin(); it != files_.end(); ++it) {
      if (oldest == files_.end() || it->second.used < oldest->second.used) oldest = it;
      if (it->second.children == 0 && (victim == files_.end() || it->second.used < victim->second.used)) victim = it;
    }
    Remove((victim != files_.end() ? victim : oldest)->first);
    ++evictions_;
  }
}

bool PrefixDisk::Write(uint64_t key, uint64_t parent, const int32_t* tokens, const SequenceState& state) {
  const std::string path = PathOf(key);
  const int64_t pos = state.pos, parent_pos = state.pos - block_tokens_;
  if (parent_pos < 0 || files_.count(key) || access(path.c_str(), F_OK) == 0) return false;
  Out body;
  body.bytes.append(identity_);
  body.bytes.append(reinterpret_cast<const char*>(tokens), static_cast<size_t>(pos) * sizeof(int32_t));
  for (const LayerState& l : state.layers) {
    size_t entries_base = 0, keys_base = 0;
    if (!NewRows(l.entries, l.n_entries, pos, parent_pos, entries_base) || !NewRows(l.index_keys, l.n_entries, pos, parent_pos, keys_base))
      return false;
    body.Put<int64_t>(l.n_entries);
    body.Floats(l.window.data(), l.window.size());
    body.Buffer(l.compressor);
    body.Buffer(l.index_compressor);
    body.Put<uint64_t>(entries_base);
    body.Floats(l.entries.data() + entries_base, l.entries.size() - entries_base);
    body.Put<uint64_t>(keys_base);
    body.Floats(l.index_keys.data() + keys_base, l.index_keys.size() - keys_base);
  }
  RawHeader h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.key = key;
  h.parent = parent;
  h.pos = pos;
  h.block = block_tokens_;
  h.identity_bytes = identity_.size();
  h.layers = state.layers.size();
  h.body_bytes = body.bytes.size();
  h.checksum = Checksum(body.bytes.data(), body.bytes.size());
  const size_t total = sizeof h + body.bytes.size();
  if (total > budget_bytes_) return false;

  // Written whole under a temporary name, then renamed into place: another worker sees the
  // complete file or none.
  const std::string tmp = dir_ + "/." + FileName(key) + "." + std::to_string(getpid()) + "." + std::to_string(++writes_) + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  bool ok = ::write(fd, &h, sizeof h) == static_cast<ssize_t>(sizeof h);
  for (size_t off = 0; ok && off < body.bytes.size();) {
    const ssize_t n = ::write(fd, body.bytes.data() + off, body.bytes.size() - off);
    if (n <= 0) ok = false;
    else off += static_cast<size_t>(n);
  }
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    unlink(tmp.c_str());
    return false;
  }
  Add(key, File{parent, pos, total, ++clock_, 0});
  if (bytes_ > budget_bytes_) {
    // Other workers' files count against the budget too. Down to 90 %, so that a full directory
    // is scanned once per several writes rather than on each.
    Scan();
    EvictToBudget(budget_bytes_ - budget_bytes_ / 10);
  }
  return true;
}

bool PrefixDisk::Extend(uint64_t key, uint64_t parent, const int32_t* tokens, SequenceState& state) {
  const std::string path = PathOf(key);
  Mapping m;
  m.fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (m.fd < 0) {
    Forget(key);  // another worker removed it, or it never was
    return false;
  }
  struct stat st {};
  if (fstat(m.fd, &st) != 0) return false;
  m.size = static_cast<size_t>(st.st_size);
  if (m.size < sizeof(RawHeader)) return Reject(key), false;
  m.data = mmap(nullptr, m.size, PROT_READ, MAP_PRIVATE, m.fd, 0);
  if (m.data == MAP_FAILED) return false;
  const char* p = static_cast<const char*>(m.data);
  RawHeader h;
  std::memcpy(&h, p, sizeof h);
  const char* body = p + sizeof h;
  const size_t body_bytes = m.size - sizeof h;
  const int64_t pos = state.pos + block_tokens_;
  // Cheap checks first, then the checksum, then the contents against the request and the state.
  if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0 || h.key != key || h.parent != parent || h.pos != pos || h.block != block_tokens_ ||
      h.body_bytes != body_bytes || h.layers != state.layers.size() || h.identity_bytes != identity_.size() ||
      Checksum(body, body_bytes) != h.checksum)
    return Reject(key), false;
  In in(body, body_bytes);
  const char* identity = nullptr;
  const char* ids = nullptr;
  if (!in.Bytes(identity, identity_.size()) || std::memcmp(identity, identity_.data(), identity_.size()) != 0 ||
      !in.Bytes(ids, static_cast<size_t>(pos) * sizeof(int32_t)) || std::memcmp(ids, tokens, static_cast<size_t>(pos) * sizeof(int32_t)) != 0)
    return Reject(key), false;
  std::vector<LayerView> layers(state.layers.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    LayerView& v = layers[i];
    const LayerState& l = state.layers[i];
    if (!in.Get(v.n_entries) || !in.Floats(v.window.data, v.window.n) || !v.compressor.Read(in) || !v.index_compressor.Read(in) ||
        !in.Get(v.entries_base) || !in.Floats(v.entries.data, v.entries.n) || !in.Get(v.keys_base) || !in.Floats(v.keys.data, v.keys.n))
      return Reject(key), false;
    // The layout this worker's model gives a state, and the rows it already has.
    if (v.window.n != l.window.size() || v.entries_base != l.entries.size() || v.keys_base != l.index_keys.size() || v.n_entries < l.n_entries)
      return Reject(key), false;
  }
  if (!in.AtEnd()) return Reject(key), false;
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerView& v = layers[i];
    LayerState& l = state.layers[i];
    l.n_entries = v.n_entries;
    v.window.CopyTo(l.window);
    v.compressor.CopyTo(l.compressor);
    v.index_compressor.CopyTo(l.index_compressor);
    Append(l.entries, v.entries);
    Append(l.index_keys, v.keys);
  }
  state.pos = pos;
  // Recently used, for this worker's eviction and (through the mtime) every other's.
  utimensat(AT_FDCWD, path.c_str(), nullptr, 0);
  auto it = files_.find(key);
  if (it != files_.end()) {
    it->second.used = ++clock_;
  } else {
    Add(key, File{parent, pos, m.size, ++clock_, 0});
  }
  return true;
}

std::vector<PrefixDisk::Listed> PrefixDisk::List() {
  Scan();
  std::vector<std::pair<uint64_t, Listed>> by_use;
  for (const auto& [key, f] : files_) by_use.push_back({f.used, Listed{key, f.pos, f.bytes}});
  std::sort(by_use.begin(), by_use.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<Listed> out;
  for (const auto& [used, l] : by_use) out.push_back(l);
  return out;
}

void PrefixDisk::Clear() {
  Scan();
  while (!files_.empty()) Remove(files_.begin()->first);
}

}  // namespace dsv4::worker
