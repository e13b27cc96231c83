#include "random_model.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "kernels/dtype.h"
#include "kernels/matmul.h"
#include "normal_rng.h"
#include "synthetic_vocab.h"

namespace ll::tools {
namespace {

using kernels::DType;

constexpr int64_t kDefaultSyntheticVocab = 512;

std::optional<DType> ParseType(const std::string& s) {
  static const std::map<std::string, DType> kTypes = {
      {"f32", DType::kF32},   {"f16", DType::kF16},   {"bf16", DType::kBF16},
      {"q8_0", DType::kQ8_0}, {"q4_0", DType::kQ4_0}, {"q4_k", DType::kQ4_K},
      {"q5_k", DType::kQ5_K}, {"q6_k", DType::kQ6_K}};
  auto it = kTypes.find(s);
  return it == kTypes.end() ? std::nullopt : std::optional(it->second);
}

// The "_m" mixes: `type` without its suffix, and whether it had one.
std::pair<std::string, bool> SplitMix(const std::string& type) {
  const bool mix = type == "q4_k_m" || type == "q5_k_m";
  return {mix ? type.substr(0, type.size() - 2) : type, mix};
}

// llama.cpp's llama_ftype for a file whose block matrices have type `t` (general.file_type).
uint32_t FileType(DType t, bool mix) {
  switch (t) {
    case DType::kF32:
      return 0;  // ALL_F32
    case DType::kF16:
      return 1;  // MOSTLY_F16
    case DType::kQ4_0:
      return 2;  // MOSTLY_Q4_0
    case DType::kQ8_0:
      return 7;  // MOSTLY_Q8_0
    case DType::kQ4_K:
      return mix ? 15 : 14;  // MOSTLY_Q4_K_M / MOSTLY_Q4_K_S
    case DType::kQ5_K:
      return mix ? 17 : 16;  // MOSTLY_Q5_K_M / MOSTLY_Q5_K_S
    case DType::kBF16:
      return 32;  // MOSTLY_BF16
    default:
      return 0;
  }
}

// llama-quantize's use_more_bits: the layers whose attn_v and ffn_down get q6_K in the "_M"
// mixes (the first and last eighth of the layers, and every third one between).
bool UseMoreBits(int64_t layer, int64_t n_layer) {
  return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

// How a tensor's values are drawn.
struct Init {
  float mean;
  float stddev;
};

// Values drawn from one RNG stream: `count` rows of a matrix, or `count` values of a vector.
struct Part {
  std::string stream;  // RNG stream name: a tensor name
  int64_t count;
};

struct Plan {
  std::string name;
  int64_t n_in;   // shape[0], contiguous
  int64_t n_out;  // shape[1]; 0 for 1-D tensors (norms, biases)
  DType type;
  Init init;
  // The streams, in order: the tensor's own name, the tensor it copies, or (fused QKV) the
  // separate tensors it concatenates, so both layouts hold the same values.
  std::vector<Part> parts;
};

struct Shapes {
  const RandomModelOptions& o;
  int64_t head_dim() const { return o.n_embd / o.n_head; }
  int64_t kv_dim() const { return head_dim() * o.n_head_kv; }
};

Status CheckMultiple(const char* what, int64_t n, DType t) {
  const int64_t block = kernels::GetDTypeInfo(static_cast<uint32_t>(t))->block_elems;
  if (n % block != 0) {
    return Status::Error(std::string(what) + " = " + std::to_string(n) + " is not a multiple of " +
                         std::to_string(block) + ", the block size of " +
                         std::string(kernels::DTypeName(t)) + " (rows of " + what +
                         " elements must be whole blocks)");
  }
  return Status::Ok();
}

Status CheckOptions(const RandomModelOptions& o) {
  if (o.arch != "llama" && o.arch != "qwen2" && o.arch != "bloom") {
    return Status::Error("--arch " + o.arch + " is not llama, qwen2 or bloom");
  }
  auto positive = [](const char* what, int64_t v) {
    return v > 0 ? Status::Ok()
                 : Status::Error(std::string(what) + " = " + std::to_string(v) + " must be > 0");
  };
  LL_RETURN_IF_ERROR(positive("--n-embd", o.n_embd));
  LL_RETURN_IF_ERROR(positive("--n-layer", o.n_layer));
  LL_RETURN_IF_ERROR(positive("--n-head", o.n_head));
  LL_RETURN_IF_ERROR(positive("--n-head-kv", o.n_head_kv));
  LL_RETURN_IF_ERROR(positive("--n-ff", o.n_ff));
  LL_RETURN_IF_ERROR(positive("--ctx", o.ctx));
  if (o.n_embd % o.n_head != 0) {
    return Status::Error("--n-embd " + std::to_string(o.n_embd) + " is not divisible by --n-head " +
                         std::to_string(o.n_head));
  }
  if (o.n_head % o.n_head_kv != 0) {
    return Status::Error("--n-head " + std::to_string(o.n_head) +
                         " is not divisible by --n-head-kv " + std::to_string(o.n_head_kv));
  }
  if (o.fused_qkv && o.arch == "bloom") {
    return Status::Error("--fused-qkv is for llama and qwen2 (bloom's QKV is always fused)");
  }
  if (o.arch != "bloom" && (o.n_embd / o.n_head) % 2 != 0) {
    return Status::Error("head size " + std::to_string(o.n_embd / o.n_head) +
                         " (--n-embd / --n-head) must be even for RoPE");
  }
  return Status::Ok();
}

}  // namespace

Status AddRandomModel(const RandomModelOptions& opts_in, model::GgufWriter& w,
                      ProgressFn progress) {
  RandomModelOptions o = opts_in;
  if (o.n_head_kv == 0) o.n_head_kv = o.n_head;
  LL_RETURN_IF_ERROR(CheckOptions(o));
  const auto [base_type, mix] = SplitMix(o.type);  // "q5_k_m" -> ("q5_k", true)
  const std::optional<DType> type = ParseType(base_type);
  if (!type || *type == DType::kQ6_K) {
    return Status::Error("--type " + o.type +
                         " is not f32, f16, bf16, q8_0, q4_0, q4_k, q4_k_m, q5_k or q5_k_m");
  }
  const bool k_quant = *type == DType::kQ4_K || *type == DType::kQ5_K;
  DType embd_type = *type;
  DType out_type = k_quant ? DType::kQ6_K : *type;
  // The "_M" mixes: attn_v and ffn_down of the UseMoreBits layers in q6_K, and bloom's fused
  // attn_qkv one step up (q4_K -> q5_K, q5_K -> q6_K), as llama-quantize does.
  auto v_down_type = [&](int64_t layer) {
    return mix && UseMoreBits(layer, o.n_layer) ? DType::kQ6_K : *type;
  };
  const DType qkv_type = !mix ? *type : (*type == DType::kQ4_K ? DType::kQ5_K : DType::kQ6_K);
  if (o.embd_type != "auto") {
    auto t = ParseType(o.embd_type);
    if (!t) return Status::Error("--embd-type " + o.embd_type + " is not auto or a known type");
    embd_type = out_type = *t;
  }
  const bool bloom = o.arch == "bloom";
  // The bloom copy of token_embd must be byte-identical, hence the same type.
  if (bloom && o.tied) out_type = embd_type;
  LL_RETURN_IF_ERROR(CheckMultiple("--n-embd", o.n_embd, *type));
  LL_RETURN_IF_ERROR(CheckMultiple("--n-ff", o.n_ff, *type));
  LL_RETURN_IF_ERROR(CheckMultiple("--n-embd", o.n_embd, embd_type));
  LL_RETURN_IF_ERROR(CheckMultiple("--n-embd", o.n_embd, out_type));

  // Metadata. The vocabulary goes first: its size is needed for the embedding shapes.
  const std::string& a = o.arch;
  w.AddString("general.architecture", a);
  w.AddString("general.name", o.name.empty() ? "random-" + a : o.name);
  w.AddUint32("general.file_type", FileType(*type, mix));
  if (*type == DType::kQ8_0 || *type == DType::kQ4_0 || k_quant) {
    w.AddUint32("general.quantization_version", 2);
  }
  w.AddUint32(a + ".context_length", static_cast<uint32_t>(o.ctx));
  w.AddUint32(a + ".embedding_length", static_cast<uint32_t>(o.n_embd));
  w.AddUint32(a + ".block_count", static_cast<uint32_t>(o.n_layer));
  w.AddUint32(a + ".feed_forward_length", static_cast<uint32_t>(o.n_ff));
  w.AddUint32(a + ".attention.head_count", static_cast<uint32_t>(o.n_head));
  w.AddUint32(a + ".attention.head_count_kv", static_cast<uint32_t>(o.n_head_kv));
  if (a == "llama") {
    w.AddFloat32(a + ".attention.layer_norm_rms_epsilon", 1e-5f);
    w.AddFloat32(a + ".rope.freq_base", 10000.0f);
    w.AddUint32(a + ".rope.dimension_count", static_cast<uint32_t>(o.n_embd / o.n_head));
  } else if (a == "qwen2") {
    // Qwen2 uses NEOX-style RoPE over the whole head; llama.cpp has no dimension_count for it.
    w.AddFloat32(a + ".attention.layer_norm_rms_epsilon", 1e-6f);
    w.AddFloat32(a + ".rope.freq_base", 1000000.0f);
  } else {
    // BLOOM: LayerNorm and ALiBi (max bias 8 is hard-coded in llama.cpp; no key).
    w.AddFloat32(a + ".attention.layer_norm_epsilon", 1e-5f);
  }
  int64_t n_vocab = o.n_vocab;
  if (!o.vocab_from.empty()) {
    LL_ASSIGN_OR_RETURN(int64_t from_file, CopyVocab(w, o.vocab_from));
    if (n_vocab != 0 && n_vocab != from_file) {
      return Status::Error("--n-vocab " + std::to_string(n_vocab) + " disagrees with the " +
                           std::to_string(from_file) + " tokens of " + o.vocab_from);
    }
    n_vocab = from_file;
  } else {
    if (n_vocab == 0) n_vocab = kDefaultSyntheticVocab;
    if (n_vocab < kMinSyntheticVocab) {
      return Status::Error("--n-vocab " + std::to_string(n_vocab) + " is below " +
                           std::to_string(kMinSyntheticVocab) +
                           ", the size of the synthetic vocabulary's fixed tokens");
    }
    AddSyntheticSpmVocab(w, n_vocab);
  }

  // Tensors, in llama.cpp's order (embedding, blocks, output).
  const Shapes s{o};
  const int64_t E = o.n_embd, F = o.n_ff, KV = s.kv_dim();
  const Init matrix_e{0, 1 / std::sqrt(static_cast<float>(E))};  // inputs of width n_embd
  const Init matrix_f{0, 1 / std::sqrt(static_cast<float>(F))};  // inputs of width n_ff
  const Init norm{1, 0.1f}, bias{0, 0.1f}, ones{1, 0};
  const bool embd_is_output = o.tied || bloom;
  const Init embd = embd_is_output ? Init{0, 2 / std::sqrt(static_cast<float>(E))} : Init{0, 1};
  const DType f32 = DType::kF32;
  std::vector<Plan> plans;
  auto add = [&](std::string name, int64_t n_in, int64_t n_out, DType t, Init init) {
    plans.push_back(Plan{name, n_in, n_out, t, init, {{name, n_out}}});
  };
  auto vec = [&](std::string name, int64_t n, Init init) {
    plans.push_back(Plan{name, n, 0, f32, init, {{name, n}}});
  };
  auto blk = [](int64_t i, const char* rest) { return "blk." + std::to_string(i) + "." + rest; };

  add("token_embd.weight", E, n_vocab, embd_type, embd);
  if (bloom) {
    vec("token_embd_norm.weight", E, norm);
    vec("token_embd_norm.bias", E, bias);
  }
  for (int64_t i = 0; i < o.n_layer; ++i) {
    if (bloom) {
      vec(blk(i, "attn_norm.weight"), E, norm);
      vec(blk(i, "attn_norm.bias"), E, bias);
      add(blk(i, "attn_qkv.weight"), E, E + 2 * KV, qkv_type, matrix_e);  // rows: Q, K, V
      vec(blk(i, "attn_qkv.bias"), E + 2 * KV, bias);
      add(blk(i, "attn_output.weight"), E, E, *type, matrix_e);
      vec(blk(i, "attn_output.bias"), E, bias);
      vec(blk(i, "ffn_norm.weight"), E, norm);
      vec(blk(i, "ffn_norm.bias"), E, bias);
      add(blk(i, "ffn_up.weight"), E, F, *type, matrix_e);
      vec(blk(i, "ffn_up.bias"), F, bias);
      add(blk(i, "ffn_down.weight"), F, E, v_down_type(i), matrix_f);
      vec(blk(i, "ffn_down.bias"), E, bias);
    } else {
      vec(blk(i, "attn_norm.weight"), E, norm);
      if (o.fused_qkv) {
        // The separate tensors' values concatenated (rows Q, K, V), in one type as
        // llama-quantize gives a fused tensor.
        plans.push_back(Plan{blk(i, "attn_qkv.weight"),
                             E,
                             E + 2 * KV,
                             qkv_type,
                             matrix_e,
                             {{blk(i, "attn_q.weight"), E},
                              {blk(i, "attn_k.weight"), KV},
                              {blk(i, "attn_v.weight"), KV}}});
        if (a == "qwen2") {
          plans.push_back(Plan{blk(i, "attn_qkv.bias"),
                               E + 2 * KV,
                               0,
                               f32,
                               bias,
                               {{blk(i, "attn_q.bias"), E},
                                {blk(i, "attn_k.bias"), KV},
                                {blk(i, "attn_v.bias"), KV}}});
        }
      } else {
        add(blk(i, "attn_q.weight"), E, E, *type, matrix_e);
        add(blk(i, "attn_k.weight"), E, KV, *type, matrix_e);
        add(blk(i, "attn_v.weight"), E, KV, v_down_type(i), matrix_e);
        if (a == "qwen2") {
          vec(blk(i, "attn_q.bias"), E, bias);
          vec(blk(i, "attn_k.bias"), KV, bias);
          vec(blk(i, "attn_v.bias"), KV, bias);
        }
      }
      add(blk(i, "attn_output.weight"), E, E, *type, matrix_e);
      vec(blk(i, "ffn_norm.weight"), E, norm);
      add(blk(i, "ffn_gate.weight"), E, F, *type, matrix_e);
      add(blk(i, "ffn_up.weight"), E, F, *type, matrix_e);
      add(blk(i, "ffn_down.weight"), F, E, v_down_type(i), matrix_f);
    }
  }
  vec("output_norm.weight", E, bloom ? norm : ones);
  if (bloom) vec("output_norm.bias", E, bias);
  if (bloom && o.tied) {
    // llama.cpp requires output.weight for bloom, so "tied" stores a copy of token_embd.
    plans.push_back(
        Plan{"output.weight", E, n_vocab, embd_type, embd, {{"token_embd.weight", n_vocab}}});
  } else if (!o.tied) {
    add("output.weight", E, n_vocab, out_type, matrix_e);
  }

  // Each fill regenerates its tensor from the seed, so only one tensor is in memory at a time.
  uint64_t total = 0;
  for (const Plan& p : plans)
    total += kernels::RowBytes(p.type, p.n_in) * std::max<int64_t>(p.n_out, 1);
  auto done = std::make_shared<uint64_t>(0);
  for (const Plan& p : plans) {
    const size_t row_bytes = kernels::RowBytes(p.type, p.n_in);
    const int64_t rows = std::max<int64_t>(p.n_out, 1);
    std::vector<int64_t> shape = {p.n_in};
    if (p.n_out > 0) shape.push_back(p.n_out);
    const uint64_t seed = o.seed;
    w.AddTensor(p.name, shape, p.type, row_bytes * rows,
                [p, row_bytes, seed, done, total, progress](std::span<uint8_t> out) {
                  std::vector<float> row(p.n_in);  // [n_in], one output row
                  int64_t r = 0;                   // rows written; values of a vector's row
                  for (const Part& part : p.parts) {
                    NormalRng rng(seed, part.stream);
                    if (p.n_out == 0) {  // a vector: the parts fill its one row in turn
                      for (int64_t k = 0; k < part.count; ++k) {
                        row[r++] = rng.Next(p.init.mean, p.init.stddev);
                      }
                      continue;
                    }
                    for (int64_t k = 0; k < part.count; ++k, ++r) {
                      for (float& x : row) x = rng.Next(p.init.mean, p.init.stddev);
                      kernels::QuantizeRow(p.type, row.data(), out.data() + r * row_bytes, p.n_in);
                    }
                  }
                  if (p.n_out == 0) kernels::QuantizeRow(p.type, row.data(), out.data(), p.n_in);
                  *done += out.size();
                  if (progress) progress(p.name, *done, total);
                  return Status::Ok();
                });
  }
  return Status::Ok();
}

}  // namespace ll::tools
