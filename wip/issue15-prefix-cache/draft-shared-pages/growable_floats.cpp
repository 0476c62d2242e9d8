#include "model/growable_floats.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <utility>

namespace dsv4 {

namespace {

size_t page_floats() {
  static const size_t n = static_cast<size_t>(sysconf(_SC_PAGESIZE)) / sizeof(float);
  return n;
}

size_t whole_pages(size_t floats) {
  const size_t page = page_floats();
  return (floats + page - 1) / page * page;
}

}  // namespace

GrowableFloats::Pages::~Pages() {
  if (data) munmap(data, capacity * sizeof(float));
}

std::shared_ptr<GrowableFloats::Pages> GrowableFloats::allocate(size_t min_capacity) {
  auto p = std::make_shared<Pages>();
  p->capacity = whole_pages(min_capacity);
  void* m = mmap(nullptr, p->capacity * sizeof(float), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) throw std::bad_alloc();
  p->data = static_cast<float*>(m);
  return p;
}

void GrowableFloats::hold(size_t n) {
  size_ = n;
  ++buf_->holders[n];
}

void GrowableFloats::release() {
  if (!buf_) return;
  auto it = buf_->holders.find(size_);
  if (--it->second == 0) buf_->holders.erase(it);
  buf_.reset();
  size_ = 0;
}

GrowableFloats::GrowableFloats(const GrowableFloats& other) : buf_(other.buf_) {
  if (buf_) hold(other.size_);
}

GrowableFloats& GrowableFloats::operator=(const GrowableFloats& other) {
  if (this != &other) {
    GrowableFloats copy(other);
    *this = std::move(copy);
  }
  return *this;
}

GrowableFloats::GrowableFloats(GrowableFloats&& other) noexcept
    : buf_(std::move(other.buf_)), size_(std::exchange(other.size_, 0)) {}

GrowableFloats& GrowableFloats::operator=(GrowableFloats&& other) noexcept {
  if (this != &other) {
    release();
    buf_ = std::move(other.buf_);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void GrowableFloats::resize(size_t n) {
  if (n == 0) return release();  // a fresh start on new pages; other holders keep theirs
  if (!buf_) {
    buf_ = allocate(n);  // mmap pages are zero
    return hold(n);
  }
  const size_t old = size_;
  // The longest length another holder reads (this one's own entry set aside).
  const auto& holders = buf_->holders;
  auto top = holders.rbegin();
  if (top->first == old && top->second == 1) ++top;
  const size_t longest_other = top == holders.rend() ? 0 : top->first;
  if (n > old && longest_other > old) {
    // Another holder reads the rows this one would write: take a private copy of ours.
    auto own = allocate(std::max(n, old + old / 2));
    std::memcpy(own->data, buf_->data, old * sizeof(float));
    release();
    buf_ = std::move(own);
  } else {
    if (n > buf_->capacity) {
      // Every holder reads through the shared Pages, so moving them moves everyone's view.
      const size_t want = whole_pages(std::max(n, buf_->capacity + buf_->capacity / 2));
      void* p = mremap(buf_->data, buf_->capacity * sizeof(float), want * sizeof(float), MREMAP_MAYMOVE);
      if (p == MAP_FAILED) throw std::bad_alloc();
      buf_->data = static_cast<float*>(p);
      buf_->capacity = want;
    }
    std::shared_ptr<Pages> same = buf_;
    release();
    buf_ = std::move(same);
  }
  // Rows this holder (or a former one) wrote past `old` are not zero any more.
  if (n > old) std::memset(buf_->data + old, 0, (n - old) * sizeof(float));
  hold(n);
}

}  // namespace dsv4
