// The prefix cache's disk tier (issue 15 item 3): every snapshot the RAM tier keeps is also
// written to a directory, so it survives eviction from RAM and a worker restart, and workers of
// the same model on one host share it.
//
// Files: one per block boundary, named by the snapshot's hash-chain key (<16 hex digits>.snap).
// A file holds its prefix's identity (model, numerics, weights fingerprint and kStateLayoutVersion,
// the state layout's version; the magic versions the file's own framing), all its token ids, the
// fixed-size part of the state (window rings, open compressor rows) and only the compressed rows
// its last block added: a prefix's files are a chain, read from the deepest snapshot already in
// hand (a RAM hit, or an empty state) outward, so a 100K-token prefix costs its entries once on
// disk too. Every byte after the header is checksummed; the header, ids, identity and the state's
// layout are checked against the request before anything is copied. A file that fails a check
// (truncated, corrupt, another model's, numerics' or layout version's) is removed and counts as a
// miss; the next prefill of that block writes it again. Never a wrong state.
//
// Several workers: files are written to a temporary name and renamed into place (readers see a
// whole file or none), are never changed in place, and are read through their own mapping (a
// file another worker removes or replaces stays readable to a reader that has it open). The byte
// budget covers the whole directory: over it, the directory is scanned again (other workers'
// files count too) and least recently used chain ends (files no other file extends) go first,
// so a kept file's ancestors are kept. Recency is the files' mtime, touched on every hit.
//
// Not thread-safe: the scheduler thread owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/sequence_state.h"

namespace dsv4::worker {

class PrefixDisk {
 public:
  // Creates `dir` if needed and reads what is there. Throws std::runtime_error naming the
  // directory when it cannot be created or read.
  // `block_tokens`: the distance between snapshots (each file adds one block to its parent).
  PrefixDisk(std::string dir, size_t budget_bytes, int64_t block_tokens, std::string identity);

  // Writes the snapshot of tokens[0, state.pos) (key `key`, its parent's key `parent`), unless a
  // file of that key is there. Returns false when nothing was written (already there, over
  // budget alone, an unexpected layout, or a failed write: the RAM tier still has it).
  bool Write(uint64_t key, uint64_t parent, const int32_t* tokens, const SequenceState& state);

  // Extends `state` (at state.pos, whose key is `parent`) by the file `key`, which must hold
  // tokens[0, state.pos + block_tokens) — so `tokens` has at least that many. False, with
  // `state` unchanged, when there is no such file or it fails a check (then it is removed).
  bool Extend(uint64_t key, uint64_t parent, const int32_t* tokens, SequenceState& state);

  // Removes every snapshot file (of any worker) in the directory.
  void Clear();

  // The directory's snapshot files (of any worker: it is scanned again), most recently used first.
  struct Listed {
    uint64_t key = 0;
    int64_t pos = 0;  // tokens the snapshot covers
    size_t bytes = 0;
  };
  std::vector<Listed> List();

  const std::string& dir() const { return dir_; }
  size_t bytes() const { return bytes_; }  // of the files known after the last write or scan
  size_t files() const { return files_.size(); }
  uint64_t evictions() const { return evictions_; }
  uint64_t rejected() const { return rejected_; }  // files removed for failing a check

  static std::string KeyName(uint64_t key);   // "<16 hex digits>"
  static std::string FileName(uint64_t key);  // KeyName + ".snap"

  // What a file's header says (for tests and tools): false if it is not a readable snapshot header.
  struct Header {
    uint64_t key = 0, parent = 0;
    int64_t pos = 0;
  };
  static bool ReadHeader(const std::string& path, Header& h);

 private:
  struct File {
    uint64_t parent = 0;
    int64_t pos = 0;
    size_t bytes = 0;
    uint64_t used = 0;  // recency: larger is more recent
    int children = 0;   // known files whose parent this is
  };
  void Scan();
  void Add(uint64_t key, const File& f);
  void Forget(uint64_t key);
  void Remove(uint64_t key);
  void Reject(uint64_t key);
  void EvictToBudget(size_t target);
  std::string PathOf(uint64_t key) const;

  std::string dir_;
  size_t budget_bytes_;
  int64_t block_tokens_;
  std::string identity_;
  std::unordered_map<uint64_t, File> files_;
  size_t bytes_ = 0;
  uint64_t clock_ = 0;
  uint64_t evictions_ = 0;
  uint64_t rejected_ = 0;
  uint64_t writes_ = 0;  // makes temporary names unique within this process
};

}  // namespace dsv4::worker
