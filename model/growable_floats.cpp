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

size_t WholePages(size_t floats) {
  const size_t page = PageFloats();
  return (floats + page - 1) / page * page;
}

}  // namespace

GrowableFloats::Pages::~Pages() {
  if (data) munmap(data, capacity * sizeof(float));
}

std::shared_ptr<GrowableFloats::Pages> GrowableFloats::Allocate(size_t min_capacity) {
  auto p = std::make_shared<Pages>();
  p->capacity = WholePages(min_capacity);
  void* m = mmap(nullptr, p->capacity * sizeof(float), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) throw std::bad_alloc();
  p->data = static_cast<float*>(m);
  return p;
}

GrowableFloats::GrowableFloats(GrowableFloats&& other) noexcept
    : buf_(std::move(other.buf_)), size_(std::exchange(other.size_, 0)) {}

GrowableFloats& GrowableFloats::operator=(GrowableFloats&& other) noexcept {
  if (this != &other) {
    buf_ = std::move(other.buf_);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void GrowableFloats::resize(size_t n) {
  if (n == 0 && (!buf_ || buf_.use_count() > 1)) {
    buf_.reset();  // others keep the rows; this array starts over on fresh pages
    size_ = 0;
    return;
  }
  if (n <= size_) {
    // Shrinking: a sole holder reuses its pages; a shared one must not write into rows another
    // holder reads, so it copies the rows it keeps.
    if (buf_.use_count() > 1) {
      auto own = Allocate(n);
      std::memcpy(own->data, buf_->data, n * sizeof(float));
      buf_ = std::move(own);
    }
    size_ = n;
    buf_->tip = n;
    return;
  }
  const size_t capacity = buf_ ? buf_->capacity : 0;
  const bool shared = buf_ && buf_.use_count() > 1;
  const bool at_tip = buf_ && buf_->tip == size_;
  if (!buf_) {
    buf_ = Allocate(std::max(n, static_cast<size_t>(0)));
  } else if (shared && (!at_tip || n > capacity)) {
    // Another holder reads these pages: take a private copy of the rows this array sees.
    auto own = Allocate(std::max(n, capacity + capacity / 2));
    std::memcpy(own->data, buf_->data, size_ * sizeof(float));
    buf_ = std::move(own);
  } else if (n > capacity) {
    const size_t want = WholePages(std::max(n, capacity + capacity / 2));
    void* p = mremap(buf_->data, capacity * sizeof(float), want * sizeof(float), MREMAP_MAYMOVE);
    if (p == MAP_FAILED) throw std::bad_alloc();
    buf_->data = static_cast<float*>(p);
    buf_->capacity = want;
  } else if (!at_tip) {
    // Sole holder that shrank earlier: nobody else reads past size_.
    buf_->tip = size_;
  }
  // Pages past everything ever written are still zero from mmap; rows a former holder wrote
  // (this one before a shrink) are not, so new elements are cleared explicitly.
  std::memset(buf_->data + size_, 0, (n - size_) * sizeof(float));
  size_ = n;
  buf_->tip = n;
}

}  // namespace dsv4
