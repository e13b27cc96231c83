// MatMul / MatMulShared: convert activations once, then split output rows across the pool.
// Each thread owns a contiguous range of weight rows and computes all n_tok outputs of each row
// with the same VecDotFn (or a tile with its bits), so the order of operations behind y[t][r]
// depends only on (isa, wtype, n_in).
#include "kernels/matmul.h"

#include <algorithm>

#include "base/check.h"
#include "kernels/blocks.h"
#include "kernels/q4_0x16.h"
#include "kernels/vec_dot.h"

namespace ll::kernels {

void MatMul(ThreadPool& pool, DType wtype, const void* w, int64_t n_out, int64_t n_in,
            const float* x, int64_t n_tok, float* y, MatMulScratch& scratch) {
  MatMul(pool, DefaultIsa(), wtype, w, n_out, n_in, x, n_tok, y, scratch);
}

void MatMul(ThreadPool& pool, Isa isa, DType wtype, const void* w, int64_t n_out, int64_t n_in,
            const float* x, int64_t n_tok, float* y, MatMulScratch& scratch) {
  MatMul(pool, isa, wtype, WeightLayout::kPlain, w, n_out, n_in, x, n_tok, y, scratch);
}

void MatMul(ThreadPool& pool, Isa isa, DType wtype, WeightLayout layout, const void* w,
            int64_t n_out, int64_t n_in, const float* x, int64_t n_tok, float* y,
            MatMulScratch& scratch) {
  const MatMulOutput out = {wtype, w, n_out, y, layout};
  MatMulShared(pool, isa, std::span<const MatMulOutput>(&out, 1), n_in, x, n_tok, scratch);
}

bool PrefersQ4_0x16(Isa isa, DType wtype, int64_t n_out) {
  return wtype == DType::kQ4_0 && n_out % kQ4_0x16Rows == 0 && GetQ4_0x16Gemm(isa).gemm != nullptr;
}

void MatMulShared(ThreadPool& pool, std::span<const MatMulOutput> outs, int64_t n_in,
                  const float* x, int64_t n_tok, MatMulScratch& scratch) {
  MatMulShared(pool, DefaultIsa(), outs, n_in, x, n_tok, scratch);
}

namespace {

// Prepared activations per chunk of tokens in ComputeRows: about half of a core's L2.
constexpr size_t kPreparedChunkBytes = size_t{512} << 10;

// Weight rows per block in ComputeRows's prepared tiles: about a quarter of a core's L2, beside
// a chunk of prepared activations.
constexpr size_t kWeightBlockBytes = size_t{256} << 10;

// Tokens per chunk whose prepared activations (p_stride bytes each) fit in L2, a multiple of
// `tokens`.
int64_t TokenChunk(size_t p_stride, int tokens) {
  return std::max<int64_t>(tokens,
                           static_cast<int64_t>(kPreparedChunkBytes / p_stride) / tokens * tokens);
}

// Rows [r0, r1) of a Q4_0 matrix at a level with the 16-row kernels, for n_tok tokens prepared
// by PrepareQ4_0x16Act. Repacked weights: the groups are those of the matrix (group g is rows
// 16g..16g+15), and a group only partly in [r0, r1) is computed whole into `part` and the rows
// asked for copied out. Plain weights: each 16 rows from r0 are repacked into `group_buf` first
// (once per chunk of tokens), and the last r1 - r0 mod 16 rows take the plain dot, which has the
// same bits. Tokens go in chunks whose prepared activations fit in L2, row groups outer and
// near-equal token tiles inner, as for the prepared tiles.
void ComputeRowsQ4_0x16(Isa isa, const MatMulOutput& o, int64_t n_in, const uint8_t* xc,
                        size_t x_row_bytes, int64_t n_tok, const uint8_t* prepared, int64_t r0,
                        int64_t r1, uint8_t* group_buf) {
  const Q4_0x16Gemm k = GetQ4_0x16Gemm(isa);
  const size_t p_stride = Q4_0x16ActBytes(n_in);
  const size_t group_bytes = Q4_0x16GroupBytes(n_in);
  const size_t w_row_bytes = RowBytes(o.wtype, n_in);
  const auto* wb = static_cast<const uint8_t*>(o.w);
  const bool repacked = o.layout == WeightLayout::kQ4_0x16;
  constexpr int64_t kRows = kQ4_0x16Rows;
  // Groups: [g_begin, g_end) of the matrix (repacked), or 16-row runs from r0 (plain).
  const int64_t g_begin = repacked ? r0 / kRows : 0;
  const int64_t g_end = repacked ? (r1 + kRows - 1) / kRows : (r1 - r0) / kRows;
  const int64_t chunk = TokenChunk(p_stride, k.tokens);
  for (int64_t c0 = 0; c0 < n_tok; c0 += chunk) {
    const int64_t c1 = std::min(c0 + chunk, n_tok);
    const int64_t n_tiles = (c1 - c0 + k.tokens - 1) / k.tokens;
    for (int64_t g = g_begin; g < g_end; ++g) {
      const int64_t row0 = repacked ? g * kRows : r0 + g * kRows;  // the group's first row
      const uint8_t* group = wb + static_cast<size_t>(g) * group_bytes;
      if (!repacked) {
        RepackQ4_0x16Group(wb + static_cast<size_t>(row0) * w_row_bytes, w_row_bytes, n_in,
                           group_buf);
        group = group_buf;
      }
      const int64_t lo = std::max(row0, r0), hi = std::min(row0 + kRows, r1);
      const bool whole = lo == row0 && hi == row0 + kRows;
      for (int64_t tile = 0; tile < n_tiles; ++tile) {
        const int64_t t = c0 + (c1 - c0) * tile / n_tiles;
        const int nt = static_cast<int>(c0 + (c1 - c0) * (tile + 1) / n_tiles - t);
        const uint8_t* p = prepared + static_cast<size_t>(t) * p_stride;
        if (whole) {
          k.gemm(n_in, group, p, p_stride, nt, o.y + t * o.n_out + row0, o.n_out);
          continue;
        }
        float part[kRows * 16];  // [nt][16]; tokens per call are at most 16
        LL_CHECK(nt <= 16);
        k.gemm(n_in, group, p, p_stride, nt, part, kRows);
        for (int i = 0; i < nt; ++i) {
          for (int64_t r = lo; r < hi; ++r) o.y[(t + i) * o.n_out + r] = part[i * kRows + r - row0];
        }
      }
    }
  }
  if (repacked) return;
  const VecDotFn dot = GetVecDot(o.wtype, isa);
  for (int64_t r = r0 + g_end * kRows; r < r1; ++r) {
    const uint8_t* wrow = wb + static_cast<size_t>(r) * w_row_bytes;
    for (int64_t t = 0; t < n_tok; ++t) {
      o.y[t * o.n_out + r] = dot(n_in, wrow, xc + static_cast<size_t>(t) * x_row_bytes);
    }
  }
}

// Rows [r0, r1) of one matrix for all n_tok converted activation rows xc. `prepared`: for one
// token, xc in the layout of the weight type's PreparedDot; for several, the n_tok rows in the
// layout of its PreparedTile, PreparedTile::bytes(n_in) apart; null: the plain dot and tiles.
void ComputeRows(Isa isa, const MatMulOutput& o, int64_t n_in, const uint8_t* xc,
                 size_t x_row_bytes, int64_t n_tok, const uint8_t* prepared, int64_t r0,
                 int64_t r1) {
  const size_t w_row_bytes = RowBytes(o.wtype, n_in);
  const uint8_t* wb = static_cast<const uint8_t*>(o.w);
  if (prepared != nullptr && n_tok == 1) {
    // One sequential row stream, as for the plain dot: two or four rows per call sharing the
    // activation loads measured no faster once the dot prefetches its weights.
    const VecDotFn dot = GetPreparedDot(o.wtype, isa).dot;
    for (int64_t r = r0; r < r1; ++r) {
      o.y[r] = dot(n_in, wb + static_cast<size_t>(r) * w_row_bytes, prepared);
    }
    return;
  }
  const VecDotFn dot = GetVecDot(o.wtype, isa);
  int64_t r = r0;
  if (prepared != nullptr) {
    // Prepared tiles. Tokens go in chunks whose prepared activations fit in L2 (a long
    // prompt's would not), each chunk in near-equal tiles (8 tokens as 4 + 4 rather than
    // 6 + 2). Inside a chunk, rows go in blocks whose weights fit in a quarter of L2, and per
    // block token tiles outer, row groups inner: one tile's prepared tokens stay in L1 while
    // the block's rows pass over them from L2. Row groups outer (the rows in L1, every token
    // from L2) is bound by L2 bandwidth for F16, whose f32 activations are re-read for every
    // 4 rows: 4 x 6 needs 384 bytes from L2 per 24 fmas, token-outer 128 (the f16 weights);
    // measured 5-25 % faster at the 250M model's shapes (1 thread, AVX-512).
    const PreparedTile pt = GetPreparedTile(o.wtype, isa, n_in);
    const size_t p_stride = pt.bytes(n_in);
    const int64_t chunk = TokenChunk(p_stride, pt.tokens);
    const int64_t r_end = r + (r1 - r) / kPreparedTileRows * kPreparedTileRows;
    const int64_t block =
        std::max<int64_t>(
            1, static_cast<int64_t>(kWeightBlockBytes / w_row_bytes) / kPreparedTileRows) *
        kPreparedTileRows;
    for (int64_t c0 = 0; c0 < n_tok; c0 += chunk) {
      const int64_t c1 = std::min(c0 + chunk, n_tok);
      const int64_t n_tiles = (c1 - c0 + pt.tokens - 1) / pt.tokens;
      for (int64_t b0 = r; b0 < r_end; b0 += block) {
        const int64_t b1 = std::min(b0 + block, r_end);
        // The next block's weights are prefetched into L2 a slice per tile call, spread over
        // this block's work: else the first token tile of each block waits on memory for its
        // weights (short interleaved row streams the hardware prefetcher does not catch),
        // measured as a third of the tile time on the 250M model.
        const uint8_t* next = wb + static_cast<size_t>(b1) * w_row_bytes;
        const size_t next_bytes =
            static_cast<size_t>(std::min(b1 + block, r_end) - b1) * w_row_bytes;
        const size_t calls = static_cast<size_t>(n_tiles * ((b1 - b0) / kPreparedTileRows));
        const size_t slice = (next_bytes / 64 + calls - 1) / calls * 64;
        size_t fetched = 0;
        for (int64_t k = 0; k < n_tiles; ++k) {
          const int64_t t = c0 + (c1 - c0) * k / n_tiles;
          const int nt = static_cast<int>(c0 + (c1 - c0) * (k + 1) / n_tiles - t);
          const uint8_t* p = prepared + static_cast<size_t>(t) * p_stride;
          for (int64_t rt = b0; rt < b1; rt += kPreparedTileRows) {
            for (const size_t end = std::min(fetched + slice, next_bytes); fetched < end;
                 fetched += 64) {
              __builtin_prefetch(next + fetched, 0, 2);
            }
            pt.tile(n_in, wb + static_cast<size_t>(rt) * w_row_bytes, w_row_bytes, p, p_stride, nt,
                    o.y + t * o.n_out + rt, o.n_out);
          }
        }
      }
    }
    r = r_end;
  }
  const VecDotTileFn tile = GetVecDotTile(o.wtype, isa);
  // Tiles of kTileRows rows x up to kTileTokens tokens where the ISA has them (same bits as
  // the dot): the rows stay in L1 while every token passes over them. Not for one token: there
  // the kernels are bound by streaming the weights, and four interleaved row streams measured
  // 1.6x slower than one sequential stream (Q4_0, 250M model, AVX-512 VNNI).
  if (prepared == nullptr && tile != nullptr && n_tok > 1) {
    for (; r + kTileRows <= r1; r += kTileRows) {
      const uint8_t* wrow = wb + static_cast<size_t>(r) * w_row_bytes;
      for (int64_t t = 0; t < n_tok; t += kTileTokens) {
        const int nt = static_cast<int>(std::min<int64_t>(kTileTokens, n_tok - t));
        tile(n_in, wrow, w_row_bytes, xc + static_cast<size_t>(t) * x_row_bytes, x_row_bytes, nt,
             o.y + t * o.n_out + r, o.n_out);
      }
    }
  }
  // Row-outer, token-inner: one weight row stays in L1 while every token uses it.
  for (; r < r1; ++r) {
    const uint8_t* wrow = wb + static_cast<size_t>(r) * w_row_bytes;
    for (int64_t t = 0; t < n_tok; ++t) {
      o.y[t * o.n_out + r] = dot(n_in, wrow, xc + static_cast<size_t>(t) * x_row_bytes);
    }
  }
}

using PrepareJob = MatMulScratch::PrepareJob;

// The 64-byte aligned start of `buf` (which has kAlign bytes of slack).
constexpr size_t kAlign = 64;
uint8_t* AlignedStart(std::vector<uint8_t>& buf) {
  return buf.data() + (kAlign - reinterpret_cast<uintptr_t>(buf.data()) % kAlign);
}

// 64-byte aligned start of `buf` grown to hold `bytes` bytes from there.
uint8_t* AlignedBuffer(std::vector<uint8_t>& buf, size_t bytes) {
  if (buf.size() < bytes + kAlign) buf.resize(bytes + kAlign);
  return AlignedStart(buf);
}

// Sets scratch.prepared_x[k] for each output k: where the ISA has a prepared path for the
// output's weight type (a PreparedDot for one token, a PreparedTile usable at n_in for several),
// a buffer for its layout, shared by the outputs of one weight type (the first one's); else
// null. Allocation only: scratch.prepare_jobs says how the conversion fills each buffer, one
// job per buffer (the outputs that share one are not prepared twice).
void PlanPrepared(Isa isa, std::span<const MatMulOutput> outs, int64_t n_in, int64_t n_tok,
                  MatMulScratch& scratch) {
  std::vector<uint8_t*>& prepared = scratch.prepared_x;
  prepared.assign(outs.size(), nullptr);
  scratch.prepare_jobs.clear();
  if (scratch.prepared.size() < outs.size()) scratch.prepared.resize(outs.size());
  for (size_t k = 0; k < outs.size(); ++k) {
    PrepareJob job;
    if (outs[k].wtype == DType::kQ4_0 && GetQ4_0x16Gemm(isa).gemm != nullptr) {
      job = {PrepareQ4_0x16Act, nullptr, Q4_0x16ActBytes(n_in)};
    } else if (n_tok == 1) {
      const PreparedDot pd = GetPreparedDot(outs[k].wtype, isa);
      if (pd.dot != nullptr) job = {pd.prepare, nullptr, pd.bytes(n_in)};
    } else {
      const PreparedTile pt = GetPreparedTile(outs[k].wtype, isa, n_in);
      if (pt.tile != nullptr) job = {pt.prepare, nullptr, pt.bytes(n_in)};
    }
    if (job.prepare == nullptr) continue;
    for (size_t j = 0; j < k && prepared[k] == nullptr; ++j) {
      if (outs[j].wtype == outs[k].wtype) prepared[k] = prepared[j];
    }
    if (prepared[k] != nullptr) continue;
    job.dst = AlignedBuffer(scratch.prepared[k], job.stride * static_cast<size_t>(n_tok));
    prepared[k] = job.dst;
    scratch.prepare_jobs.push_back(job);
  }
}

}  // namespace

void MatMulShared(ThreadPool& pool, Isa isa, std::span<const MatMulOutput> outs, int64_t n_in,
                  const float* x, int64_t n_tok, MatMulScratch& scratch) {
  LL_CHECK(!outs.empty());
  LL_CHECK(n_in >= 0 && n_tok >= 0);
  const DType xtype = VecDotType(outs[0].wtype);
  int64_t total_rows = 0;
  for (const MatMulOutput& o : outs) {
    LL_CHECK(IsSupported(o.wtype) && VecDotType(o.wtype) == xtype);
    LL_CHECK(o.n_out >= 0);
    LL_CHECK(o.layout == WeightLayout::kPlain || PrefersQ4_0x16(isa, o.wtype, o.n_out));
    total_rows += o.n_out;
  }
  if (total_rows == 0 || n_tok == 0) return;
  const size_t x_row_bytes = RowBytes(xtype, n_in);

  PlanPrepared(isa, outs, n_in, n_tok, scratch);
  const std::vector<uint8_t*>& prepared = scratch.prepared_x;

  // Converted activations: [n_tok][x_row_bytes]. F32 weights use x as it is (and have no
  // prepared path).
  const uint8_t* xc = reinterpret_cast<const uint8_t*>(x);
  LL_CHECK(xtype != DType::kF32 || scratch.prepare_jobs.empty());
  if (xtype != DType::kF32) {
    const size_t need = x_row_bytes * static_cast<size_t>(n_tok);
    if (scratch.bytes.size() < need) scratch.bytes.resize(need);
    uint8_t* dst = scratch.bytes.data();
    // The level's conversion where it has one (the same bits as QuantizeRow).
    const ActivationConvertFn level_convert = GetActivationConvert(xtype, isa, n_in);
    // Conversion and preparation are per token and identical whoever does them, so they may be
    // split by tokens; one token stays in the caller's thread (preparing costs about one row's
    // dot, less than waking the pool).
    auto convert = [&](int i, int count) {
      const auto [t0, t1] = ThreadPool::Chunk(static_cast<long>(n_tok), i, count);
      for (long t = t0; t < t1; ++t) {
        uint8_t* row = dst + static_cast<size_t>(t) * x_row_bytes;
        if (level_convert != nullptr) {
          level_convert(x + t * n_in, row, n_in);
        } else {
          QuantizeRow(xtype, x + t * n_in, row, n_in);
        }
        for (const PrepareJob& job : scratch.prepare_jobs) {
          job.prepare(n_in, row, job.dst + static_cast<size_t>(t) * job.stride);
        }
      }
    };
    if (n_tok == 1 || pool.size() == 1) {
      convert(0, 1);
    } else {
      pool.Run(convert);
    }
    xc = dst;
  }

  // Q4_0 at a level with the 16-row kernels: a group buffer per thread for plain weights.
  const bool x16 = GetQ4_0x16Gemm(isa).gemm != nullptr;
  bool any_x16 = false, plain_x16 = false;
  for (const MatMulOutput& o : outs) {
    any_x16 = any_x16 || (x16 && o.wtype == DType::kQ4_0);
    plain_x16 = plain_x16 || (x16 && o.wtype == DType::kQ4_0 && o.layout == WeightLayout::kPlain);
  }
  if (plain_x16) {
    const size_t threads = static_cast<size_t>(pool.size());
    if (scratch.groups.size() < threads) scratch.groups.resize(threads);
    for (size_t i = 0; i < threads; ++i) AlignedBuffer(scratch.groups[i], Q4_0x16GroupBytes(n_in));
  }

  // The rows of all matrices, concatenated, are split into one contiguous range per thread; in
  // whole runs of 16 rows where the 16-row kernels run (their groups; any split gives the same
  // bits).
  const int64_t unit = any_x16 ? kQ4_0x16Rows : 1;
  const int64_t units = (total_rows + unit - 1) / unit;
  pool.Run([&](int i, int count) {
    const auto [u0, u1] = ThreadPool::Chunk(static_cast<long>(units), i, count);
    const int64_t g0 = u0 * unit, g1 = std::min<int64_t>(u1 * unit, total_rows);
    int64_t base = 0;
    for (size_t k = 0; k < outs.size(); ++k) {
      const MatMulOutput& o = outs[k];
      const int64_t r0 = std::max<int64_t>(g0 - base, 0);
      const int64_t r1 = std::min<int64_t>(g1 - base, o.n_out);
      if (r0 < r1) {
        if (x16 && o.wtype == DType::kQ4_0) {
          uint8_t* group_buf = o.layout == WeightLayout::kPlain
                                   ? AlignedStart(scratch.groups[static_cast<size_t>(i)])
                                   : nullptr;
          ComputeRowsQ4_0x16(isa, o, n_in, xc, x_row_bytes, n_tok, prepared[k], r0, r1, group_buf);
        } else {
          ComputeRows(isa, o, n_in, xc, x_row_bytes, n_tok, prepared[k], r0, r1);
        }
      }
      base += o.n_out;
    }
  });
}

}  // namespace ll::kernels
