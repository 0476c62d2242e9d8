// Safetensors checkpoints: memory-mapped, single file or sharded through
// model.safetensors.index.json. Tensors stay in their stored formats; nothing is converted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace dsv4 {

enum class DType { kF32, kF16, kBF16, kF8E4M3, kF8E8M0, kI8, kU8, kI16, kI32, kI64, kF64, kBool };

// "BF16" -> kBF16 etc. Returns false for an unknown string.
bool ParseDtype(const std::string& s, DType* out);
const char* DtypeName(DType d);
size_t DtypeSize(DType d);

struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;  // inside a read-only mapping (or an aligned copy, see below)
  size_t nbytes = 0;
  std::string file;               // shard file name, for messages

  int64_t Numel() const;
  std::string ShapeStr() const;  // "[512, 256]"
};

// A read-only file mapping, at a 2 MB-aligned address. Thread-safe to read.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // throws dsv4::Error
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Replaces the file mapping, at the same address, by a private copy in anonymous memory in
  // 2 MB pages, and drops the file from the page cache: every pointer into data() stays valid.
  // Reads the whole file (progress(done, total) now and then). Throws dsv4::Error if memory
  // cannot be had; the file mapping is then left as it was.
  void MakeResident(const std::function<void(size_t, size_t)>& progress);

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Parses and validates one shard's header. Throws dsv4::Error naming the file and tensor.
std::vector<TensorView> ParseSafetensors(const MappedFile& file, const std::string& display_name);

struct OpenOptions {
  // Tensors not to register; a shard of the index that holds only such tensors is not mapped.
  std::function<bool(const std::string& tensor)> skip;
  // After each shard's header is validated: (shards done, shards total, bytes of those shards).
  std::function<void(size_t, size_t, size_t)> progress;
};

class Checkpoint {
 public:
  // Opens DIR/model.safetensors.index.json if present, else DIR/model.safetensors, else the
  // only *.safetensors file in DIR. Throws dsv4::Error.
  static std::unique_ptr<Checkpoint> Open(const std::string& dir, const OpenOptions& opts = {});

  const TensorView* find(const std::string& name) const;
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  // Sum of the mapped shard files' sizes.
  size_t file_bytes() const { return file_bytes_; }
  // Shards mapped.
  size_t ShardCount() const { return files_.size(); }
  const std::string& dir() const { return dir_; }
  // Touches every page so the first forward pass does not stall on page faults. Calls
  // progress(done_bytes, total_bytes) now and then.
  void Prefault(const std::function<void(size_t, size_t)>& progress) const;
  // MappedFile::MakeResident for every shard (instead of prefault): the weights live in
  // anonymous 2 MB pages that page-cache reclaim cannot evict, and stream faster (see
  // docs/PERFORMANCE.md).
  void MakeResident(const std::function<void(size_t, size_t)>& progress);

 private:
  std::string dir_;
  std::vector<std::unique_ptr<MappedFile>> files_;
  std::vector<std::unique_ptr<uint8_t[]>> aligned_copies_;  // misaligned tensors only (rare)
  std::map<std::string, TensorView> tensors_;
  size_t file_bytes_ = 0;
};

// Writes one safetensors shard: declare every tensor, then write their bytes in declaration
// order. The header is padded so that the data section starts 8-byte aligned, and tensors are
// laid out in declaration order without holes.
class SafetensorsWriter {
 public:
  explicit SafetensorsWriter(std::string path) : path_(std::move(path)) {}
  void Declare(const std::string& name, DType dtype, std::vector<int64_t> shape);
  void WriteHeader();                                    // after every declare()
  void Write(const std::string& name, const void* data, size_t nbytes);  // in declared order
  void Finish();                                          // checks every tensor was written
  // Instead of WriteHeader/Write/Finish: the header as the releases write it (no __metadata__),
  // padded with spaces so that the file is file_size bytes (0: as short as it can be), and the
  // data section left as a file hole (reads as zeros, takes no disk). Throws when it cannot fit.
  void WriteHeaderOnly(uint64_t file_size);
  size_t DataBytes() const { return offset_; }

 private:
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    size_t begin, end;
  };
  std::string HeaderText(bool metadata) const;
  void PutHeader(const std::string& text);
  std::string path_;
  std::vector<Entry> entries_;
  size_t next_ = 0, offset_ = 0;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> out_{nullptr, &std::fclose};
};

}  // namespace dsv4
