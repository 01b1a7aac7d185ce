// The recurrence's matrix products: a register-blocked micro-kernel over packed panels.
//
// Why not Eigen's or TensorFlow's product: at each step the op multiplies the shard's few
// rows (4 to 64) by the same W and U. A general product repacks its right-hand side at
// every call; here W and U are packed once per op call, and x_t W + h_{t-1} U is one
// product that sums both terms in the same registers, so no (B, T, G units) projection is
// written out and read back. Measured when it replaced TensorFlow's hoisted projection
// (commit b891510, benchmarks/results/recurrent_speed.md, batch 64 / 50 steps / 64
// features / 128 units): LSTM inference went from about 0.6x to 0.8x PyTorch's, and the
// product ran at about 105 GFLOP/s on one core against 90 for Eigen's general product.
// The weight gradients' sums (AccumulateTransposed) keep a tile of dW or dU in registers
// over about 128 rows while the step's gate gradients are still in cache (commit 3014dfd).
//
// GCC's and Clang's vector extension maps `vec` to AVX-512, AVX2, SSE or NEON, whatever the
// build's target allows (layers/fused.py names the target).
#ifndef RNNKIT_OPS_GEMM_H_
#define RNNKIT_OPS_GEMM_H_

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace rnnkit {

#if defined(__AVX512F__)
constexpr int kV = 16;  // floats in a vector register
constexpr int kR = 8;   // rows of a register tile
#elif defined(__AVX__)
constexpr int kV = 8;
constexpr int kR = 6;
#else
constexpr int kV = 4;
constexpr int kR = 4;
#endif
typedef float vec __attribute__((vector_size(kV * sizeof(float))));

inline vec Load(const float* p) { vec v; std::memcpy(&v, p, sizeof(vec)); return v; }
inline void Store(float* p, const vec& v) { std::memcpy(p, &v, sizeof(vec)); }

// Asks for [p, p + n) to be brought into cache ahead of use.
inline void Prefetch(const float* p, int64_t n) {
  for (int64_t i = 0; i < n; i += 64 / sizeof(float)) __builtin_prefetch(p + i, 0, 3);
}

// A right-hand side packed in panels of kV columns, each panel an (inner, kV) block read
// contiguously by the micro-kernel.
struct Packed {
  std::vector<float> data;  // panels x inner x kV
  int inner = 0, panels = 0;
  int width() const { return panels * kV; }
  const float* panel(int j) const { return data.data() + int64_t(j) * inner * kV; }
};

// P = M[:, col0:col0+cols] for a row-major M (rows = inner, row stride ld).
inline Packed Pack(const float* m, int64_t ld, int inner, int col0, int cols) {
  Packed p;
  p.inner = inner;
  p.panels = (cols + kV - 1) / kV;
  p.data.assign(int64_t(p.panels) * inner * kV, 0.0f);
  for (int j = 0; j < p.panels; ++j)
    for (int k = 0; k < inner; ++k)
      for (int v = 0; v < kV && j * kV + v < cols; ++v)
        p.data[(int64_t(j) * inner + k) * kV + v] = m[k * ld + col0 + j * kV + v];
  return p;
}

// P = M[:, col0:col0+inner]^T for a row-major M with `rows` rows: the product C = A M^T.
inline Packed PackTransposed(const float* m, int64_t ld, int rows, int col0, int inner) {
  Packed p;
  p.inner = inner;
  p.panels = (rows + kV - 1) / kV;
  p.data.assign(int64_t(p.panels) * inner * kV, 0.0f);
  for (int j = 0; j < p.panels; ++j)
    for (int v = 0; v < kV && j * kV + v < rows; ++v)
      for (int k = 0; k < inner; ++k)
        p.data[(int64_t(j) * inner + k) * kV + v] = m[(j * kV + v) * ld + col0 + k];
  return p;
}

// A left-hand side read in place: `rows` rows of `p.inner` values, row stride `ld`.
struct Rows {
  const float* data;
  int64_t ld;
};

// One tile of C = A1 P1 + A2 P2 (A2.data null: C = A1 P1): R rows x NP panels of accumulators.
template <int R, int NP>
inline void Tile(Rows a1, const Packed& p1, Rows a2, const Packed* p2, int j, float* c, int64_t ldc) {
  vec acc[R][NP];
  for (int r = 0; r < R; ++r)
    for (int n = 0; n < NP; ++n) acc[r][n] = vec{};
  for (int term = 0; term < (a2.data == nullptr ? 1 : 2); ++term) {
    const Packed& p = term == 0 ? p1 : *p2;
    const Rows a = term == 0 ? a1 : a2;
    const float* q0 = p.panel(j);
    const float* q1 = NP > 1 ? p.panel(j + 1) : q0;
    for (int k = 0; k < p.inner; ++k) {
      const vec u0 = Load(q0 + k * kV);
      const vec u1 = NP > 1 ? Load(q1 + k * kV) : vec{};
      for (int r = 0; r < R; ++r) {
        const float x = a.data[r * a.ld + k];
        acc[r][0] += x * u0;
        if (NP > 1) acc[r][1] += x * u1;
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    Store(c + r * ldc + j * kV, acc[r][0]);
    if (NP > 1) Store(c + r * ldc + (j + 1) * kV, acc[r][1]);
  }
}

template <int R>
inline void RowBlock(Rows a1, const Packed& p1, Rows a2, const Packed* p2, int j0, int j1, float* c, int64_t ldc) {
  int j = j0;
  for (; j + 1 < j1; j += 2) Tile<R, 2>(a1, p1, a2, p2, j, c, ldc);
  if (j < j1) Tile<R, 1>(a1, p1, a2, p2, j, c, ldc);
}

inline Rows Offset(Rows a, int r) { return {a.data == nullptr ? nullptr : a.data + r * a.ld, a.ld}; }

// The bytes of packed panels that one pass over the rows keeps in cache (a share of L2).
constexpr int64_t kPanelBytes = 192 * 1024;

// C (rows x p1.width(), row stride ldc) = A1 P1 + A2 P2; without A2 (data null), C = A1 P1.
// P1 and P2 have the same panels, so both products sum in the same registers and C is
// written once. The panels are taken a group at a time, a group small enough to stay in
// L2 while every row block passes over it: wide weights (LSTM, 300 features, 256 units:
// 2.3 MB packed) are then read from memory once per step, not once per row block.
inline void Multiply(Rows a1, const Packed& p1, Rows a2, const Packed* p2, int rows, float* c, int64_t ldc) {
  const int64_t panel_bytes = int64_t(p1.inner + (a2.data == nullptr ? 0 : p2->inner)) * kV * sizeof(float);
  const int group = std::max<int>(2, int(kPanelBytes / panel_bytes) & ~1);
  for (int j0 = 0; j0 < p1.panels; j0 += group) {
    const int j1 = std::min(p1.panels, j0 + group);
    int r = 0;
    for (; r + kR <= rows; r += kR)
      RowBlock<kR>(Offset(a1, r), p1, Offset(a2, r), p2, j0, j1, c + r * ldc, ldc);
    const Rows b1 = Offset(a1, r), b2 = Offset(a2, r);
    float* cr = c + r * ldc;
    switch (rows - r) {  // the last rows < kR
      case 0: break;
      case 1: RowBlock<1>(b1, p1, b2, p2, j0, j1, cr, ldc); break;
      case 2: RowBlock<2>(b1, p1, b2, p2, j0, j1, cr, ldc); break;
      case 3: RowBlock<3>(b1, p1, b2, p2, j0, j1, cr, ldc); break;
      case 4: RowBlock<4>(b1, p1, b2, p2, j0, j1, cr, ldc); break;
      case 5: RowBlock<5>(b1, p1, b2, p2, j0, j1, cr, ldc); break;
      case 6: RowBlock<6>(b1, p1, b2, p2, j0, j1, cr, ldc); break;
      default: RowBlock<7>(b1, p1, b2, p2, j0, j1, cr, ldc); break;
    }
  }
}

inline void Multiply(Rows a, const Packed& p, int rows, float* c, int64_t ldc) {
  Multiply(a, p, Rows{nullptr, 0}, nullptr, rows, c, ldc);
}

// C += A^T D, the weight gradients' sum over rows: row k of A starts at a[k] and holds
// `inner` values, row k of D (d + k ldd) holds `cols`, and C is inner x cols (row stride
// ldc). A tile of C (R rows x NP vectors) stays in registers while k runs over all rows;
// the panels of D are the outer loop, so a panel stays in cache while the tiles go down C.
template <int R, int NP>
inline void AccumulateTile(const float* const* a, int i, const float* d, int64_t ldd, int rows, float* c,
                           int64_t ldc) {
  vec acc[R][NP];
  for (int r = 0; r < R; ++r)
    for (int n = 0; n < NP; ++n) acc[r][n] = Load(c + r * ldc + n * kV);
  for (int k = 0; k < rows; ++k) {
    const float* ak = a[k] + i;
    const vec d0 = Load(d + k * ldd);
    const vec d1 = NP > 1 ? Load(d + k * ldd + kV) : vec{};
    for (int r = 0; r < R; ++r) {
      acc[r][0] += ak[r] * d0;
      if (NP > 1) acc[r][1] += ak[r] * d1;
    }
  }
  for (int r = 0; r < R; ++r)
    for (int n = 0; n < NP; ++n) Store(c + r * ldc + n * kV, acc[r][n]);
}

template <int NP>
inline void AccumulatePanels(const float* const* a, int inner, const float* d, int64_t ldd, int rows, float* c,
                             int64_t ldc) {
  int i = 0;
  for (; i + kR <= inner; i += kR) AccumulateTile<kR, NP>(a, i, d, ldd, rows, c + i * ldc, ldc);
  float* ci = c + i * ldc;
  switch (inner - i) {  // the last rows of C < kR
    case 0: break;
    case 1: AccumulateTile<1, NP>(a, i, d, ldd, rows, ci, ldc); break;
    case 2: AccumulateTile<2, NP>(a, i, d, ldd, rows, ci, ldc); break;
    case 3: AccumulateTile<3, NP>(a, i, d, ldd, rows, ci, ldc); break;
    case 4: AccumulateTile<4, NP>(a, i, d, ldd, rows, ci, ldc); break;
    case 5: AccumulateTile<5, NP>(a, i, d, ldd, rows, ci, ldc); break;
    case 6: AccumulateTile<6, NP>(a, i, d, ldd, rows, ci, ldc); break;
    default: AccumulateTile<7, NP>(a, i, d, ldd, rows, ci, ldc); break;
  }
}

inline void AccumulateTransposed(const float* const* a, int inner, const float* d, int64_t ldd, int cols,
                                 int rows, float* c, int64_t ldc) {
  int j = 0;
  for (; j + 2 * kV <= cols; j += 2 * kV) AccumulatePanels<2>(a, inner, d + j, ldd, rows, c + j, ldc);
  if (j + kV <= cols) {
    AccumulatePanels<1>(a, inner, d + j, ldd, rows, c + j, ldc);
    j += kV;
  }
  for (; j < cols; ++j)  // the last columns < kV
    for (int i = 0; i < inner; ++i) {
      float sum = 0.0f;
      for (int k = 0; k < rows; ++k) sum += a[k][i] * d[k * ldd + j];
      c[int64_t(i) * ldc + j] += sum;
    }
}

}  // namespace rnnkit

#endif  // RNNKIT_OPS_GEMM_H_
