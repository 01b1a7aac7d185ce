// rnnkit's fused recurrence: a recurrent layer's time loop as one TensorFlow op.
//
// Keras's loop runs a dozen small ops per step, and on the CPU each op's dispatch costs
// more than its arithmetic. This op runs the whole loop: at each step, for the shard's
// rows, one register-blocked product z = x_t W + h_{t-1} U (W and U packed once per call,
// both terms summed in the same registers), then the cell's gate arithmetic. The batch is
// cut into one shard per intra-op thread; each shard runs its whole time loop on its own
// core, so the shards never wait for each other (the extra shards on the op's own helper
// threads, class Crew). The gradient op runs the loop backwards
// and sums the weight gradients step by step while each step's gradient is in cache; it
// also returns dA, the gradient of x W + b, for dX = dA W^T (a matrix product in
// layers/fused.py, which TensorFlow drops when nothing needs dX).
//
// What the gradient reads back, `saved` (the gates) and `cells`, is laid out time-major,
// (T, B, .), so that a step's rows are one contiguous block for both loops. Outside
// training (save = false) the gates are not written out; the gradient, if one is asked
// for anyway, runs the forward loop again with them.
//
// The equations are those of the cells' `call` (layers/*_cell.py), written per row, with
// A_t = x_t W + b:
//   leaky (SimpleRNNCell, LeakyRNNCell, EchoStateCell; a = 1 is Elman):
//       u = tanh(A_t + h U),  h' = (1 - a) h + a u                 saved: u
//   lstm:  z = A_t + h U; i, f, o = sigmoid(z_i, z_f, z_o); g = tanh(z_c)
//          c' = f c + i g,  h' = o tanh(c')                        saved: i f g o, c'
//   gru (reset_after): s = h U + b'; z = sigmoid(A_z + s_z); r = sigmoid(A_r + s_r)
//          g = tanh(A_h + r s_h),  h' = z h + (1 - z) g             saved: z r g s_h
//   gru_v1 (reset before): z, r = sigmoid(A_zr + h U_zr); q = r h
//          g = tanh(A_h + q U_h),  h' = z h + (1 - z) g             saved: z r g q
// A masked step (mask 0) keeps the state: h' = h, c' = c.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include <unistd.h>
#include <cstring>
#include <string>
#include <vector>

#include "Eigen/Core"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/platform/blocking_counter.h"

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

enum class Cell { kLeaky, kLstm, kGru, kGruV1 };

int GateCount(Cell cell) { return cell == Cell::kLeaky ? 1 : cell == Cell::kLstm ? 4 : 3; }
int SavedCount(Cell cell) { return cell == Cell::kLeaky ? 1 : 4; }

tensorflow::Status ParseCell(const std::string& name, Cell* cell) {
  if (name == "leaky") *cell = Cell::kLeaky;
  else if (name == "lstm") *cell = Cell::kLstm;
  else if (name == "gru") *cell = Cell::kGru;
  else if (name == "gru_v1") *cell = Cell::kGruV1;
  else return InvalidArgument("unknown cell ", name);
  return tensorflow::OkStatus();
}

template <typename E>
inline auto Sigmoid(const E& x) { return (x * 0.5f).tanh() * 0.5f + 0.5f; }

// How many row shards ForEachShard cuts a batch into: one per intra-op thread, at least 4 rows each.
int ShardCount(OpKernelContext* context, int batch) {
  auto* workers = context->device()->tensorflow_cpu_worker_threads()->workers;
  return std::max(1, std::min(workers->NumThreads(), batch / 4));
}

// The op's own helper threads, one per extra intra-op thread. TensorFlow's pool parks its
// threads within microseconds of going idle, and on a small virtual machine waking one
// took 0.3 to 0.6 ms per op, a few percent of a training step, while the shard on the
// calling thread waited for it. A crew thread instead waits for its next shard spinning
// (with a yield, so it gives way to any other runnable thread) for kSpin after its last
// one, which spans the gaps between a step's forward and backward ops and between steps,
// then sleeps. One op uses the crew at a time; another one meanwhile takes TensorFlow's pool.
class Crew {
 public:
  // The crew of `threads` - 1 helpers, or null: another size, or a forked child (whose
  // copy of the crew has no threads).
  static Crew* Get(int threads) {
    static Crew* crew = new Crew(threads);  // never destroyed: its threads outlive main()
    return crew->size_ == threads && crew->pid_ == getpid() ? crew : nullptr;
  }

  // Runs job(shard) for shard in [0, shards): 0 on the calling thread, helper `shard` the
  // others. False (nothing run) when another op holds the crew or shards exceed it.
  bool Run(int shards, const std::function<void(int)>& job) {
    if (shards > size_) return false;
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    job_ = &job;  // read by the helpers given a ticket below, all done before Run returns
    pending_.store(shards - 1, std::memory_order_relaxed);
    ++generation_;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (int id = 1; id < shards; ++id) tickets_[id].store(generation_, std::memory_order_release);
    }
    wake_.notify_all();
    job(0);
    for (int n = 1; pending_.load(std::memory_order_acquire) > 0; ++n) {
      Pause();
      if (n % 256 == 0) std::this_thread::yield();
    }
    return true;
  }

 private:
  static constexpr auto kSpin = std::chrono::milliseconds(5);

  explicit Crew(int threads) : size_(threads), tickets_(new std::atomic<uint64_t>[threads]) {
    for (int id = 0; id < threads; ++id) tickets_[id].store(0);
    for (int id = 1; id < threads; ++id) std::thread([this, id] { Loop(id); }).detach();
  }

  static void Pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }

  // Helper `id`: waits for a new ticket (spinning for kSpin, then asleep), runs its shard.
  void Loop(int id) {
    std::atomic<uint64_t>& ticket = tickets_[id];
    uint64_t seen = 0;
    for (;;) {
      const auto idle_since = std::chrono::steady_clock::now();
      for (int n = 1; ticket.load(std::memory_order_acquire) == seen; ++n) {
        Pause();
        if (n % 256 != 0) continue;
        std::this_thread::yield();
        if (std::chrono::steady_clock::now() - idle_since < kSpin) continue;
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return ticket.load(std::memory_order_acquire) != seen; });
      }
      seen = ticket.load(std::memory_order_acquire);
      (*job_)(id);
      pending_.fetch_sub(1, std::memory_order_release);
    }
  }

  const int size_;  // helpers + the calling thread
  const pid_t pid_ = getpid();
  std::unique_ptr<std::atomic<uint64_t>[]> tickets_;  // per helper: the last Run it is given
  std::mutex busy_, mutex_;
  std::condition_variable wake_;
  std::atomic<int> pending_{0};
  uint64_t generation_ = 0;
  const std::function<void(int)>* job_ = nullptr;
};

// Runs fn(shard, first_row, rows) over the ShardCount row shards of the batch, one per
// intra-op thread; each shard runs its whole time loop alone, so shards never wait for each other.
template <typename Fn>
void ForEachShard(OpKernelContext* context, int batch, Fn fn) {
  auto* workers = context->device()->tensorflow_cpu_worker_threads()->workers;
  const int shards = ShardCount(context, batch);
  const int per_shard = (batch + shards - 1) / shards;
  const std::function<void(int)> shard = [&](int s) {
    const int first = s * per_shard;
    const int rows = std::min(batch, first + per_shard) - first;
    if (rows > 0) fn(s, first, rows);
  };
  if (shards == 1) return shard(0);
  Crew* crew = Crew::Get(workers->NumThreads());
  if (crew != nullptr && crew->Run(shards, shard)) return;
  tensorflow::BlockingCounter done(shards - 1);
  for (int s = 1; s < shards; ++s) {
    workers->Schedule([&, s] {
      shard(s);
      done.DecrementCount();
    });
  }
  shard(0);
  done.Wait();
}

// ---------------------------------------------------------------------------------------
// The step's matrix product C = A P with P packed once per call: U is the same at every
// step, so it is laid out once in panels of kV columns, each panel a (inner, kV) block read
// contiguously, and the product is register-blocked (kR rows x 2 panels of accumulators).
// GCC's vector extension maps `vec` to AVX-512, AVX2 or SSE, whatever -march allows.

#if defined(__AVX512F__)
constexpr int kV = 16;
constexpr int kR = 8;
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

struct Packed {
  std::vector<float> data;  // panels x inner x kV
  int inner = 0, panels = 0;
  int width() const { return panels * kV; }
  const float* panel(int j) const { return data.data() + int64_t(j) * inner * kV; }
};

// P = M[:, col0:col0+cols] for a row-major M (rows = inner, row stride ld).
Packed Pack(const float* m, int64_t ld, int inner, int col0, int cols) {
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
Packed PackTransposed(const float* m, int64_t ld, int rows, int col0, int inner) {
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

// One tile of C = A1 P1 + A2 P2 (A2 null: C = A1 P1): kR rows x NP panels of accumulators.
template <int R, int NP>
inline void Tile(const float* a1, int64_t lda1, const Packed& p1, const float* a2, int64_t lda2,
                 const Packed* p2, int j, float* c, int64_t ldc) {
  vec acc[R][NP];
  for (int r = 0; r < R; ++r)
    for (int n = 0; n < NP; ++n) acc[r][n] = vec{};
  for (int term = 0; term < (a2 == nullptr ? 1 : 2); ++term) {
    const Packed& p = term == 0 ? p1 : *p2;
    const float* a = term == 0 ? a1 : a2;
    const int64_t lda = term == 0 ? lda1 : lda2;
    const float* q0 = p.panel(j);
    const float* q1 = NP > 1 ? p.panel(j + 1) : q0;
    for (int k = 0; k < p.inner; ++k) {
      const vec u0 = Load(q0 + k * kV);
      const vec u1 = NP > 1 ? Load(q1 + k * kV) : vec{};
      for (int r = 0; r < R; ++r) {
        const float x = a[r * lda + k];
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
inline void RowBlock(const float* a1, int64_t lda1, const Packed& p1, const float* a2, int64_t lda2,
                     const Packed* p2, float* c, int64_t ldc) {
  int j = 0;
  for (; j + 1 < p1.panels; j += 2) Tile<R, 2>(a1, lda1, p1, a2, lda2, p2, j, c, ldc);
  if (j < p1.panels) Tile<R, 1>(a1, lda1, p1, a2, lda2, p2, j, c, ldc);
}

// C (rows x p1.width(), row stride ldc) = A1 P1 + A2 P2, A1 (rows x p1.inner, row stride
// lda1) and A2 (rows x p2.inner) read in place; without A2, C = A1 P1. P1 and P2 have the
// same panels, so both products sum in the same registers and C is written once.
void Multiply(const float* a1, int64_t lda1, const Packed& p1, const float* a2, int64_t lda2, const Packed* p2,
              int rows, float* c, int64_t ldc) {
  int r = 0;
  for (; r + kR <= rows; r += kR) RowBlock<kR>(a1 + r * lda1, lda1, p1, a2 ? a2 + r * lda2 : nullptr, lda2, p2, c + r * ldc, ldc);
  const float* b1 = a1 + r * lda1;
  const float* b2 = a2 ? a2 + r * lda2 : nullptr;
  float* cr = c + r * ldc;
  switch (rows - r) {  // the last rows < kR
    case 0: break;
    case 1: RowBlock<1>(b1, lda1, p1, b2, lda2, p2, cr, ldc); break;
    case 2: RowBlock<2>(b1, lda1, p1, b2, lda2, p2, cr, ldc); break;
    case 3: RowBlock<3>(b1, lda1, p1, b2, lda2, p2, cr, ldc); break;
    case 4: RowBlock<4>(b1, lda1, p1, b2, lda2, p2, cr, ldc); break;
    case 5: RowBlock<5>(b1, lda1, p1, b2, lda2, p2, cr, ldc); break;
    case 6: RowBlock<6>(b1, lda1, p1, b2, lda2, p2, cr, ldc); break;
    default: RowBlock<7>(b1, lda1, p1, b2, lda2, p2, cr, ldc); break;
  }
}

void Multiply(const float* a, int64_t lda, int rows, const Packed& p, float* c, int64_t ldc) {
  Multiply(a, lda, p, nullptr, 0, nullptr, rows, c, ldc);
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
void AccumulatePanels(const float* const* a, int inner, const float* d, int64_t ldd, int rows, float* c,
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

void AccumulateTransposed(const float* const* a, int inner, const float* d, int64_t ldd, int cols, int rows,
                          float* c, int64_t ldc) {
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

// ---------------------------------------------------------------------------------------
// Forward

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
  Cell cell_;
  float leak_;
};

class RecurrenceOp : public CellOp {
 public:
  explicit RecurrenceOp(OpKernelConstruction* context) : CellOp(context) {
    OP_REQUIRES_OK(context, context->GetAttr("save", &save_));
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& inputs = context->input(0);   // (B, T, F): x, input dropout applied
    const Tensor& kernel = context->input(1);   // (F, G H): W
    const Tensor& ibias = context->input(2);    // (G H,): b, or (0,) without bias
    const Tensor& rkernel = context->input(3);  // (H, G H): U
    const Tensor& rbias = context->input(4);    // (G H,): b' for gru, else (0,)
    const Tensor& h0 = context->input(5);       // (B, H)
    const Tensor& c0 = context->input(6);       // (B, H) for lstm, else ignored
    const Tensor& mask = context->input(7);     // (B, T), or (0,) for none
    OP_REQUIRES(context, inputs.dims() == 3 && kernel.dims() == 2 && rkernel.dims() == 2,
                InvalidArgument("inputs must be (B, T, F), kernel (F, G H), recurrent_kernel (H, G H)"));
    const int B = inputs.dim_size(0), T = inputs.dim_size(1), F = inputs.dim_size(2);
    const int H = rkernel.dim_size(0), G = GateCount(cell_), S = SavedCount(cell_), GH = G * H;
    OP_REQUIRES(context, kernel.dim_size(0) == F && kernel.dim_size(1) == GH && rkernel.dim_size(1) == GH,
                InvalidArgument("kernel must be (F, G H) and recurrent_kernel (H, G H)"));
    OP_REQUIRES(context, ibias.NumElements() == 0 || ibias.NumElements() == GH,
                InvalidArgument("bias must be (G H,) or empty"));
    OP_REQUIRES(context, h0.dims() == 2 && h0.dim_size(0) == B && h0.dim_size(1) == H,
                InvalidArgument("h0 must be (B, H)"));
    const bool lstm = cell_ == Cell::kLstm, masked = mask.NumElements() > 0;
    OP_REQUIRES(context, !lstm || (c0.dims() == 2 && c0.dim_size(0) == B && c0.dim_size(1) == H),
                InvalidArgument("c0 must be (B, H)"));
    OP_REQUIRES(context, !masked || (mask.dims() == 2 && mask.dim_size(0) == B && mask.dim_size(1) == T),
                InvalidArgument("mask must be (B, T)"));
    OP_REQUIRES(context, cell_ != Cell::kGru || rbias.NumElements() == GH,
                InvalidArgument("recurrent_bias must be (G H,)"));

    Tensor *outputs, *cells, *saved;
    OP_REQUIRES_OK(context, context->allocate_output(0, TensorShape({B, T, H}), &outputs));
    OP_REQUIRES_OK(context, context->allocate_output(1, TensorShape({lstm ? T : 0, B, H}), &cells));
    OP_REQUIRES_OK(context, context->allocate_output(2, TensorShape({save_ ? T : 0, B, S * H}), &saved));
    if (B == 0 || T == 0) return;

    const float* X = inputs.flat<float>().data();
    const float* W = kernel.flat<float>().data();
    const float* U = rkernel.flat<float>().data();
    std::vector<float> zeros(ibias.NumElements() == 0 ? GH : 0, 0.0f);
    const float* bi = ibias.NumElements() > 0 ? ibias.flat<float>().data() : zeros.data();
    const float* bp = rbias.flat<float>().data();
    const float* m = masked ? mask.flat<float>().data() : nullptr;
    float* out = outputs->flat<float>().data();
    float* cs = lstm ? cells->flat<float>().data() : nullptr;
    float* sv = saved->flat<float>().data();
    const float* h0p = h0.flat<float>().data();
    const float* c0p = lstm ? c0.flat<float>().data() : nullptr;
    const Cell cell = cell_;
    const float a = leak_;
    const bool gru = cell == Cell::kGru, v1 = cell == Cell::kGruV1, save = save_;
    // z = x W + h U over the columns that sum before the nonlinearity: all of them, or
    // z and r for the GRUs, whose candidate keeps x W_h and h U_h (or q U_h) apart.
    const int summed = gru || v1 ? 2 * H : GH;
    const Packed PW = Pack(W, GH, F, 0, summed), PU = Pack(U, GH, H, 0, summed);
    const Packed PWh = gru || v1 ? Pack(W, GH, F, 2 * H, H) : Packed();
    const Packed PUh = gru || v1 ? Pack(U, GH, H, 2 * H, H) : Packed();

    ForEachShard(context, B, [&](int, int first, int rows) {
      const int ldz = PW.width(), ldc = PWh.width();
      std::vector<float> z(int64_t(rows) * ldz), xh(int64_t(rows) * ldc), hh(int64_t(rows) * ldc),
          q(v1 ? rows * H : 0), gates(save ? 0 : int64_t(rows) * S * H);  // without save: the step's gates
      for (int t = 0; t < T; ++t) {
        const float* xp = X + (int64_t(first) * T + t) * F;  // x_t of the shard's rows
        const int64_t xstride = int64_t(T) * F;
        // h_{t-1} of the shard's rows: h0 at t = 0, else the previous step's outputs.
        const float* hp = t == 0 ? h0p + int64_t(first) * H : out + (int64_t(first) * T + t - 1) * H;
        const int64_t hstride = t == 0 ? H : int64_t(T) * H;
        Multiply(xp, xstride, PW, hp, hstride, &PU, rows, z.data(), ldz);
        if (gru) {
          Multiply(xp, xstride, rows, PWh, xh.data(), ldc);
          Multiply(hp, hstride, rows, PUh, hh.data(), ldc);
        }
        for (int r = 0; r < rows; ++r) {
          const int64_t bt = int64_t(first + r) * T + t;  // outputs and mask: (B, T)
          const int64_t tb = int64_t(t) * B + first + r;  // cells and saved: (T, B)
          const float* hr = hp + r * hstride;
          float* ho = out + bt * H;
          float* s = save ? sv + tb * S * H : gates.data() + int64_t(r) * S * H;
          const float* zr = z.data() + int64_t(r) * ldz;
          const bool keep = m != nullptr && m[bt] == 0.0f;
          if (cell == Cell::kLeaky) {
            Vec u(s, H);
            u = (ConstVec(zr, H) + ConstVec(bi, H)).tanh();
            Vec(ho, H) = (1.0f - a) * ConstVec(hr, H) + a * u;
          } else if (cell == Cell::kLstm) {
            const float* cp = t == 0 ? c0p + int64_t(first + r) * H : cs + (tb - B) * H;
            Vec i(s, H), f(s + H, H), g(s + 2 * H, H), o(s + 3 * H, H), c(cs + tb * H, H);
            i = Sigmoid(ConstVec(zr, H) + ConstVec(bi, H));
            f = Sigmoid(ConstVec(zr + H, H) + ConstVec(bi + H, H));
            g = (ConstVec(zr + 2 * H, H) + ConstVec(bi + 2 * H, H)).tanh();
            o = Sigmoid(ConstVec(zr + 3 * H, H) + ConstVec(bi + 3 * H, H));
            if (keep) c = ConstVec(cp, H);
            else c = f * ConstVec(cp, H) + i * g;
            Vec(ho, H) = o * c.tanh();
          } else if (gru) {
            Vec zg(s, H), rg(s + H, H), g(s + 2 * H, H), inner(s + 3 * H, H);
            zg = Sigmoid(ConstVec(zr, H) + ConstVec(bi, H) + ConstVec(bp, H));
            rg = Sigmoid(ConstVec(zr + H, H) + ConstVec(bi + H, H) + ConstVec(bp + H, H));
            inner = ConstVec(hh.data() + int64_t(r) * ldc, H) + ConstVec(bp + 2 * H, H);
            g = (ConstVec(xh.data() + int64_t(r) * ldc, H) + ConstVec(bi + 2 * H, H) + rg * inner).tanh();
            Vec(ho, H) = zg * ConstVec(hr, H) + (1.0f - zg) * g;
          } else {  // gru_v1: the candidate needs a second product, after r
            Vec zg(s, H), rg(s + H, H), qs(s + 3 * H, H);
            zg = Sigmoid(ConstVec(zr, H) + ConstVec(bi, H));
            rg = Sigmoid(ConstVec(zr + H, H) + ConstVec(bi + H, H));
            qs = rg * ConstVec(hr, H);
            Vec(q.data() + r * H, H) = qs;
          }
          if (keep && !v1) Vec(ho, H) = ConstVec(hr, H);
        }
        if (!v1) continue;
        Multiply(xp, xstride, PWh, q.data(), H, &PUh, rows, xh.data(), ldc);  // x W_h + q U_h
        for (int r = 0; r < rows; ++r) {
          const int64_t bt = int64_t(first + r) * T + t;
          const float* hr = hp + r * hstride;
          float* s = save ? sv + (int64_t(t) * B + first + r) * S * H : gates.data() + int64_t(r) * S * H;
          Vec zg(s, H), g(s + 2 * H, H), ho(out + bt * H, H);
          g = (ConstVec(xh.data() + int64_t(r) * ldc, H) + ConstVec(bi + 2 * H, H)).tanh();
          if (m != nullptr && m[bt] == 0.0f) ho = ConstVec(hr, H);
          else ho = zg * ConstVec(hr, H) + (1.0f - zg) * g;
        }
      }
    });
  }

 private:
  bool save_;  // write the gates to `saved` for the gradient (training); else keep only a step's
};

// ---------------------------------------------------------------------------------------
// Backward: the loop run from T down to 1. At each step it forms dA_t = dL/d(x_t W + b),
// and dZ_t, what meets U (the same as dA_t but for the GRUs' candidate columns: r * dA_h
// for gru, dA_h against q = r h for gru_v1). While both are in cache it adds the step to
// the weight gradients, dW += x_t^T dA_t, dU += h_{t-1}^T dZ_t (gru_v1's candidate
// columns: q_t^T dZ_t), db += sum dA_t, db' += sum dZ_t (gru); then dh_{t-1} = dZ_t U^T + the
// direct terms. It also returns dA (T, B, G H), for dX = dA W^T.

class RecurrenceGradOp : public CellOp {
 public:
  using CellOp::CellOp;

  void Compute(OpKernelContext* context) override {
    const Tensor& inputs = context->input(0);   // (B, T, F): x
    const Tensor& kernel = context->input(1);   // (H, G H): U
    const Tensor& h0 = context->input(2);       // (B, H)
    const Tensor& c0 = context->input(3);       // (B, H) lstm
    const Tensor& mask = context->input(4);     // (B, T) or (0,)
    const Tensor& outputs = context->input(5);  // (B, T, H)
    const Tensor& cells = context->input(6);    // (T, B, H) lstm
    const Tensor& saved = context->input(7);    // (T, B, S H)
    const Tensor& d_out = context->input(8);    // (B, T, H): gradient of outputs
    const Tensor& d_cells = context->input(9);  // (T, B, H): gradient of cells (lstm), or (0,)
    OP_REQUIRES(context, inputs.dims() == 3 && kernel.dims() == 2 && outputs.dims() == 3,
                InvalidArgument("inputs must be (B, T, F), recurrent_kernel (H, G H) and outputs (B, T, H)"));
    const int B = outputs.dim_size(0), T = outputs.dim_size(1), H = outputs.dim_size(2), F = inputs.dim_size(2);
    const int G = GateCount(cell_), S = SavedCount(cell_), GH = G * H;
    const bool lstm = cell_ == Cell::kLstm, gru = cell_ == Cell::kGru || cell_ == Cell::kGruV1;

    Tensor *d_proj, *d_kernel, *d_rkernel, *d_bias, *d_rbias, *d_h0, *d_c0;
    OP_REQUIRES_OK(context, context->allocate_output(0, TensorShape({T, B, GH}), &d_proj));
    OP_REQUIRES_OK(context, context->allocate_output(1, TensorShape({F, GH}), &d_kernel));
    OP_REQUIRES_OK(context, context->allocate_output(2, TensorShape({H, GH}), &d_rkernel));
    OP_REQUIRES_OK(context, context->allocate_output(3, TensorShape({GH}), &d_bias));
    OP_REQUIRES_OK(context, context->allocate_output(4, TensorShape({GH}), &d_rbias));
    OP_REQUIRES_OK(context, context->allocate_output(5, TensorShape({B, H}), &d_h0));
    OP_REQUIRES_OK(context, context->allocate_output(6, TensorShape({B, lstm ? H : 0}), &d_c0));
    Tensor* sums_out[] = {d_kernel, d_rkernel, d_bias, d_rbias};
    for (Tensor* total : sums_out) total->flat<float>().setZero();
    if (B == 0) return;
    if (T == 0) {
      d_h0->flat<float>().setZero();
      if (lstm) d_c0->flat<float>().setZero();
      return;
    }
    const float* X = inputs.flat<float>().data();
    const float* U = kernel.flat<float>().data();
    const float* m = mask.NumElements() > 0 ? mask.flat<float>().data() : nullptr;
    const float* out = outputs.flat<float>().data();
    const float* cs = lstm ? cells.flat<float>().data() : nullptr;
    const float* sv = saved.flat<float>().data();
    const float* dout = d_out.flat<float>().data();
    const float* h0p = h0.flat<float>().data();
    const float* c0p = lstm ? c0.flat<float>().data() : nullptr;
    const float* dcells = lstm && d_cells.NumElements() > 0 ? d_cells.flat<float>().data() : nullptr;
    float* dA = d_proj->flat<float>().data();
    float* dh0 = d_h0->flat<float>().data();
    float* dc0 = lstm ? d_c0->flat<float>().data() : nullptr;
    const Cell cell = cell_;
    const float a = leak_;
    const bool v1 = cell == Cell::kGruV1;
    const Packed PT = PackTransposed(U, GH, H, 0, v1 ? 2 * H : GH);  // dZ U^T
    const Packed PTh = v1 ? PackTransposed(U, GH, H, 2 * H, H) : Packed();  // gru_v1: dA_h U_h^T
    // Each shard sums its own dW (F, G H), dU (H, G H), db and db'; they are added up after.
    const int64_t per_shard = int64_t(F + H + 2) * GH;
    std::vector<float> sums(ShardCount(context, B) * per_shard, 0.0f);

    ForEachShard(context, B, [&](int shard, int first, int rows) {
      float* dW = sums.data() + shard * per_shard;
      float* dU = dW + int64_t(F) * GH;
      float* db = dU + int64_t(H) * GH;
      float* dbp = db + GH;
      const int ldh = PT.width(), ldq = PTh.width();
      std::vector<float> dh(int64_t(rows) * ldh, 0.0f), dc(lstm ? rows * H : 0, 0.0f), back(rows * H),
          dq(int64_t(rows) * ldq), scratch(H);
      // dZ_t and (GRUs) dA_t of K steps, each step's rows one contiguous block, with their
      // rows of x, h_{t-1} (and q): the weight gradients are summed once per K steps, about
      // 128 rows at a time, so that a tile of them stays in registers over many rows.
      const int K = std::max(1, 128 / rows);
      std::vector<float> zblock(int64_t(K) * rows * GH), ablock(gru ? int64_t(K) * rows * GH : 0);
      std::vector<const float*> xrows(K * rows), hrows(K * rows), qrows(v1 ? K * rows : 0);
      int filled = 0;  // steps in the block
      auto add_block = [&]() {
        const int n = filled * rows;
        const float* dat = gru ? ablock.data() : zblock.data();
        AccumulateTransposed(xrows.data(), F, dat, GH, GH, n, dW, GH);
        if (v1) {
          AccumulateTransposed(hrows.data(), H, zblock.data(), GH, 2 * H, n, dU, GH);
          AccumulateTransposed(qrows.data(), H, zblock.data() + 2 * H, GH, H, n, dU + 2 * H, GH);
        } else {
          AccumulateTransposed(hrows.data(), H, zblock.data(), GH, GH, n, dU, GH);
        }
        for (int k = 0; k < n; ++k) {
          Vec(db, GH) += ConstVec(dat + int64_t(k) * GH, GH);
          if (cell == Cell::kGru) Vec(dbp, GH) += ConstVec(zblock.data() + int64_t(k) * GH, GH);  // b'
        }
        filled = 0;
      };
      for (int t = T - 1; t >= 0; --t) {
        float* zs = zblock.data() + int64_t(filled) * rows * GH;             // dZ_t: what meets U
        float* za = gru ? ablock.data() + int64_t(filled) * rows * GH : zs;  // dA_t: what meets W
        const int64_t row0 = int64_t(first) * T + t;  // (b = first, t) in (B, T)
        const int64_t tb0 = int64_t(t) * B + first;   // (t, b = first) in (T, B)
        for (int r = 0; r < rows; ++r) {
          Vec(dh.data() + int64_t(r) * ldh, H) += ConstVec(dout + (row0 + int64_t(r) * T) * H, H);
          if (dcells != nullptr) Vec(dc.data() + r * H, H) += ConstVec(dcells + (tb0 + r) * H, H);
        }
        if (v1) {  // first the candidate's product: dq = dA_h U_h^T
          for (int r = 0; r < rows; ++r) {
            const int64_t bt = row0 + int64_t(r) * T;
            const float* s = sv + (tb0 + r) * S * H;
            ConstVec zg(s, H), g(s + 2 * H, H), d(dh.data() + int64_t(r) * ldh, H);
            Vec dah(zs + int64_t(r) * GH + 2 * H, H);
            if (m != nullptr && m[bt] == 0.0f) dah.setZero();
            else dah = d * (1.0f - zg) * (1.0f - g * g);
          }
          Multiply(zs + 2 * H, GH, rows, PTh, dq.data(), ldq);
        }
        for (int r = 0; r < rows; ++r) {
          const int64_t bt = row0 + int64_t(r) * T, tb = tb0 + r;
          const float* s = sv + tb * S * H;
          const float* hr = t == 0 ? h0p + int64_t(first + r) * H : out + (bt - 1) * H;
          Vec d(dh.data() + int64_t(r) * ldh, H), direct(back.data() + r * H, H);
          float* dz = zs + int64_t(r) * GH;
          float* da = za + int64_t(r) * GH;
          xrows[filled * rows + r] = X + bt * F;
          hrows[filled * rows + r] = hr;
          if (v1) qrows[filled * rows + r] = s + 3 * H;
          if (m != nullptr && m[bt] == 0.0f) {  // the state passed through, so does its gradient
            Vec(dz, GH).setZero();
            if (gru) Vec(da, GH).setZero();
            direct = d;
            continue;
          }
          if (cell == Cell::kLeaky) {
            ConstVec u(s, H);
            Vec(dz, H) = d * a * (1.0f - u * u);
            direct = (1.0f - a) * d;
          } else if (cell == Cell::kLstm) {
            ConstVec i(s, H), f(s + H, H), g(s + 2 * H, H), o(s + 3 * H, H), c(cs + tb * H, H);
            ConstVec cp(t == 0 ? c0p + int64_t(first + r) * H : cs + (tb - B) * H, H);
            Vec dcr(dc.data() + r * H, H), tc(scratch.data(), H);
            tc = c.tanh();
            dcr += d * o * (1.0f - tc * tc);
            Vec(dz, H) = dcr * g * i * (1.0f - i);
            Vec(dz + H, H) = dcr * cp * f * (1.0f - f);
            Vec(dz + 2 * H, H) = dcr * i * (1.0f - g * g);
            Vec(dz + 3 * H, H) = d * tc * o * (1.0f - o);
            dcr *= f;
            direct.setZero();
          } else if (cell == Cell::kGru) {
            ConstVec zg(s, H), rg(s + H, H), g(s + 2 * H, H), inner(s + 3 * H, H);
            Vec dah(da + 2 * H, H);
            dah = d * (1.0f - zg) * (1.0f - g * g);
            Vec(da, H) = d * (ConstVec(hr, H) - g) * zg * (1.0f - zg);
            Vec(da + H, H) = dah * inner * rg * (1.0f - rg);
            Vec(dz, 2 * H) = Vec(da, 2 * H);
            Vec(dz + 2 * H, H) = dah * rg;
            direct = d * zg;
          } else {  // gru_v1; dz's candidate columns already hold dA_h
            ConstVec zg(s, H), rg(s + H, H), g(s + 2 * H, H), h(hr, H);
            ConstVec dqr(dq.data() + int64_t(r) * ldq, H);
            Vec(da, H) = d * (h - g) * zg * (1.0f - zg);
            Vec(da + H, H) = dqr * h * rg * (1.0f - rg);
            Vec(da + 2 * H, H) = Vec(dz + 2 * H, H);
            Vec(dz, 2 * H) = Vec(da, 2 * H);
            direct = d * zg + dqr * rg;
          }
        }
        std::memcpy(dA + tb0 * GH, za, sizeof(float) * rows * GH);
        if (t > 0) {  // what step t - 1 reads, fetched from memory while this step computes
          Prefetch(sv + (tb0 - B) * S * H, int64_t(rows) * S * H);
          if (lstm) Prefetch(cs + (tb0 - B) * H, int64_t(rows) * H);  // c_{t-1}
          if (lstm && t > 1) Prefetch(cs + (tb0 - 2 * B) * H, int64_t(rows) * H);  // c_{t-2}
          for (int r = 0; r < rows; ++r) {
            const int64_t bt = row0 - 1 + int64_t(r) * T;
            Prefetch(dout + bt * H, H);
            Prefetch(X + bt * F, F);
            if (t > 1) Prefetch(out + (bt - 1) * H, H);
          }
        }
        // dh_{t-1} = dZ U^T + the direct terms (gru_v1: dZ_zr U_zr^T; its dq term is in `back`)
        Multiply(zs, GH, rows, PT, dh.data(), ldh);
        for (int r = 0; r < rows; ++r) Vec(dh.data() + int64_t(r) * ldh, H) += Vec(back.data() + r * H, H);
        if (++filled == K || t == 0) add_block();
      }
      for (int r = 0; r < rows; ++r) {
        Vec(dh0 + int64_t(first + r) * H, H) = Vec(dh.data() + int64_t(r) * ldh, H);
        if (lstm) Vec(dc0 + int64_t(first + r) * H, H) = Vec(dc.data() + r * H, H);
      }
    });
    for (int64_t shard = 0; shard * per_shard < int64_t(sums.size()); ++shard) {
      const float* sum = sums.data() + shard * per_shard;
      for (Tensor* total : sums_out) {
        Vec(total->flat<float>().data(), total->NumElements()) += ConstVec(sum, total->NumElements());
        sum += total->NumElements();
      }
    }
  }
};

tensorflow::Status CellAttr(InferenceContext* c, Cell* cell) {
  std::string name;
  TF_RETURN_IF_ERROR(c->GetAttr("cell", &name));
  return ParseCell(name, cell);
}

tensorflow::Status RecurrenceShape(InferenceContext* c) {
  ShapeHandle projected, kernel;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 3, &projected));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(3), 2, &kernel));
  Cell cell;
  TF_RETURN_IF_ERROR(CellAttr(c, &cell));
  DimensionHandle B = c->Dim(projected, 0), T = c->Dim(projected, 1), H = c->Dim(kernel, 0);
  DimensionHandle saved;
  TF_RETURN_IF_ERROR(c->Multiply(H, SavedCount(cell), &saved));
  c->set_output(0, c->MakeShape({B, T, H}));
  c->set_output(1, c->MakeShape({cell == Cell::kLstm ? T : c->MakeDim(0), B, H}));
  bool save;
  TF_RETURN_IF_ERROR(c->GetAttr("save", &save));
  c->set_output(2, c->MakeShape({save ? T : c->MakeDim(0), B, saved}));
  return tensorflow::OkStatus();
}

tensorflow::Status RecurrenceGradShape(InferenceContext* c) {
  ShapeHandle inputs, kernel, outputs;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 3, &inputs));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 2, &kernel));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(5), 3, &outputs));
  Cell cell;
  TF_RETURN_IF_ERROR(CellAttr(c, &cell));
  DimensionHandle B = c->Dim(outputs, 0), T = c->Dim(outputs, 1), H = c->Dim(outputs, 2);
  DimensionHandle F = c->Dim(inputs, 2), GH = c->Dim(kernel, 1);
  c->set_output(0, c->MakeShape({T, B, GH}));
  c->set_output(1, c->MakeShape({F, GH}));
  c->set_output(2, c->MakeShape({H, GH}));
  c->set_output(3, c->MakeShape({GH}));
  c->set_output(4, c->MakeShape({GH}));
  c->set_output(5, c->MakeShape({B, H}));
  c->set_output(6, c->MakeShape({B, cell == Cell::kLstm ? H : c->MakeDim(0)}));
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
