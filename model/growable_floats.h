// A float array that grows without copying: its pages come from mmap and a larger capacity is
// had with mremap, which moves page-table entries, not bytes. The compressed KV entries and the
// indexer keys of a sequence grow by one row every 4 (CSA) or 128 (HCA) tokens and are read
// contiguously; as std::vector, each doubling at 64K context copied 32 MB per layer and
// faulted in 64 MB inside one decode step (~30 ms on the V4-Flash shapes).
#pragma once

#include <cstddef>
#include <cstdint>

namespace dsv4 {

class GrowableFloats {
 public:
  GrowableFloats() = default;
  ~GrowableFloats();
  GrowableFloats(const GrowableFloats& other);
  GrowableFloats& operator=(const GrowableFloats& other);
  GrowableFloats(GrowableFloats&& other) noexcept;
  GrowableFloats& operator=(GrowableFloats&& other) noexcept;

  float* data() { return data_; }
  const float* data() const { return data_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }
  float& operator[](size_t i) { return data_[i]; }
  float operator[](size_t i) const { return data_[i]; }
  float* begin() { return data_; }
  float* end() { return data_ + size_; }
  const float* begin() const { return data_; }
  const float* end() const { return data_ + size_; }

  // New elements are 0. Capacity grows by at least half again (amortized O(1) appends); throws
  // std::bad_alloc when the memory cannot be had (the contents are then unchanged).
  void resize(size_t n);
  void clear() { size_ = 0; }

 private:
  void GrowTo(size_t min_capacity);

  float* data_ = nullptr;
  size_t size_ = 0, capacity_ = 0;  // in floats; capacity_ covers whole pages
};

}  // namespace dsv4
