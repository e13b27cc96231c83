#include "model/arch/config_check.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "model/arch/binder.h"
#include "model/gguf/printable.h"

namespace ll::model {
namespace {

// Limits far beyond any real model that keep every product of two of them (buffer sizes, row
// offsets) well inside int64.
constexpr int64_t kMaxWidth = int64_t{1} << 20;                     // widths, head counts and sizes
constexpr int64_t kMaxBlocks = int64_t{1} << 16;                    // block_count
constexpr int64_t kMaxContext = int64_t{1} << 24;                   // context_length
constexpr int64_t kMaxVocab = std::numeric_limits<int32_t>::max();  // token ids are int32

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string s;
  for (int64_t d : shape) s += (s.empty() ? "" : ", ") + std::to_string(d);
  return "{" + s + "}";
}

// The block of a "blk.N.*" tensor name, or -1; a number too large to hold gives kMaxBlocks.
int64_t BlockOf(std::string_view name) {
  if (name.substr(0, 4) != "blk.") return -1;
  int64_t n = 0;
  size_t i = 4;
  for (; i < name.size() && name[i] >= '0' && name[i] <= '9'; ++i) {
    n = std::min(kMaxBlocks, n * 10 + (name[i] - '0'));
  }
  return i > 4 && i < name.size() && name[i] == '.' ? n : -1;
}

class Checker {
 public:
  Checker(const GgufFile& file, const ModelConfig& c) : file_(file), c_(c), b_(file, c.arch) {}

  Status Run() const {
    LL_RETURN_IF_ERROR(Ranges());
    LL_RETURN_IF_ERROR(Heads());
    LL_RETURN_IF_ERROR(Rope());
    LL_RETURN_IF_ERROR(Floats());
    LL_RETURN_IF_ERROR(Vocabulary());
    LL_RETURN_IF_ERROR(Blocks());
    return LayerTensors();
  }

 private:
  Status Fail(const std::string& problem) const {
    return Status::Error(file_.path() + ": " + problem);
  }

  // "llama.attention.head_count_kv is 8", noting a value the file does not set.
  std::string Is(std::string_view key, const std::string& value) const {
    return b_.Key(key) + " is " + value + (b_.Has(key) ? "" : " (the default)");
  }
  std::string Is(std::string_view key, int64_t value) const {
    return Is(key, std::to_string(value));
  }

  Status InRange(std::string_view key, int64_t v, int64_t max) const {
    if (v <= 0) return Fail(Is(key, v) + ", must be positive");
    if (v > max) {
      return Fail(Is(key, v) + ", more than the " + std::to_string(max) + " this engine supports");
    }
    return Status::Ok();
  }

  Status Ranges() const {
    LL_RETURN_IF_ERROR(InRange("embedding_length", c_.n_embd, kMaxWidth));
    LL_RETURN_IF_ERROR(InRange("block_count", c_.n_layer, kMaxBlocks));
    LL_RETURN_IF_ERROR(InRange("attention.head_count", c_.n_head, kMaxWidth));
    LL_RETURN_IF_ERROR(InRange("attention.head_count_kv", c_.n_head_kv, kMaxWidth));
    LL_RETURN_IF_ERROR(InRange("feed_forward_length", c_.n_ff, kMaxWidth));
    LL_RETURN_IF_ERROR(InRange("context_length", c_.n_ctx_train, kMaxContext));
    LL_RETURN_IF_ERROR(InRange("attention.key_length", c_.head_dim, kMaxWidth));
    if (c_.n_vocab <= 0 || c_.n_vocab > kMaxVocab) {
      return Fail("the vocabulary size " + std::to_string(c_.n_vocab) + " is not in [1, " +
                  std::to_string(kMaxVocab) + "]");
    }
    return Status::Ok();
  }

  Status Heads() const {
    if (c_.n_embd % c_.n_head != 0) {
      return Fail(Is("attention.head_count", c_.n_head) + ", which does not divide " +
                  b_.Key("embedding_length") + " " + std::to_string(c_.n_embd));
    }
    if (c_.n_head % c_.n_head_kv != 0) {
      return Fail(Is("attention.head_count_kv", c_.n_head_kv) + ", which does not divide " +
                  b_.Key("attention.head_count") + " " + std::to_string(c_.n_head));
    }
    if (b_.Has("attention.value_length")) {
      LL_ASSIGN_OR_RETURN(int64_t value_length, b_.Int("attention.value_length"));
      if (value_length != c_.head_dim) {
        return Fail(Is("attention.value_length", value_length) + ", not the key head size " +
                    std::to_string(c_.head_dim) +
                    " (different key and value head sizes are not supported)");
      }
    }
    return Status::Ok();
  }

  Status Rope() const {
    if (c_.position == PositionKind::kAlibi) return Status::Ok();
    const char* key = "rope.dimension_count";
    if (c_.n_rot <= 0) return Fail(Is(key, c_.n_rot) + ", must be positive");
    if (c_.n_rot > c_.head_dim) {
      return Fail(Is(key, c_.n_rot) + ", larger than the head size " + std::to_string(c_.head_dim));
    }
    if (c_.n_rot % 2 != 0) return Fail(Is(key, c_.n_rot) + ", not even (RoPE rotates pairs)");
    if (!(std::isfinite(c_.rope_freq_base) && c_.rope_freq_base > 0)) {
      return Fail(Is("rope.freq_base", FormatNumber(c_.rope_freq_base)) +
                  ", must be positive and finite");
    }
    return Status::Ok();
  }

  Status Floats() const {
    // GGUF names the epsilon by the kind of norm, for every architecture.
    const char* key = c_.norm == NormKind::kRms ? "attention.layer_norm_rms_epsilon"
                                                : "attention.layer_norm_epsilon";
    if (!(std::isfinite(c_.norm_eps) && c_.norm_eps > 0)) {
      return Fail(Is(key, FormatNumber(c_.norm_eps)) + ", must be positive and finite");
    }
    return Status::Ok();
  }

  // The token list and a recorded vocabulary size must match the embedding's rows (a token id
  // beyond them would read past the embedding).
  Status Vocabulary() const {
    const GgufTensorInfo* embd = file_.FindTensor("token_embd.weight");
    if (embd == nullptr || embd->shape.size() != 2) return Status::Ok();
    if (embd->shape[0] != c_.n_embd) {
      return Fail(Is("embedding_length", c_.n_embd) +
                  ", but tensor 'token_embd.weight' has shape " + ShapeText(embd->shape));
    }
    const GgufValue* tokens = file_.Find("tokenizer.ggml.tokens");
    if (tokens != nullptr && tokens->type == GgufType::kArray &&
        static_cast<int64_t>(tokens->array_size()) != c_.n_vocab) {
      return Fail("tokenizer.ggml.tokens has " + std::to_string(tokens->array_size()) +
                  " entries, but tensor 'token_embd.weight' has shape " + ShapeText(embd->shape));
    }
    if (b_.Has("vocab_size")) {
      LL_ASSIGN_OR_RETURN(int64_t n, b_.Int("vocab_size"));
      if (n != c_.n_vocab) {
        return Fail(Is("vocab_size", n) + ", but tensor 'token_embd.weight' has shape " +
                    ShapeText(embd->shape));
      }
    }
    return Status::Ok();
  }

  // block_count must cover every block in the file, and (but in a segment file, which holds
  // only some) no block may be missing.
  Status Blocks() const {
    std::vector<bool> present(c_.n_layer, false);
    for (const GgufTensorInfo& t : file_.tensors()) {
      const int64_t block = BlockOf(t.name);
      if (block < 0) continue;
      if (block >= c_.n_layer) {
        return Fail(Is("block_count", c_.n_layer) + ", but the file has tensor '" +
                    Printable(t.name) + "'");
      }
      present[block] = true;
    }
    if (b_.partial()) return Status::Ok();
    for (int64_t l = 0; l < c_.n_layer; ++l) {
      if (!present[l]) {
        return Fail(Is("block_count", c_.n_layer) + ", but the file has no tensors of block " +
                    std::to_string(l));
      }
    }
    return Status::Ok();
  }

  // Dimension `dim` of a layer's 2-D tensor `rest`, when present, must be `expected`. The
  // message names `what` (the key or keys that set it) and the shape that was expected.
  Status Dim(int64_t layer, const char* rest, size_t dim, int64_t expected, const std::string& what,
             const std::string& note) const {
    const std::string name = Binder::Blk(layer, rest);
    const GgufTensorInfo* t = file_.FindTensor(name);
    if (t == nullptr || t->shape.size() != 2 || t->shape[dim] == expected) return Status::Ok();
    std::vector<int64_t> want = t->shape;
    want[dim] = expected;
    return Fail(what + ", but tensor '" + name + "' has shape " + ShapeText(t->shape) + ", not " +
                ShapeText(want) + note);
  }

  Status LayerTensors() const {
    const int64_t hd = c_.head_dim, q = c_.n_head * hd, kv = c_.n_head_kv * hd;
    auto heads = [&](int64_t n) {
      return " (" + std::to_string(n) + " heads of " + std::to_string(hd) + ")";
    };
    // An explicit head size is named too: it multiplies the head counts.
    const std::string head_size =
        b_.Has("attention.key_length") ? " and " + Is("attention.key_length", hd) : "";
    const std::string n_head = Is("attention.head_count", c_.n_head) + head_size;
    const std::string n_head_kv = Is("attention.head_count_kv", c_.n_head_kv) + head_size;
    const std::string n_ff = Is("feed_forward_length", c_.n_ff);
    for (int64_t l = 0; l < c_.n_layer; ++l) {
      LL_RETURN_IF_ERROR(Dim(l, "attn_q.weight", 1, q, n_head, heads(c_.n_head)));
      LL_RETURN_IF_ERROR(Dim(l, "attn_k.weight", 1, kv, n_head_kv, heads(c_.n_head_kv)));
      LL_RETURN_IF_ERROR(Dim(l, "attn_v.weight", 1, kv, n_head_kv, heads(c_.n_head_kv)));
      LL_RETURN_IF_ERROR(Dim(l, "attn_qkv.weight", 1, q + 2 * kv,
                             Is("attention.head_count", c_.n_head) + " and " + n_head_kv,
                             " (" + std::to_string(c_.n_head) + " + 2 x " +
                                 std::to_string(c_.n_head_kv) + " heads of " + std::to_string(hd) +
                                 ")"));
      LL_RETURN_IF_ERROR(Dim(l, "ffn_up.weight", 1, c_.n_ff, n_ff, ""));
      LL_RETURN_IF_ERROR(Dim(l, "ffn_gate.weight", 1, c_.n_ff, n_ff, ""));
      LL_RETURN_IF_ERROR(Dim(l, "ffn_down.weight", 0, c_.n_ff, n_ff, ""));
    }
    return Status::Ok();
  }

  const GgufFile& file_;
  const ModelConfig& c_;
  Binder b_;
};

}  // namespace

Status CheckConfig(const GgufFile& file, const ModelConfig& config) {
  return Checker(file, config).Run();
}

}  // namespace ll::model
