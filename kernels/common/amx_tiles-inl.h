// The AMX tile configuration (palette 1) as the ISA lays it out in memory, with every tile used
// here at its full size: 16 rows of 64 bytes. Header-only: the amx plugin and the benchmarks'
// peak measurement both load it with _tile_loadconfig.
#pragma once

#include <cstdint>

namespace dsv4_simd {

struct alignas(64) AmxTileConfig {
  uint8_t palette;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

// Tiles 0-7 at 16 rows x 64 bytes (16 x 16 fp32, 16 x 32 bf16, or 16 bf16 pairs x 16 columns).
inline AmxTileConfig FullAmxTiles() {
  AmxTileConfig cfg{};
  cfg.palette = 1;
  for (int i = 0; i < 8; ++i) {
    cfg.colsb[i] = 64;
    cfg.rows[i] = 16;
  }
  return cfg;
}

}  // namespace dsv4_simd
