// AMX tile matrix products: the packed-activation slots of the "amx" plugin (see the ABI's
// packed_x_bytes / pack_x / matmul_packed). The rest of that plugin is the AVX-512 one.
#pragma once

#include <cstddef>
#include <cstdint>

#include "plugins/dsv4_kernel_abi.h"

namespace dsv4_amx {

size_t PackedXBytes(const dsv4_matrix* w, int64_t n);
void PackX(const dsv4_matrix* w, const float* x, int64_t ldx, int64_t n, int64_t t_begin, int64_t t_end,
            void* packed);
void MatmulPacked(const dsv4_matrix* w, int64_t row_begin, int64_t row_end, const void* packed, int64_t n, float* y,
                   int64_t ldy);

// One token, FP8 weights (AVX-512 VBMI, no tiles): y[r] = W[r, :] . x for r in [row_begin, row_end).
void Fp8Matvec(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, float* y);

}  // namespace dsv4_amx
