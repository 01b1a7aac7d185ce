// rnnkit's fused recurrence: a recurrent layer's time loop as one TensorFlow op.
//
// Keras's loop runs a dozen small ops per step, and on the CPU each op's dispatch costs
// more than its arithmetic. This op runs the whole loop: at each step, for the shard's
// rows, one register-blocked product z = x_t W + h_{t-1} U (gemm.h: W and U packed once per
// call, both terms summed in the same registers), then the cell's gate arithmetic. The
// batch is cut into one shard per intra-op thread, and each shard runs its whole time loop
// on its own core, so the shards never wait for each other (crew.h). The gradient op runs
// the loop backwards and sums the weight gradients step by step while each step's
// gradient is in cache; it also returns dA, the gradient of x W + b, for dX = dA W^T (a
// matrix product in layers/fused.py, which TensorFlow drops when nothing needs dX).
//
// Names, in both ops and in layers/fused.py: W is `kernel` (F, G H), U is
// `recurrent_kernel` (H, G H), b is `bias`, b' is `recurrent_bias` (the GRU's), with
// B rows, T steps, F features, H units and G gate blocks; A_t = x_t W + b.
//
// Each cell kind is one struct below (Leaky, Lstm, Gru, GruV1), its forward and backward
// row arithmetic side by side, with the gradient's derivation; the equations are those of
// the cells' `call` (layers/*_cell.py). The two loops around them (Forward, Backward) are
// written once. What the gradient reads back, `saved` (the gates) and `cells`, is laid
// out time-major, (T, B, .), so that a step's rows are one contiguous block for both
// loops. Outside training (save = false) the gates are not written out; the gradient, if
// one is asked for anyway, runs the forward loop again with them. A masked step (mask 0)
// keeps the state, h_t = h_{t-1}, c_t = c_{t-1}, and passes its gradient straight through.
#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "Eigen/Core"
#include "crew.h"
#include "gemm.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace rnnkit {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::errors::InvalidArgument;
using tensorflow::shape_inference::DimensionHandle;
using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;

using Vec = Eigen::Map<Eigen::ArrayXf>;
using ConstVec = Eigen::Map<const Eigen::ArrayXf>;

template <typename E>
inline auto Sigmoid(const E& x) { return (x * 0.5f).tanh() * 0.5f + 0.5f; }

// ---------------------------------------------------------------------------------------
// One row of one step, as the cells see it.

// Forward: `z` holds x_t W + h_{t-1} U over the summed gate blocks (no bias yet); the GRUs'
// candidate block keeps its terms apart in `xh` (x_t W_h; for gru_v1 x_t W_h + q U_h once
// the second product ran) and `hh` (h_{t-1} U_h, gru).
struct ForwardRow {
  const float* z;
  const float* xh;
  const float* hh;
  const float* h_prev;
  const float* c_prev;  // lstm
  float* h;             // h_t, the step's output
  float* c;             // c_t, lstm
  float* saved;         // the gates the gradient reads back
  float* q;             // gru_v1: r * h_{t-1}, the left side of the second product
  bool keep;            // a masked step: the state passes through
};

// Backward: `dh` holds dL/dh_t on entry (from the output and from step t + 1). A cell
// writes dA_t (what meets W and b), dZ_t (what meets U: dh_{t-1} gets dZ_t U^T) and
// `direct`, the rest of dL/dh_{t-1}; an LSTM turns dL/dc_t in `dc` into dL/dc_{t-1}.
struct BackwardRow {
  const float* saved;
  const float* h_prev;
  const float* c;       // c_t, lstm
  const float* c_prev;  // lstm
  const float* dq;      // gru_v1: dL/dq = dA_h U_h^T
  const float* dh;
  float* dc;            // lstm
  float* da;
  float* dz;
  float* direct;
  float* scratch;       // H floats
};

// Elman, leaky and echo-state units (a = 1 is Elman):
//     u = tanh(A_t + h_{t-1} U),   h_t = (1 - a) h_{t-1} + a u                saved: u
// Gradient, with dh = dL/dh_t:
//     dA = dZ = a dh (1 - u^2)            (d tanh(x) = 1 - tanh(x)^2)
//     dL/dh_{t-1} = dZ U^T + (1 - a) dh   (the leak's own path)
struct Leaky {
  static constexpr int kGates = 1, kSaved = 1, kSummed = 1;
  int H;
  const float* b;
  float a;

  void Forward(const ForwardRow& row) const {
    Vec u(row.saved, H);
    u = (ConstVec(row.z, H) + ConstVec(b, H)).tanh();
    Vec(row.h, H) = (1.0f - a) * ConstVec(row.h_prev, H) + a * u;
  }

  void Backward(const BackwardRow& row) const {
    ConstVec u(row.saved, H), dh(row.dh, H);
    Vec(row.dz, H) = dh * a * (1.0f - u * u);
    Vec(row.direct, H) = (1.0f - a) * dh;
  }
};

// LSTM, gates in Keras's order i, f, c, o:
//     z = A_t + h_{t-1} U;  i, f, o = sigmoid(z_i, z_f, z_o);  g = tanh(z_c)
//     c_t = f c_{t-1} + i g,   h_t = o tanh(c_t)                      saved: i f g o, and c_t
// Gradient, with dh = dL/dh_t and dc = dL/dc_t from step t + 1 (sigmoid' = s (1 - s)):
//     dc += dh o (1 - tanh(c_t)^2)                    (h_t's path into c_t)
//     dZ_i = dc g i (1 - i),  dZ_f = dc c_{t-1} f (1 - f),  dZ_c = dc i (1 - g^2),
//     dZ_o = dh tanh(c_t) o (1 - o);   dA = dZ
//     dL/dc_{t-1} = dc f,   dL/dh_{t-1} = dZ U^T (no direct term)
struct Lstm {
  static constexpr int kGates = 4, kSaved = 4, kSummed = 4;
  int H;
  const float* b;

  void Forward(const ForwardRow& row) const {
    float* s = row.saved;
    Vec i(s, H), f(s + H, H), g(s + 2 * H, H), o(s + 3 * H, H), c(row.c, H);
    i = Sigmoid(ConstVec(row.z, H) + ConstVec(b, H));
    f = Sigmoid(ConstVec(row.z + H, H) + ConstVec(b + H, H));
    g = (ConstVec(row.z + 2 * H, H) + ConstVec(b + 2 * H, H)).tanh();
    o = Sigmoid(ConstVec(row.z + 3 * H, H) + ConstVec(b + 3 * H, H));
    if (row.keep) c = ConstVec(row.c_prev, H);
    else c = f * ConstVec(row.c_prev, H) + i * g;
    Vec(row.h, H) = o * c.tanh();
  }

  void Backward(const BackwardRow& row) const {
    const float* s = row.saved;
    ConstVec i(s, H), f(s + H, H), g(s + 2 * H, H), o(s + 3 * H, H), dh(row.dh, H);
    Vec dc(row.dc, H), tc(row.scratch, H);
    tc = ConstVec(row.c, H).tanh();
    dc += dh * o * (1.0f - tc * tc);
    Vec(row.dz, H) = dc * g * i * (1.0f - i);
    Vec(row.dz + H, H) = dc * ConstVec(row.c_prev, H) * f * (1.0f - f);
    Vec(row.dz + 2 * H, H) = dc * i * (1.0f - g * g);
    Vec(row.dz + 3 * H, H) = dh * tc * o * (1.0f - o);
    dc *= f;
    Vec(row.direct, H).setZero();
  }
};

// GRU with the reset gate after the recurrent product (Keras's and cuDNN's default), gates
// z, r, h and the recurrent bias b':
//     s = h_{t-1} U + b';  z = sigmoid(A_z + s_z);  r = sigmoid(A_r + s_r)
//     g = tanh(A_h + r s_h),   h_t = z h_{t-1} + (1 - z) g               saved: z r g s_h
// Gradient, with dh = dL/dh_t:
//     dA_h = dh (1 - z) (1 - g^2),  dA_z = dh (h_{t-1} - g) z (1 - z),  dA_r = dA_h s_h r (1 - r)
//     dZ = dL/ds = [dA_z, dA_r, r dA_h]       (what meets U and b')
//     dL/dh_{t-1} = dZ U^T + dh z
struct Gru {
  static constexpr int kGates = 3, kSaved = 4, kSummed = 2;
  int H;
  const float* b;
  const float* b_recurrent;

  void Forward(const ForwardRow& row) const {
    const float* bp = b_recurrent;
    float* s = row.saved;
    Vec z(s, H), r(s + H, H), g(s + 2 * H, H), sh(s + 3 * H, H);
    z = Sigmoid(ConstVec(row.z, H) + ConstVec(b, H) + ConstVec(bp, H));
    r = Sigmoid(ConstVec(row.z + H, H) + ConstVec(b + H, H) + ConstVec(bp + H, H));
    sh = ConstVec(row.hh, H) + ConstVec(bp + 2 * H, H);
    g = (ConstVec(row.xh, H) + ConstVec(b + 2 * H, H) + r * sh).tanh();
    Vec(row.h, H) = z * ConstVec(row.h_prev, H) + (1.0f - z) * g;
  }

  void Backward(const BackwardRow& row) const {
    const float* s = row.saved;
    ConstVec z(s, H), r(s + H, H), g(s + 2 * H, H), sh(s + 3 * H, H), dh(row.dh, H);
    Vec dah(row.da + 2 * H, H);
    dah = dh * (1.0f - z) * (1.0f - g * g);
    Vec(row.da, H) = dh * (ConstVec(row.h_prev, H) - g) * z * (1.0f - z);
    Vec(row.da + H, H) = dah * sh * r * (1.0f - r);
    Vec(row.dz, 2 * H) = Vec(row.da, 2 * H);
    Vec(row.dz + 2 * H, H) = dah * r;
    Vec(row.direct, H) = dh * z;
  }
};

// GRU with the reset gate before the recurrent product (Cho et al., 2014; reset_after=False):
//     z = sigmoid(A_z + h_{t-1} U_z);  r = sigmoid(A_r + h_{t-1} U_r);  q = r h_{t-1}
//     g = tanh(A_h + q U_h),   h_t = z h_{t-1} + (1 - z) g                saved: z r g q
// The candidate needs r first: a second product, x_t W_h + q U_h, between two row phases.
// Gradient, with dh = dL/dh_t, in two phases around dq = dL/dq = dA_h U_h^T:
//     dA_h = dh (1 - z) (1 - g^2)                                         (Candidate)
//     dA_z = dh (h_{t-1} - g) z (1 - z),  dA_r = dq h_{t-1} r (1 - r)     (Backward)
//     dZ = [dA_z, dA_r] (what meets U_zr; U_h meets q: dU_h = q^T dA_h)
//     dL/dh_{t-1} = dZ U_zr^T + dh z + dq r
struct GruV1 {
  static constexpr int kGates = 3, kSaved = 4, kSummed = 2;
  int H;
  const float* b;

  void Forward(const ForwardRow& row) const {  // the gates and q; the candidate follows
    float* s = row.saved;
    Vec z(s, H), r(s + H, H), q(s + 3 * H, H);
    z = Sigmoid(ConstVec(row.z, H) + ConstVec(b, H));
    r = Sigmoid(ConstVec(row.z + H, H) + ConstVec(b + H, H));
    q = r * ConstVec(row.h_prev, H);
    Vec(row.q, H) = q;
  }

  void ForwardCandidate(const ForwardRow& row) const {  // row.xh = x_t W_h + q U_h
    float* s = row.saved;
    Vec z(s, H), g(s + 2 * H, H);
    g = (ConstVec(row.xh, H) + ConstVec(b + 2 * H, H)).tanh();
    Vec(row.h, H) = z * ConstVec(row.h_prev, H) + (1.0f - z) * g;
  }

  void BackwardCandidate(const BackwardRow& row) const {  // dA_h, before dq = dA_h U_h^T
    const float* s = row.saved;
    ConstVec z(s, H), g(s + 2 * H, H), dh(row.dh, H);
    Vec(row.da + 2 * H, H) = dh * (1.0f - z) * (1.0f - g * g);
  }

  void Backward(const BackwardRow& row) const {
    const float* s = row.saved;
    ConstVec z(s, H), r(s + H, H), g(s + 2 * H, H), h(row.h_prev, H), dq(row.dq, H), dh(row.dh, H);
    Vec(row.da, H) = dh * (h - g) * z * (1.0f - z);
    Vec(row.da + H, H) = dq * h * r * (1.0f - r);
    Vec(row.dz, 2 * H) = Vec(row.da, 2 * H);
    Vec(row.direct, H) = dh * z + dq * r;
  }
};

template <class Cell>
constexpr bool kCandidateApart = Cell::kSummed < Cell::kGates;  // the GRUs
template <class Cell>
constexpr bool kResetBefore = std::is_same<Cell, GruV1>::value;

// ---------------------------------------------------------------------------------------
// Index arithmetic of the op's tensors: x, outputs, mask and dL/doutputs are batch-major,
// (B, T, .); cells, saved and dA are time-major, (T, B, .).
struct Layout {
  int B, T;
  int64_t BatchMajor(int b, int t) const { return int64_t(b) * T + t; }
  int64_t TimeMajor(int t, int b) const { return int64_t(t) * B + b; }
};

// The tensors both loops read, as pointers; null where a cell has none.
struct Sequence {
  const float* x;        // (B, T, F)
  const float* W;        // (F, G H); the backward loop has no use for it
  const float* U;        // (H, G H)
  const float* h0;       // (B, H)
  const float* c0;       // (B, H), lstm
  const float* mask;     // (B, T), or null
  bool Kept(int64_t bt) const { return mask != nullptr && mask[bt] == 0.0f; }
};

// The forward loop over one shard's rows [first, first + rows): each step one product
// z = x_t W + h_{t-1} U over the summed gate blocks (and the GRUs' candidate products),
// then the cell's row arithmetic. Writes h_t to `out` (B, T, H), c_t to `cs` (T, B, H) and,
// with `save`, the gates to `sv` (T, B, S H).
template <class Cell>
class ForwardLoop {
 public:
  ForwardLoop(const Cell& cell, const Sequence& seq, int F)
      : cell_(cell), seq_(seq), F_(F), H_(cell.H), GH_(Cell::kGates * cell.H) {
    const int summed = Cell::kSummed * H_;
    PW_ = Pack(seq.W, GH_, F, 0, summed);
    PU_ = Pack(seq.U, GH_, H_, 0, summed);
    if (kCandidateApart<Cell>) {
      PWh_ = Pack(seq.W, GH_, F, summed, H_);
      PUh_ = Pack(seq.U, GH_, H_, summed, H_);
    }
  }

  void Run(Layout at, int first, int rows, float* out, float* cs, float* sv, bool save) const {
    const int H = H_, S = Cell::kSaved, ldz = PW_.width(), ldc = PWh_.width();
    const bool lstm = std::is_same<Cell, Lstm>::value;
    std::vector<float> z(int64_t(rows) * ldz), xh(int64_t(rows) * ldc), hh(int64_t(rows) * ldc),
        q(kResetBefore<Cell> ? rows * H : 0), gates(save ? 0 : int64_t(rows) * S * H);
    std::vector<ForwardRow> step(rows);
    for (int t = 0; t < at.T; ++t) {
      const Rows x{seq_.x + at.BatchMajor(first, t) * F_, int64_t(at.T) * F_};  // x_t of the rows
      // h_{t-1} of the rows: h0 at t = 0, else the previous step's outputs
      const Rows h = t == 0 ? Rows{seq_.h0 + int64_t(first) * H, H}
                            : Rows{out + at.BatchMajor(first, t - 1) * H, int64_t(at.T) * H};
      Multiply(x, PW_, h, &PU_, rows, z.data(), ldz);
      if (kCandidateApart<Cell> && !kResetBefore<Cell>) {
        Multiply(x, PWh_, rows, xh.data(), ldc);
        Multiply(h, PUh_, rows, hh.data(), ldc);
      }
      for (int r = 0; r < rows; ++r) {
        const int64_t bt = at.BatchMajor(first + r, t), tb = at.TimeMajor(t, first + r);
        ForwardRow& row = step[r];
        row.z = z.data() + int64_t(r) * ldz;
        row.xh = xh.data() + int64_t(r) * ldc;
        row.hh = hh.data() + int64_t(r) * ldc;
        row.h_prev = h.data + r * h.ld;
        row.h = out + bt * H;
        row.saved = save ? sv + tb * S * H : gates.data() + int64_t(r) * S * H;
        row.q = q.data() + r * H;
        row.keep = seq_.Kept(bt);
        if (lstm) {
          row.c_prev = t == 0 ? seq_.c0 + int64_t(first + r) * H : cs + (tb - at.B) * H;
          row.c = cs + tb * H;
        }
        cell_.Forward(row);
        if (row.keep && !kResetBefore<Cell>) Vec(row.h, H) = ConstVec(row.h_prev, H);
      }
      if constexpr (kResetBefore<Cell>) {
        Multiply(x, PWh_, Rows{q.data(), H}, &PUh_, rows, xh.data(), ldc);  // x_t W_h + q U_h
        for (int r = 0; r < rows; ++r) {
          cell_.ForwardCandidate(step[r]);
          if (step[r].keep) Vec(step[r].h, H) = ConstVec(step[r].h_prev, H);
        }
      }
    }
  }

 private:
  const Cell cell_;
  const Sequence seq_;
  const int F_, H_, GH_;
  Packed PW_, PU_, PWh_, PUh_;
};

// The backward loop over one shard's rows, from T down to 1. At each step the cell forms
// dA_t and dZ_t; while both are in cache the loop adds the step to the weight gradients,
// dW += x_t^T dA_t, dU += h_{t-1}^T dZ_t (gru_v1's candidate block: q_t^T dA_h),
// db += sum dA_t, db' += sum dZ_t (gru), and then dL/dh_{t-1} = dZ_t U^T + direct.
// The sums run once per K steps over about 128 rows, so that a register tile of dW or dU
// stays loaded over many rows.
template <class Cell>
class BackwardLoop {
 public:
  BackwardLoop(const Cell& cell, const Sequence& seq, int F) : cell_(cell), seq_(seq), F_(F), H_(cell.H) {
    const int GH = Cell::kGates * H_;
    // dZ meets U over every block, but gru_v1's candidate block, which meets q
    PT_ = PackTransposed(seq.U, GH, H_, 0, kResetBefore<Cell> ? 2 * H_ : GH);
    if (kResetBefore<Cell>) PTh_ = PackTransposed(seq.U, GH, H_, 2 * H_, H_);
  }

  // Gradient sums of one shard: dW (F, G H), dU (H, G H), db and db' (G H).
  struct Sums {
    float *dW, *dU, *db, *db_recurrent;
  };

  // `d_out` (B, T, H) and `d_cells` (T, B, H; lstm, or null) are the gradients arriving
  // at the outputs; `out`, `cs` and `sv` what the forward loop wrote. Writes dA (T, B, G H),
  // dh0 and dc0 (B, H) for the shard's rows and adds to `sums`.
  void Run(Layout at, int first, int rows, const float* out, const float* cs, const float* sv,
           const float* d_out, const float* d_cells, float* dA, float* dh0, float* dc0, Sums sums) const {
    const int H = H_, F = F_, GH = Cell::kGates * H, S = Cell::kSaved;
    const bool lstm = std::is_same<Cell, Lstm>::value, gru = std::is_same<Cell, Gru>::value;
    const bool apart = kCandidateApart<Cell>, v1 = kResetBefore<Cell>;
    const int ldh = PT_.width(), ldq = PTh_.width();
    std::vector<float> dh(int64_t(rows) * ldh, 0.0f), dc(lstm ? rows * H : 0, 0.0f), direct(rows * H),
        dq(int64_t(rows) * ldq), scratch(H);
    // dZ_t and (GRUs) dA_t of K steps, each step's rows one contiguous block, with their
    // rows of x, h_{t-1} (and q)
    const int K = std::max(1, 128 / rows);
    std::vector<float> zblock(int64_t(K) * rows * GH), ablock(apart ? int64_t(K) * rows * GH : 0);
    std::vector<const float*> xrows(K * rows), hrows(K * rows), qrows(v1 ? K * rows : 0);
    int filled = 0;  // steps in the block
    auto add_block = [&]() {
      const int n = filled * rows;
      const float* da = apart ? ablock.data() : zblock.data();
      AccumulateTransposed(xrows.data(), F, da, GH, GH, n, sums.dW, GH);
      if (v1) {
        AccumulateTransposed(hrows.data(), H, zblock.data(), GH, 2 * H, n, sums.dU, GH);
        AccumulateTransposed(qrows.data(), H, ablock.data() + 2 * H, GH, H, n, sums.dU + 2 * H, GH);
      } else {
        AccumulateTransposed(hrows.data(), H, zblock.data(), GH, GH, n, sums.dU, GH);
      }
      for (int k = 0; k < n; ++k) {
        Vec(sums.db, GH) += ConstVec(da + int64_t(k) * GH, GH);
        if (gru) Vec(sums.db_recurrent, GH) += ConstVec(zblock.data() + int64_t(k) * GH, GH);
      }
      filled = 0;
    };
    std::vector<BackwardRow> step(rows);
    for (int t = at.T - 1; t >= 0; --t) {
      float* zs = zblock.data() + int64_t(filled) * rows * GH;           // dZ_t: what meets U
      float* as = apart ? ablock.data() + int64_t(filled) * rows * GH : zs;  // dA_t: what meets W
      const int64_t tb0 = at.TimeMajor(t, first);
      for (int r = 0; r < rows; ++r) {
        const int64_t bt = at.BatchMajor(first + r, t), tb = tb0 + r;
        Vec(dh.data() + int64_t(r) * ldh, H) += ConstVec(d_out + bt * H, H);
        if (d_cells != nullptr) Vec(dc.data() + r * H, H) += ConstVec(d_cells + tb * H, H);
        BackwardRow& row = step[r];
        row.saved = sv + tb * S * H;
        row.h_prev = t == 0 ? seq_.h0 + int64_t(first + r) * H : out + (bt - 1) * H;
        if (lstm) {
          row.c = cs + tb * H;
          row.c_prev = t == 0 ? seq_.c0 + int64_t(first + r) * H : cs + (tb - at.B) * H;
          row.dc = dc.data() + r * H;
        }
        row.dq = dq.data() + int64_t(r) * ldq;
        row.dh = dh.data() + int64_t(r) * ldh;
        row.da = as + int64_t(r) * GH;
        row.dz = zs + int64_t(r) * GH;
        row.direct = direct.data() + r * H;
        row.scratch = scratch.data();
        xrows[filled * rows + r] = seq_.x + bt * F;
        hrows[filled * rows + r] = row.h_prev;
        if (v1) qrows[filled * rows + r] = row.saved + 3 * H;
        if (seq_.Kept(bt)) {  // the state passed through, so does its gradient
          Vec(row.dz, GH).setZero();
          if (apart) Vec(row.da, GH).setZero();
          Vec(row.direct, H) = ConstVec(row.dh, H);
        }
      }
      if constexpr (kResetBefore<Cell>) {  // first the candidate's product: dq = dA_h U_h^T
        for (int r = 0; r < rows; ++r)
          if (!seq_.Kept(at.BatchMajor(first + r, t))) cell_.BackwardCandidate(step[r]);
        Multiply(Rows{as + 2 * H, GH}, PTh_, rows, dq.data(), ldq);
      }
      for (int r = 0; r < rows; ++r)
        if (!seq_.Kept(at.BatchMajor(first + r, t))) cell_.Backward(step[r]);
      std::memcpy(dA + tb0 * GH, as, sizeof(float) * rows * GH);
      if (t > 0) Prefetch(at, first, rows, t - 1, out, cs, sv, d_out);
      // dh_{t-1} = dZ U^T + the direct terms
      Multiply(Rows{zs, GH}, PT_, rows, dh.data(), ldh);
      for (int r = 0; r < rows; ++r) Vec(dh.data() + int64_t(r) * ldh, H) += ConstVec(direct.data() + r * H, H);
      if (++filled == K || t == 0) add_block();
    }
    for (int r = 0; r < rows; ++r) {
      Vec(dh0 + int64_t(first + r) * H, H) = Vec(dh.data() + int64_t(r) * ldh, H);
      if (lstm) Vec(dc0 + int64_t(first + r) * H, H) = Vec(dc.data() + r * H, H);
    }
  }

 private:
  // What step t reads, fetched from memory while step t + 1 computes: the forward pass
  // wrote it long before, and it stalled every row.
  void Prefetch(Layout at, int first, int rows, int t, const float* out, const float* cs, const float* sv,
                const float* d_out) const {
    const int H = H_, S = Cell::kSaved;
    const int64_t tb0 = at.TimeMajor(t, first);
    rnnkit::Prefetch(sv + tb0 * S * H, int64_t(rows) * S * H);
    if (std::is_same<Cell, Lstm>::value) {
      rnnkit::Prefetch(cs + tb0 * H, int64_t(rows) * H);                           // c_t
      if (t > 0) rnnkit::Prefetch(cs + (tb0 - at.B) * H, int64_t(rows) * H);     // c_{t-1}
    }
    for (int r = 0; r < rows; ++r) {
      const int64_t bt = at.BatchMajor(first + r, t);
      rnnkit::Prefetch(d_out + bt * H, H);
      rnnkit::Prefetch(seq_.x + bt * F_, F_);
      if (t > 0) rnnkit::Prefetch(out + (bt - 1) * H, H);  // h_{t-1}
    }
  }

  const Cell cell_;
  const Sequence seq_;
  const int F_, H_;
  Packed PT_, PTh_;
};

// ---------------------------------------------------------------------------------------
// The ops

enum class CellKind { kLeaky, kLstm, kGru, kGruV1 };

int GateCount(CellKind cell) { return cell == CellKind::kLeaky ? 1 : cell == CellKind::kLstm ? 4 : 3; }
int SavedCount(CellKind cell) { return cell == CellKind::kLeaky ? 1 : 4; }

tensorflow::Status ParseCell(const std::string& name, CellKind* cell) {
  if (name == "leaky") *cell = CellKind::kLeaky;
  else if (name == "lstm") *cell = CellKind::kLstm;
  else if (name == "gru") *cell = CellKind::kGru;
  else if (name == "gru_v1") *cell = CellKind::kGruV1;
  else return InvalidArgument("unknown cell ", name);
  return tensorflow::OkStatus();
}

// The attributes both ops share: which cell, and its leak rate.
class CellOp : public OpKernel {
 public:
  explicit CellOp(OpKernelConstruction* context) : OpKernel(context) {
    std::string name;
    OP_REQUIRES_OK(context, context->GetAttr("cell", &name));
    OP_REQUIRES_OK(context, ParseCell(name, &cell_));
    OP_REQUIRES_OK(context, context->GetAttr("leak_rate", &leak_));
  }

 protected:
  // Calls fn(cell) with the struct of this op's cell kind.
  template <typename Fn>
  void WithCell(int H, const float* bias, const float* recurrent_bias, Fn fn) const {
    switch (cell_) {
      case CellKind::kLeaky: return fn(Leaky{H, bias, leak_});
      case CellKind::kLstm: return fn(Lstm{H, bias});
      case CellKind::kGru: return fn(Gru{H, bias, recurrent_bias});
      case CellKind::kGruV1: return fn(GruV1{H, bias});
    }
  }

  CellKind cell_;
  float leak_;
};

class RecurrenceOp : public CellOp {
 public:
  explicit RecurrenceOp(OpKernelConstruction* context) : CellOp(context) {
    OP_REQUIRES_OK(context, context->GetAttr("save", &save_));
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& inputs = context->input(0);            // (B, T, F): x, input dropout applied
    const Tensor& kernel = context->input(1);            // (F, G H): W
    const Tensor& bias = context->input(2);              // (G H,): b, or (0,) without bias
    const Tensor& recurrent_kernel = context->input(3);  // (H, G H): U
    const Tensor& recurrent_bias = context->input(4);    // (G H,): b' for gru, else (0,)
    const Tensor& h0 = context->input(5);                // (B, H)
    const Tensor& c0 = context->input(6);                // (B, H) for lstm, else ignored
    const Tensor& mask = context->input(7);              // (B, T), or (0,) for none
    OP_REQUIRES(context, inputs.dims() == 3 && kernel.dims() == 2 && recurrent_kernel.dims() == 2,
                InvalidArgument("inputs must be (B, T, F), kernel (F, G H), recurrent_kernel (H, G H)"));
    const int B = inputs.dim_size(0), T = inputs.dim_size(1), F = inputs.dim_size(2);
    const int H = recurrent_kernel.dim_size(0), GH = GateCount(cell_) * H, S = SavedCount(cell_);
    OP_REQUIRES(context,
                kernel.dim_size(0) == F && kernel.dim_size(1) == GH && recurrent_kernel.dim_size(1) == GH,
                InvalidArgument("kernel must be (F, G H) and recurrent_kernel (H, G H)"));
    OP_REQUIRES(context, bias.NumElements() == 0 || bias.NumElements() == GH,
                InvalidArgument("bias must be (G H,) or empty"));
    OP_REQUIRES(context, h0.dims() == 2 && h0.dim_size(0) == B && h0.dim_size(1) == H,
                InvalidArgument("h0 must be (B, H)"));
    const bool lstm = cell_ == CellKind::kLstm, masked = mask.NumElements() > 0;
    OP_REQUIRES(context, !lstm || (c0.dims() == 2 && c0.dim_size(0) == B && c0.dim_size(1) == H),
                InvalidArgument("c0 must be (B, H)"));
    OP_REQUIRES(context, !masked || (mask.dims() == 2 && mask.dim_size(0) == B && mask.dim_size(1) == T),
                InvalidArgument("mask must be (B, T)"));
    OP_REQUIRES(context, cell_ != CellKind::kGru || recurrent_bias.NumElements() == GH,
                InvalidArgument("recurrent_bias must be (G H,)"));

    Tensor *outputs, *cells, *saved;
    OP_REQUIRES_OK(context, context->allocate_output(0, TensorShape({B, T, H}), &outputs));
    OP_REQUIRES_OK(context, context->allocate_output(1, TensorShape({lstm ? T : 0, B, H}), &cells));
    OP_REQUIRES_OK(context, context->allocate_output(2, TensorShape({save_ ? T : 0, B, S * H}), &saved));
    if (B == 0 || T == 0) return;

    std::vector<float> zeros(bias.NumElements() == 0 ? GH : 0, 0.0f);
    const float* b = bias.NumElements() > 0 ? bias.flat<float>().data() : zeros.data();
    const Sequence seq{inputs.flat<float>().data(),
                       kernel.flat<float>().data(),
                       recurrent_kernel.flat<float>().data(),
                       h0.flat<float>().data(),
                       lstm ? c0.flat<float>().data() : nullptr,
                       masked ? mask.flat<float>().data() : nullptr};
    float* out = outputs->flat<float>().data();
    float* cs = lstm ? cells->flat<float>().data() : nullptr;
    float* sv = saved->flat<float>().data();
    const bool save = save_;
    WithCell(H, b, recurrent_bias.flat<float>().data(), [&](const auto& cell) {
      const ForwardLoop<std::decay_t<decltype(cell)>> loop(cell, seq, F);
      ForEachShard(context, B, [&](int, int first, int rows) {
        loop.Run(Layout{B, T}, first, rows, out, cs, sv, save);
      });
    });
  }

 private:
  bool save_;  // write the gates to `saved` for the gradient (training); else keep only a step's
};

class RecurrenceGradOp : public CellOp {
 public:
  using CellOp::CellOp;

  void Compute(OpKernelContext* context) override {
    const Tensor& inputs = context->input(0);            // (B, T, F): x
    const Tensor& recurrent_kernel = context->input(1);  // (H, G H): U (W is not needed here)
    const Tensor& h0 = context->input(2);                // (B, H)
    const Tensor& c0 = context->input(3);                // (B, H) lstm
    const Tensor& mask = context->input(4);              // (B, T) or (0,)
    const Tensor& outputs = context->input(5);           // (B, T, H)
    const Tensor& cells = context->input(6);             // (T, B, H) lstm
    const Tensor& saved = context->input(7);             // (T, B, S H)
    const Tensor& d_outputs = context->input(8);         // (B, T, H): gradient of outputs
    const Tensor& d_cells = context->input(9);           // (T, B, H): gradient of cells (lstm), or (0,)
    OP_REQUIRES(context, inputs.dims() == 3 && recurrent_kernel.dims() == 2 && outputs.dims() == 3,
                InvalidArgument("inputs must be (B, T, F), recurrent_kernel (H, G H) and outputs (B, T, H)"));
    const int B = outputs.dim_size(0), T = outputs.dim_size(1), H = outputs.dim_size(2), F = inputs.dim_size(2);
    const int GH = GateCount(cell_) * H;
    const bool lstm = cell_ == CellKind::kLstm;

    Tensor *d_projected, *d_kernel, *d_recurrent_kernel, *d_bias, *d_recurrent_bias, *d_h0, *d_c0;
    OP_REQUIRES_OK(context, context->allocate_output(0, TensorShape({T, B, GH}), &d_projected));
    OP_REQUIRES_OK(context, context->allocate_output(1, TensorShape({F, GH}), &d_kernel));
    OP_REQUIRES_OK(context, context->allocate_output(2, TensorShape({H, GH}), &d_recurrent_kernel));
    OP_REQUIRES_OK(context, context->allocate_output(3, TensorShape({GH}), &d_bias));
    OP_REQUIRES_OK(context, context->allocate_output(4, TensorShape({GH}), &d_recurrent_bias));
    OP_REQUIRES_OK(context, context->allocate_output(5, TensorShape({B, H}), &d_h0));
    OP_REQUIRES_OK(context, context->allocate_output(6, TensorShape({B, lstm ? H : 0}), &d_c0));
    Tensor* totals[] = {d_kernel, d_recurrent_kernel, d_bias, d_recurrent_bias};
    for (Tensor* total : totals) total->flat<float>().setZero();
    if (B == 0) return;
    if (T == 0) {
      d_h0->flat<float>().setZero();
      if (lstm) d_c0->flat<float>().setZero();
      return;
    }
    const Sequence seq{inputs.flat<float>().data(),
                       nullptr,
                       recurrent_kernel.flat<float>().data(),
                       h0.flat<float>().data(),
                       lstm ? c0.flat<float>().data() : nullptr,
                       mask.NumElements() > 0 ? mask.flat<float>().data() : nullptr};
    const float* out = outputs.flat<float>().data();
    const float* cs = lstm ? cells.flat<float>().data() : nullptr;
    const float* sv = saved.flat<float>().data();
    const float* dout = d_outputs.flat<float>().data();
    const float* dcells = lstm && d_cells.NumElements() > 0 ? d_cells.flat<float>().data() : nullptr;
    float* dA = d_projected->flat<float>().data();
    float* dh0 = d_h0->flat<float>().data();
    float* dc0 = lstm ? d_c0->flat<float>().data() : nullptr;
    // Each shard sums its own dW (F, G H), dU (H, G H), db and db'; they are added up after.
    const int64_t per_shard = int64_t(F + H + 2) * GH;
    std::vector<float> sums(ShardCount(context, B) * per_shard, 0.0f);
    WithCell(H, nullptr, nullptr, [&](const auto& cell) {
      using Loop = BackwardLoop<std::decay_t<decltype(cell)>>;
      const Loop loop(cell, seq, F);
      ForEachShard(context, B, [&](int shard, int first, int rows) {
        float* dW = sums.data() + shard * per_shard;
        float* dU = dW + int64_t(F) * GH;
        float* db = dU + int64_t(H) * GH;
        loop.Run(Layout{B, T}, first, rows, out, cs, sv, dout, dcells, dA, dh0, dc0,
                 typename Loop::Sums{dW, dU, db, db + GH});
      });
    });
    for (int64_t shard = 0; shard * per_shard < int64_t(sums.size()); ++shard) {
      const float* sum = sums.data() + shard * per_shard;
      for (Tensor* total : totals) {
        Vec(total->flat<float>().data(), total->NumElements()) += ConstVec(sum, total->NumElements());
        sum += total->NumElements();
      }
    }
  }
};

tensorflow::Status CellAttr(InferenceContext* c, CellKind* cell) {
  std::string name;
  TF_RETURN_IF_ERROR(c->GetAttr("cell", &name));
  return ParseCell(name, cell);
}

tensorflow::Status RecurrenceShape(InferenceContext* c) {
  ShapeHandle inputs, recurrent_kernel;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 3, &inputs));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(3), 2, &recurrent_kernel));
  CellKind cell;
  TF_RETURN_IF_ERROR(CellAttr(c, &cell));
  DimensionHandle B = c->Dim(inputs, 0), T = c->Dim(inputs, 1), H = c->Dim(recurrent_kernel, 0);
  DimensionHandle saved;
  TF_RETURN_IF_ERROR(c->Multiply(H, SavedCount(cell), &saved));
  c->set_output(0, c->MakeShape({B, T, H}));
  c->set_output(1, c->MakeShape({cell == CellKind::kLstm ? T : c->MakeDim(0), B, H}));
  bool save;
  TF_RETURN_IF_ERROR(c->GetAttr("save", &save));
  c->set_output(2, c->MakeShape({save ? T : c->MakeDim(0), B, saved}));
  return tensorflow::OkStatus();
}

tensorflow::Status RecurrenceGradShape(InferenceContext* c) {
  ShapeHandle inputs, recurrent_kernel, outputs;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 3, &inputs));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 2, &recurrent_kernel));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(5), 3, &outputs));
  CellKind cell;
  TF_RETURN_IF_ERROR(CellAttr(c, &cell));
  DimensionHandle B = c->Dim(outputs, 0), T = c->Dim(outputs, 1), H = c->Dim(outputs, 2);
  DimensionHandle F = c->Dim(inputs, 2), GH = c->Dim(recurrent_kernel, 1);
  c->set_output(0, c->MakeShape({T, B, GH}));
  c->set_output(1, c->MakeShape({F, GH}));
  c->set_output(2, c->MakeShape({H, GH}));
  c->set_output(3, c->MakeShape({GH}));
  c->set_output(4, c->MakeShape({GH}));
  c->set_output(5, c->MakeShape({B, H}));
  c->set_output(6, c->MakeShape({B, cell == CellKind::kLstm ? H : c->MakeDim(0)}));
  return tensorflow::OkStatus();
}

REGISTER_OP("RnnkitRecurrence")
    .Input("inputs: float")
    .Input("kernel: float")
    .Input("bias: float")
    .Input("recurrent_kernel: float")
    .Input("recurrent_bias: float")
    .Input("h0: float")
    .Input("c0: float")
    .Input("mask: float")
    .Output("outputs: float")
    .Output("cells: float")
    .Output("saved: float")
    .Attr("cell: {'leaky', 'lstm', 'gru', 'gru_v1'}")
    .Attr("leak_rate: float = 1.0")
    .Attr("save: bool = true")
    .SetShapeFn(RecurrenceShape);

REGISTER_OP("RnnkitRecurrenceGrad")
    .Input("inputs: float")
    .Input("recurrent_kernel: float")
    .Input("h0: float")
    .Input("c0: float")
    .Input("mask: float")
    .Input("outputs: float")
    .Input("cells: float")
    .Input("saved: float")
    .Input("d_outputs: float")
    .Input("d_cells: float")
    .Output("d_projected: float")
    .Output("d_kernel: float")
    .Output("d_recurrent_kernel: float")
    .Output("d_bias: float")
    .Output("d_recurrent_bias: float")
    .Output("d_h0: float")
    .Output("d_c0: float")
    .Attr("cell: {'leaky', 'lstm', 'gru', 'gru_v1'}")
    .Attr("leak_rate: float = 1.0")
    .SetShapeFn(RecurrenceGradShape);

REGISTER_KERNEL_BUILDER(Name("RnnkitRecurrence").Device(tensorflow::DEVICE_CPU), RecurrenceOp);
REGISTER_KERNEL_BUILDER(Name("RnnkitRecurrenceGrad").Device(tensorflow::DEVICE_CPU), RecurrenceGradOp);

}  // namespace rnnkit
