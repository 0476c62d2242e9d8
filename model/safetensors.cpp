#include "model/safetensors.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "base/error.h"

namespace dsv4 {

namespace {
struct DTypeInfo {
  DType d;
  const char* name;
  size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::kF32, "F32", 4},        {DType::kF16, "F16", 2},         {DType::kBF16, "BF16", 2},
    {DType::kF8E4M3, "F8_E4M3", 1}, {DType::kF8E8M0, "F8_E8M0", 1}, {DType::kI8, "I8", 1},
    {DType::kU8, "U8", 1},          {DType::kI16, "I16", 2},         {DType::kI32, "I32", 4},
    {DType::kI64, "I64", 8},        {DType::kF64, "F64", 8},         {DType::kBool, "BOOL", 1},
};
}  // namespace

bool ParseDtype(const std::string& s, DType* out) {
  for (const auto& i : kDTypes)
    if (s == i.name) {
      *out = i.d;
      return true;
    }
  return false;
}
const char* DtypeName(DType d) {
  for (const auto& i : kDTypes)
    if (i.d == d) return i.name;
  return "?";
}
size_t DtypeSize(DType d) {
  for (const auto& i : kDTypes)
    if (i.d == d) return i.size;
  return 0;
}

int64_t TensorView::Numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

std::string TensorView::ShapeStr() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

namespace {

constexpr size_t kHugePage = size_t{2} << 20;

uint8_t* AlignUp(uint8_t* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  return reinterpret_cast<uint8_t*>((a + kHugePage - 1) / kHugePage * kHugePage);
}

// Unmaps the parts of a size + 2 MB reservation outside [aligned, aligned + size) (page-rounded).
void TrimReservation(uint8_t* reserved, uint8_t* aligned, size_t size) {
  if (aligned > reserved) munmap(reserved, static_cast<size_t>(aligned - reserved));
  uint8_t* end = reserved + size + kHugePage;
  const auto tail = reinterpret_cast<uintptr_t>(aligned + size);
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  uint8_t* tail_start = reinterpret_cast<uint8_t*>((tail + page - 1) / page * page);
  if (end > tail_start) munmap(tail_start, static_cast<size_t>(end - tail_start));
}

}  // namespace

MappedFile::MappedFile(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    throw Error(path + ": cannot stat: " + std::strerror(e));
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    // Reserve 2 MB more than the file and map it at the first 2 MB boundary inside: file pages
    // can then be mapped 2 MB at a time, and MakeResident's copy keeps its 2 MB pages when it
    // moves into place.
    void* reserved = mmap(nullptr, size_ + kHugePage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    void* p = MAP_FAILED;
    if (reserved != MAP_FAILED) {
      uint8_t* aligned = AlignUp(static_cast<uint8_t*>(reserved));
      p = mmap(aligned, size_, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
      if (p == MAP_FAILED) {
        munmap(reserved, size_ + kHugePage);
      } else {
        TrimReservation(static_cast<uint8_t*>(reserved), aligned, size_);
      }
    }
    if (p == MAP_FAILED) {
      const int e = errno;
      ::close(fd);
      throw Error(path + ": cannot mmap: " + std::strerror(e));
    }
    data_ = static_cast<const uint8_t*>(p);
    // Weights are streamed end to end every decode step: ask for 2 MB mappings (fewer TLB misses;
    // a no-op where the kernel or file system cannot).
    madvise(p, size_, MADV_HUGEPAGE);
  }
  ::close(fd);
}

void MappedFile::MakeResident(const std::function<void(size_t, size_t)>& progress) {
  if (size_ == 0) return;
  void* reserved = mmap(nullptr, size_ + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (reserved == MAP_FAILED) throw Error(path_ + ": cannot allocate " + std::to_string(size_) + " bytes for a resident copy: " + std::strerror(errno));
  uint8_t* copy = AlignUp(static_cast<uint8_t*>(reserved));
  TrimReservation(static_cast<uint8_t*>(reserved), copy, size_);
  madvise(copy, size_, MADV_HUGEPAGE);
  constexpr size_t kChunk = size_t{64} << 20;
  for (size_t off = 0; off < size_; off += kChunk) {
    const size_t n = std::min(kChunk, size_ - off);
    std::memcpy(copy + off, data_ + off, n);
    // The file's pages are not needed once copied (the copy is what stays).
    madvise(const_cast<uint8_t*>(data_) + off, n, MADV_DONTNEED);
    if (progress) progress(off + n, size_);
  }
  mprotect(copy, size_, PROT_READ);
  void* moved = mremap(copy, size_, size_, MREMAP_MAYMOVE | MREMAP_FIXED, const_cast<uint8_t*>(data_));
  if (moved == MAP_FAILED) {
    const int e = errno;
    munmap(copy, size_);
    throw Error(path_ + ": cannot move the resident copy into place: " + std::strerror(e));
  }
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
}

MappedFile::~MappedFile() {
  if (data_) munmap(const_cast<uint8_t*>(data_), size_);
}

std::vector<TensorView> ParseSafetensors(const MappedFile& file, const std::string& display_name) {
  const std::string& fname = display_name;
  if (file.size() < 8) throw Error(fname + ": truncated: " + std::to_string(file.size()) + " bytes, too short for a safetensors header");
  uint64_t header_len = 0;
  std::memcpy(&header_len, file.data(), 8);
  if (header_len > file.size() - 8)
    throw Error(fname + ": header length " + std::to_string(header_len) + " runs past the end of the file (" +
                std::to_string(file.size()) + " bytes): truncated or not a safetensors file");
  nlohmann::json h;
  try {
    h = nlohmann::json::parse(reinterpret_cast<const char*>(file.data()) + 8,
                              reinterpret_cast<const char*>(file.data()) + 8 + header_len);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fname + ": header is not valid JSON: " + e.what());
  }
  if (!h.is_object()) throw Error(fname + ": header is not a JSON object");
  const size_t data_start = 8 + header_len;
  const size_t data_size = file.size() - data_start;
  std::vector<TensorView> out;
  for (auto it = h.begin(); it != h.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const std::string where = fname + ": tensor '" + it.key() + "'";
    const auto& t = it.value();
    if (!t.is_object() || !t.contains("dtype") || !t.contains("shape") || !t.contains("data_offsets"))
      throw Error(where + ": header entry needs dtype, shape and data_offsets");
    TensorView v;
    v.name = it.key();
    v.file = fname;
    if (!t["dtype"].is_string() || !ParseDtype(t["dtype"].get<std::string>(), &v.dtype))
      throw Error(where + ": unknown dtype " + t["dtype"].dump());
    if (!t["shape"].is_array()) throw Error(where + ": shape is not a list");
    for (const auto& d : t["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) throw Error(where + ": bad shape " + t["shape"].dump());
      v.shape.push_back(d.get<int64_t>());
    }
    const auto& off = t["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw Error(where + ": data_offsets must be two non-negative integers, got " + off.dump());
    const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (begin > end) throw Error(where + ": data_offsets " + off.dump() + " end before they begin");
    if (end > data_size)
      throw Error(where + ": data_offsets " + off.dump() + " run past the end of the file (data section is " +
                  std::to_string(data_size) + " bytes): truncated shard?");
    const uint64_t want = static_cast<uint64_t>(v.Numel()) * DtypeSize(v.dtype);
    if (end - begin != want)
      throw Error(where + ": holds " + std::to_string(end - begin) + " bytes but shape " + v.ShapeStr() + " of " +
                  DtypeName(v.dtype) + " needs " + std::to_string(want));
    v.data = file.data() + data_start + begin;
    v.nbytes = static_cast<size_t>(want);
    out.push_back(std::move(v));
  }
  // No two tensors may share bytes.
  std::vector<const TensorView*> by_offset;
  for (const auto& v : out) by_offset.push_back(&v);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->data < b->data; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorView* prev = by_offset[i - 1];
    if (prev->data + prev->nbytes > by_offset[i]->data && by_offset[i]->nbytes > 0 && prev->nbytes > 0)
      throw Error(fname + ": tensors '" + prev->name + "' and '" + by_offset[i]->name + "' overlap");
  }
  return out;
}

namespace {
bool FileExists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}
}  // namespace

std::unique_ptr<Checkpoint> Checkpoint::Open(const std::string& dir, const OpenOptions& opts) {
  auto ck = std::unique_ptr<Checkpoint>(new Checkpoint());
  ck->dir_ = dir;
  const std::string index_path = dir + "/model.safetensors.index.json";
  std::vector<std::string> shard_names;
  std::map<std::string, std::string> weight_map;  // tensor -> shard (from the index)
  if (FileExists(index_path)) {
    std::ifstream in(index_path);
    std::stringstream ss;
    ss << in.rdbuf();
    nlohmann::json idx;
    try {
      idx = nlohmann::json::parse(ss.str());
    } catch (const nlohmann::json::exception& e) {
      throw Error(index_path + ": not valid JSON: " + e.what());
    }
    if (!idx.is_object() || !idx.contains("weight_map") || !idx["weight_map"].is_object())
      throw Error(index_path + ": needs a \"weight_map\" object");
    std::set<std::string> seen;
    for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
      if (!it.value().is_string()) throw Error(index_path + ": weight_map['" + it.key() + "'] is not a file name");
      const std::string shard = it.value().get<std::string>();
      if (shard.find('/') != std::string::npos || shard == "..")
        throw Error(index_path + ": weight_map['" + it.key() + "'] names a file outside the checkpoint: " + shard);
      if (opts.skip && opts.skip(it.key())) continue;
      weight_map[it.key()] = shard;
      if (seen.insert(shard).second) shard_names.push_back(shard);
    }
  } else if (FileExists(dir + "/model.safetensors")) {
    shard_names.push_back("model.safetensors");
  } else {
    DIR* d = opendir(dir.c_str());
    if (!d) throw Error(dir + ": cannot open checkpoint directory: " + std::strerror(errno));
    while (dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      if (n.size() > 12 && n.compare(n.size() - 12, 12, ".safetensors") == 0) shard_names.push_back(n);
    }
    closedir(d);
    if (shard_names.size() != 1)
      throw Error(dir + ": no model.safetensors.index.json and " + std::to_string(shard_names.size()) +
                  " *.safetensors files; expected an index or exactly one shard");
  }
  std::sort(shard_names.begin(), shard_names.end());
  for (const std::string& shard : shard_names) {
    if (opts.progress) opts.progress(ck->files_.size(), shard_names.size(), ck->file_bytes_);
    const std::string path = dir + "/" + shard;
    if (!FileExists(path)) throw Error(path + ": shard named by the index is missing");
    auto mf = std::make_unique<MappedFile>(path);
    ck->file_bytes_ += mf->size();
    for (TensorView& v : ParseSafetensors(*mf, path)) {
      if (opts.skip && opts.skip(v.name)) continue;
      if (!weight_map.empty()) {
        auto w = weight_map.find(v.name);
        if (w == weight_map.end() || w->second != shard) continue;  // the index is authoritative
      }
      const size_t align = std::min<size_t>(DtypeSize(v.dtype), 8);
      if (reinterpret_cast<uintptr_t>(v.data) % align != 0) {
        // Misaligned element storage (allowed by the format, never seen in real checkpoints):
        // keep an aligned copy rather than read through misaligned pointers.
        auto copy = std::make_unique<uint8_t[]>(v.nbytes);
        std::memcpy(copy.get(), v.data, v.nbytes);
        v.data = copy.get();
        ck->aligned_copies_.push_back(std::move(copy));
      }
      ck->tensors_.emplace(v.name, std::move(v));
    }
    ck->files_.push_back(std::move(mf));
  }
  if (opts.progress) opts.progress(ck->files_.size(), shard_names.size(), ck->file_bytes_);
  for (const auto& [name, shard] : weight_map) {
    if (!ck->tensors_.count(name))
      throw Error(dir + "/" + shard + ": tensor '" + name + "' listed in the index is not in that shard");
  }
  return ck;
}

const TensorView* Checkpoint::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

void Checkpoint::Prefault(const std::function<void(size_t, size_t)>& progress) const {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size_t done = 0;
  volatile uint8_t sink = 0;
  for (const auto& f : files_) {
    madvise(const_cast<uint8_t*>(f->data()), f->size(), MADV_WILLNEED);
    for (size_t off = 0; off < f->size(); off += page) {
      sink = sink + f->data()[off];
      if ((off & ((size_t{1} << 28) - 1)) == 0 && progress) progress(done + off, file_bytes_);
    }
    // Once resident, have the kernel map the file in 2 MB pages where it can. Decode speed here
    // moved between 65% and 84% of bandwidth with how the page cache happened to hold the file.
    constexpr int kMadvCollapse = 25;  // MADV_COLLAPSE (Linux 6.1); older kernels return EINVAL
    madvise(const_cast<uint8_t*>(f->data()), f->size(), kMadvCollapse);
    done += f->size();
  }
  if (progress) progress(done, file_bytes_);
  (void)sink;
}

void Checkpoint::MakeResident(const std::function<void(size_t, size_t)>& progress) {
  size_t done = 0;
  for (const auto& f : files_) {
    f->MakeResident([&](size_t d, size_t) {
      if (progress) progress(done + d, file_bytes_);
    });
    done += f->size();
  }
}

void SafetensorsWriter::Declare(const std::string& name, DType dtype, std::vector<int64_t> shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  const size_t bytes = static_cast<size_t>(n) * DtypeSize(dtype);
  entries_.push_back({name, dtype, std::move(shape), offset_, offset_ + bytes});
  offset_ += bytes;
}

std::string SafetensorsWriter::HeaderText(bool metadata) const {
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  if (metadata) h["__metadata__"] = {{"format", "pt"}};
  for (const auto& e : entries_) {
    h[e.name] = {{"dtype", DtypeName(e.dtype)}, {"shape", e.shape}, {"data_offsets", {e.begin, e.end}}};
  }
  return h.dump();
}

void SafetensorsWriter::PutHeader(const std::string& text) {
  out_.reset(std::fopen(path_.c_str(), "wb"));
  if (!out_) throw Error(path_ + ": cannot create: " + std::strerror(errno));
  const uint64_t len = text.size();
  if (std::fwrite(&len, 8, 1, out_.get()) != 1 || std::fwrite(text.data(), 1, text.size(), out_.get()) != text.size())
    throw Error(path_ + ": write failed: " + std::strerror(errno));
}

void SafetensorsWriter::WriteHeader() {
  std::string text = HeaderText(true);
  while ((8 + text.size()) % 8 != 0) text += ' ';
  PutHeader(text);
}

void SafetensorsWriter::WriteHeaderOnly(uint64_t file_size) {
  std::string text = HeaderText(false);
  if (file_size != 0) {
    if (8 + text.size() + offset_ > file_size)
      throw Error(path_ + ": " + std::to_string(offset_) + " data bytes and a " + std::to_string(text.size()) +
                  "-byte header do not fit in " + std::to_string(file_size) + " bytes");
    text.resize(file_size - 8 - offset_, ' ');
  }
  while ((8 + text.size()) % 8 != 0) text += ' ';
  PutHeader(text);
  if (std::fflush(out_.get()) != 0 || ::ftruncate(::fileno(out_.get()), static_cast<off_t>(8 + text.size() + offset_)) != 0)
    throw Error(path_ + ": cannot extend to its data size: " + std::strerror(errno));
  out_.reset();
}

void SafetensorsWriter::Write(const std::string& name, const void* data, size_t nbytes) {
  if (next_ >= entries_.size() || entries_[next_].name != name)
    throw Error(path_ + ": tensor '" + name + "' written out of declaration order");
  const Entry& e = entries_[next_++];
  if (nbytes != e.end - e.begin)
    throw Error(path_ + ": tensor '" + name + "' given " + std::to_string(nbytes) + " bytes, declared " +
                std::to_string(e.end - e.begin));
  if (nbytes && std::fwrite(data, 1, nbytes, out_.get()) != nbytes)
    throw Error(path_ + ": write failed: " + std::strerror(errno));
}

void SafetensorsWriter::Finish() {
  if (next_ != entries_.size())
    throw Error(path_ + ": only " + std::to_string(next_) + " of " + std::to_string(entries_.size()) + " tensors written");
  if (std::fflush(out_.get()) != 0) throw Error(path_ + ": flush failed: " + std::strerror(errno));
  out_.reset();
}

}  // namespace dsv4
