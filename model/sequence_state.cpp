#include "model/sequence_state.h"

namespace dsv4 {

size_t SequenceState::Bytes() const {
  size_t b = 0;
  for (const LayerState& l : layers) {
    b += l.window.capacity() + l.entries.capacity() + l.index_keys.capacity();
    b += l.compressor.value.capacity() + l.compressor.score.capacity();
    b += l.index_compressor.value.capacity() + l.index_compressor.score.capacity();
  }
  return b * sizeof(float);
}

}  // namespace dsv4
