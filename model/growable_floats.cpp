#include "model/growable_floats.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <utility>

namespace dsv4 {

namespace {

size_t PageFloats() {
  static const size_t n = static_cast<size_t>(sysconf(_SC_PAGESIZE)) / sizeof(float);
  return n;
}

}  // namespace

GrowableFloats::~GrowableFloats() {
  if (data_) munmap(data_, capacity_ * sizeof(float));
}

GrowableFloats::GrowableFloats(const GrowableFloats& other) {
  resize(other.size_);
  if (size_ > 0) std::memcpy(data_, other.data_, size_ * sizeof(float));
}

GrowableFloats& GrowableFloats::operator=(const GrowableFloats& other) {
  if (this != &other) {
    GrowableFloats copy(other);
    *this = std::move(copy);
  }
  return *this;
}

GrowableFloats::GrowableFloats(GrowableFloats&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)) {}

GrowableFloats& GrowableFloats::operator=(GrowableFloats&& other) noexcept {
  if (this != &other) {
    if (data_) munmap(data_, capacity_ * sizeof(float));
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

void GrowableFloats::GrowTo(size_t min_capacity) {
  const size_t page = PageFloats();
  size_t want = std::max(min_capacity, capacity_ + capacity_ / 2);
  want = (want + page - 1) / page * page;
  void* p = data_ ? mremap(data_, capacity_ * sizeof(float), want * sizeof(float), MREMAP_MAYMOVE)
                  : mmap(nullptr, want * sizeof(float), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  data_ = static_cast<float*>(p);
  capacity_ = want;
}

void GrowableFloats::resize(size_t n) {
  if (n > capacity_) GrowTo(n);
  // Pages past everything ever written are still zero from mmap; a shrink-then-grow (or a
  // former tenant of the range) is not, so new elements are cleared explicitly.
  if (n > size_) std::memset(data_ + size_, 0, (n - size_) * sizeof(float));
  size_ = n;
}

}  // namespace dsv4
