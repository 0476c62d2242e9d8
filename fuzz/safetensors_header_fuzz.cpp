// A safetensors shard's header on arbitrary bytes (the 8-byte length, the JSON header, the data
// section), as Checkpoint::Open parses every shard it maps. A bad shard may only throw
// dsv4::Error naming what is wrong; what is accepted must describe bytes inside the shard, each
// tensor exactly shape x dtype bytes long.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "base/error.h"
#include "model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<dsv4::TensorView> tensors;
  try {
    tensors = dsv4::ParseSafetensors(data, size, "fuzz.safetensors");
  } catch (const dsv4::Error&) {
    return 0;
  }
  for (const dsv4::TensorView& t : tensors) {
    uint64_t bytes = dsv4::DtypeSize(t.dtype);
    for (const int64_t d : t.shape) {
      if (d < 0 || (d > 0 && bytes > UINT64_MAX / static_cast<uint64_t>(d))) {
        std::fprintf(stderr, "safetensors_header_fuzz: tensor '%s' accepted with shape %s, more bytes than 2^64\n", t.name.c_str(),
                     t.ShapeStr().c_str());
        std::abort();
      }
      bytes *= static_cast<uint64_t>(d);
    }
    if (bytes != t.nbytes || t.data < data || t.data + t.nbytes > data + size) {
      std::fprintf(stderr, "safetensors_header_fuzz: tensor '%s' accepted with %zu bytes for shape %s, or outside the shard\n",
                   t.name.c_str(), t.nbytes, t.ShapeStr().c_str());
      std::abort();
    }
  }
  return 0;
}
