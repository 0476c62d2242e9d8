// A float array that grows without copying: its pages come from mmap and a larger capacity is
// had with mremap, which moves page-table entries, not bytes. The compressed KV entries and the
// indexer keys of a sequence grow by one row every 4 (CSA) or 128 (HCA) tokens and are read
// contiguously; as std::vector, each doubling at 64K context copied 32 MB per layer and
// faulted in 64 MB inside one decode step (~30 ms on the V4-Flash shapes).
//
// Copies share: the arrays only ever grow at the end, so a copy (a prefix-cache snapshot, the
// state kept before a draft verification) holds the same pages and its own length. Whoever
// holds the buffer's furthest length (its tip) appends in place; anyone else who appends, or
// the tip holder when the buffer must move to grow while shared, first takes a private copy of
// the rows it sees. So a prefix's entries exist once however many snapshots hold them, and a
// copy is paid only when two holders diverge. Not thread-safe: copies of one array are used
// from one thread at a time (the scheduler's).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace dsv4 {

class GrowableFloats {
 public:
  GrowableFloats() = default;
  GrowableFloats(const GrowableFloats& other) = default;  // shares the pages (see above)
  GrowableFloats& operator=(const GrowableFloats& other) = default;
  GrowableFloats(GrowableFloats&& other) noexcept;
  GrowableFloats& operator=(GrowableFloats&& other) noexcept;

  // Writable only in the rows the last resize() added (the arrays are append-only).
  float* data() { return buf_ ? buf_->data : nullptr; }
  const float* data() const { return buf_ ? buf_->data : nullptr; }
  size_t size() const { return size_; }
  size_t capacity() const { return buf_ ? buf_->capacity : 0; }
  bool empty() const { return size_ == 0; }
  float& operator[](size_t i) { return data()[i]; }
  float operator[](size_t i) const { return data()[i]; }
  float* begin() { return data(); }
  float* end() { return data() + size_; }
  const float* begin() const { return data(); }
  const float* end() const { return data() + size_; }

  // New elements are 0. Capacity grows by at least half again (amortized O(1) appends); throws
  // std::bad_alloc when the memory cannot be had (the contents are then unchanged).
  void resize(size_t n);
  void clear() { resize(0); }

  // Whether `other` reads the same pages (a copy of this array, or this a copy of it).
  bool SharesWith(const GrowableFloats& other) const { return buf_ && buf_ == other.buf_; }
  // Identity of the pages (nullptr when empty): lets a cache count shared pages once.
  const void* PagesId() const { return buf_.get(); }

 private:
  struct Pages {
    float* data = nullptr;
    size_t capacity = 0;  // in floats; whole pages
    size_t tip = 0;       // furthest length any holder has written
    ~Pages();
  };
  static std::shared_ptr<Pages> Allocate(size_t min_capacity);

  std::shared_ptr<Pages> buf_;
  size_t size_ = 0;  // in floats
};

}  // namespace dsv4
