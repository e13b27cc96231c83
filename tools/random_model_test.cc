#include "random_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "model/gguf/gguf_file.h"

namespace ll::tools {
namespace {

using model::GgufFile;
using model::GgufWriter;
using ::testing::HasSubstr;

const std::string kVocab = std::string(LL_SHARED_DIR) + "/models/vocab/ggml-vocab-gpt-2.gguf";

RandomModelOptions Small(const std::string& arch) {
  RandomModelOptions o;
  o.arch = arch;
  o.n_embd = 64;
  o.n_layer = 2;
  o.n_head = 4;
  o.n_head_kv = 2;
  o.n_ff = 128;
  return o;
}

std::vector<uint8_t> Build(const RandomModelOptions& o) {
  GgufWriter w;
  Status s = AddRandomModel(o, w);
  EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(w.Validate().ok()) << w.Validate().message();
  return w.ToBytes();
}

std::string ErrorOf(const RandomModelOptions& o) {
  GgufWriter w;
  Status s = AddRandomModel(o, w);
  EXPECT_FALSE(s.ok());
  return s.message();
}

TEST(RandomModelTest, LlamaHasLlamaCppKeysAndTensors) {
  const std::vector<uint8_t> bytes = Build(Small("llama"));
  auto f = GgufFile::Parse(bytes);
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ(*(*f)->GetString("general.architecture"), "llama");
  EXPECT_EQ(*(*f)->GetUint("llama.embedding_length"), 64u);
  EXPECT_EQ(*(*f)->GetUint("llama.attention.head_count_kv"), 2u);
  EXPECT_EQ(*(*f)->GetUint("llama.rope.dimension_count"), 16u);
  EXPECT_TRUE((*f)->GetFloat("llama.attention.layer_norm_rms_epsilon").ok());
  EXPECT_EQ((*f)->GetStringArray("tokenizer.ggml.tokens")->size(), 512u);
  EXPECT_EQ((*f)->tensors().size(), 2u + 9 * 2 + 1);
  const model::GgufTensorInfo* k = (*f)->FindTensor("blk.1.attn_k.weight");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->shape, (std::vector<int64_t>{64, 32}));
  EXPECT_EQ((*f)->FindTensor("blk.0.ffn_down.weight")->shape, (std::vector<int64_t>{128, 64}));
  EXPECT_EQ((*f)->FindTensor("output.weight")->shape, (std::vector<int64_t>{64, 512}));
  EXPECT_EQ((*f)->FindTensor("output_norm.weight")->shape, (std::vector<int64_t>{64}));
}

TEST(RandomModelTest, TiedLlamaHasNoOutputMatrix) {
  RandomModelOptions o = Small("llama");
  o.tied = true;
  const std::vector<uint8_t> bytes = Build(o);  // the file views these bytes
  auto f = GgufFile::Parse(bytes);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->FindTensor("output.weight"), nullptr);
}

TEST(RandomModelTest, Qwen2HasQkvBiases) {
  RandomModelOptions o = Small("qwen2");
  o.vocab_from = kVocab;
  const std::vector<uint8_t> bytes = Build(o);
  auto f = GgufFile::Parse(bytes);
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ((*f)->tensors().size(), 27u);
  EXPECT_EQ((*f)->FindTensor("blk.0.attn_k.bias")->shape, (std::vector<int64_t>{32}));
  EXPECT_EQ(*(*f)->GetString("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ((*f)->FindTensor("token_embd.weight")->shape, (std::vector<int64_t>{64, 50257}));
  EXPECT_EQ((*f)->Find("qwen2.rope.dimension_count"), nullptr);
}

TEST(RandomModelTest, TiedBloomStoresACopyOfTheEmbedding) {
  RandomModelOptions o = Small("bloom");
  o.n_head_kv = 4;
  o.tied = true;
  o.type = "q8_0";
  const std::vector<uint8_t> bytes = Build(o);
  auto f = GgufFile::Parse(bytes);
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ((*f)->tensors().size(), 3u + 12 * 2 + 3);
  EXPECT_EQ((*f)->FindTensor("blk.1.attn_qkv.weight")->shape, (std::vector<int64_t>{64, 192}));
  EXPECT_TRUE((*f)->GetFloat("bloom.attention.layer_norm_epsilon").ok());
  const auto* embd = (*f)->FindTensor("token_embd.weight");
  const auto* out = (*f)->FindTensor("output.weight");
  ASSERT_NE(out, nullptr);
  ASSERT_EQ(out->bytes, embd->bytes);
  EXPECT_EQ(std::memcmp(out->data, embd->data, out->bytes), 0);
}

TEST(RandomModelTest, Q4KUsesQ6KForOutput) {
  RandomModelOptions o = Small("llama");
  o.n_embd = 256;
  o.n_ff = 512;
  o.type = "q4_k";
  const std::vector<uint8_t> bytes = Build(o);  // the file views these bytes
  auto f = GgufFile::Parse(bytes);
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ((*f)->FindTensor("blk.0.attn_q.weight")->type, kernels::DType::kQ4_K);
  EXPECT_EQ((*f)->FindTensor("token_embd.weight")->type, kernels::DType::kQ4_K);
  EXPECT_EQ((*f)->FindTensor("output.weight")->type, kernels::DType::kQ6_K);
  EXPECT_EQ((*f)->FindTensor("output_norm.weight")->type, kernels::DType::kF32);
  EXPECT_EQ(*(*f)->GetUint("general.file_type"), 14u);
}

TEST(RandomModelTest, Q5KUsesQ6KForOutput) {
  RandomModelOptions o = Small("llama");
  o.n_embd = 256;
  o.n_ff = 512;
  o.type = "q5_k";
  const std::vector<uint8_t> bytes = Build(o);  // the file views these bytes
  auto f = GgufFile::Parse(bytes);
  ASSERT_TRUE(f.ok()) << f.message();
  for (const char* name : {"token_embd.weight", "blk.0.attn_q.weight", "blk.1.attn_v.weight",
                           "blk.1.ffn_down.weight"}) {
    EXPECT_EQ((*f)->FindTensor(name)->type, kernels::DType::kQ5_K) << name;
  }
  EXPECT_EQ((*f)->FindTensor("output.weight")->type, kernels::DType::kQ6_K);
  EXPECT_EQ((*f)->FindTensor("output.weight")->bytes, 512u * 210);  // 512 rows of one q6_K block
  EXPECT_EQ((*f)->FindTensor("blk.0.ffn_up.weight")->bytes, 512u * 176);
  EXPECT_EQ(*(*f)->GetUint("general.file_type"), 16u);  // MOSTLY_Q5_K_S
}

// llama-quantize's Q5_K_M rule: attn_v and ffn_down in q6_K in layers 0, 3, 6, 7 of 8 (the first
// and last eighth and every third between), everything else q5_K, output q6_K.
TEST(RandomModelTest, Q5KMMixesQ5KAndQ6KLikeLlamaQuantize) {
  RandomModelOptions o = Small("llama");
  o.n_embd = 256;
  o.n_ff = 256;
  o.n_layer = 8;
  o.type = "q5_k_m";
  const std::vector<uint8_t> bytes = Build(o);  // the file views these bytes
  auto f = GgufFile::Parse(bytes);
  ASSERT_TRUE(f.ok()) << f.message();
  for (int i = 0; i < 8; ++i) {
    const auto more_bits =
        (i == 0 || i == 3 || i == 6 || i == 7) ? kernels::DType::kQ6_K : kernels::DType::kQ5_K;
    const std::string blk = "blk." + std::to_string(i) + ".";
    EXPECT_EQ((*f)->FindTensor(blk + "attn_v.weight")->type, more_bits) << i;
    EXPECT_EQ((*f)->FindTensor(blk + "ffn_down.weight")->type, more_bits) << i;
    EXPECT_EQ((*f)->FindTensor(blk + "attn_k.weight")->type, kernels::DType::kQ5_K) << i;
    EXPECT_EQ((*f)->FindTensor(blk + "ffn_gate.weight")->type, kernels::DType::kQ5_K) << i;
  }
  EXPECT_EQ((*f)->FindTensor("token_embd.weight")->type, kernels::DType::kQ5_K);
  EXPECT_EQ((*f)->FindTensor("output.weight")->type, kernels::DType::kQ6_K);
  EXPECT_EQ(*(*f)->GetUint("general.file_type"), 17u);  // MOSTLY_Q5_K_M

  // Bloom's fused QKV goes one type up: q6_K in Q5_K_M, q5_K in Q4_K_M.
  RandomModelOptions b = Small("bloom");
  b.n_embd = 256;
  b.n_ff = 256;
  b.n_head_kv = 4;
  for (const auto& [type, qkv] :
       {std::pair{"q5_k_m", kernels::DType::kQ6_K}, std::pair{"q4_k_m", kernels::DType::kQ5_K}}) {
    b.type = type;
    const std::vector<uint8_t> bb = Build(b);
    auto fb = GgufFile::Parse(bb);
    ASSERT_TRUE(fb.ok()) << fb.message();
    EXPECT_EQ((*fb)->FindTensor("blk.0.attn_qkv.weight")->type, qkv) << type;
  }
}

// --fused-qkv writes one attn_qkv tensor per block whose rows are exactly those of the separate
// attn_q, attn_k and attn_v of the same seed (and qwen2's biases likewise); the rest is unchanged.
TEST(RandomModelTest, FusedQkvConcatenatesTheSeparateTensors) {
  for (const char* arch : {"llama", "qwen2"}) {
    RandomModelOptions o = Small(arch);
    o.type = "q8_0";
    const std::vector<uint8_t> separate_bytes = Build(o);
    o.fused_qkv = true;
    const std::vector<uint8_t> fused_bytes = Build(o);
    auto separate = GgufFile::Parse(separate_bytes);
    auto fused = GgufFile::Parse(fused_bytes);
    ASSERT_TRUE(separate.ok()) << separate.message();
    ASSERT_TRUE(fused.ok()) << fused.message();
    const bool biases = std::string(arch) == "qwen2";
    EXPECT_EQ((*fused)->tensors().size(), (*separate)->tensors().size() - (biases ? 4 : 2) * 2);
    for (int l = 0; l < 2; ++l) {
      const std::string blk = "blk." + std::to_string(l) + ".";
      EXPECT_EQ((*fused)->FindTensor(blk + "attn_q.weight"), nullptr);
      EXPECT_EQ((*fused)->FindTensor(blk + "attn_v.weight"), nullptr);
      for (const char* kind : {"weight", "bias"}) {
        const model::GgufTensorInfo* qkv = (*fused)->FindTensor(blk + "attn_qkv." + kind);
        if (!biases && std::string(kind) == "bias") {
          EXPECT_EQ(qkv, nullptr);
          continue;
        }
        ASSERT_NE(qkv, nullptr) << blk << kind;
        EXPECT_EQ(qkv->shape.back(), 64 + 2 * 32) << blk << kind;
        size_t at = 0;
        for (const char* part : {"attn_q.", "attn_k.", "attn_v."}) {
          const model::GgufTensorInfo* t = (*separate)->FindTensor(blk + part + kind);
          ASSERT_NE(t, nullptr);
          ASSERT_LE(at + t->bytes, qkv->bytes);
          EXPECT_EQ(std::memcmp(qkv->data + at, t->data, t->bytes), 0) << blk << part << kind;
          at += t->bytes;
        }
        EXPECT_EQ(at, qkv->bytes);
      }
    }
    const auto* up = (*fused)->FindTensor("blk.1.ffn_up.weight");
    ASSERT_NE(up, nullptr);
    EXPECT_EQ(
        std::memcmp(up->data, (*separate)->FindTensor("blk.1.ffn_up.weight")->data, up->bytes), 0);
  }
  RandomModelOptions b = Small("bloom");
  b.fused_qkv = true;
  EXPECT_THAT(ErrorOf(b), HasSubstr("--fused-qkv is for llama and qwen2"));
}

TEST(RandomModelTest, DeterministicPerSeed) {
  RandomModelOptions o = Small("llama");
  EXPECT_EQ(Build(o), Build(o));
  RandomModelOptions other = o;
  other.seed = 2;
  EXPECT_NE(Build(o), Build(other));
}

TEST(RandomModelTest, MatricesHaveVarianceOneOverFanIn) {
  RandomModelOptions o = Small("llama");
  o.n_embd = 256;
  o.n_ff = 512;
  const std::vector<uint8_t> bytes = Build(o);  // the file views these bytes
  auto f = GgufFile::Parse(bytes);
  ASSERT_TRUE(f.ok());
  for (const char* name : {"blk.0.ffn_up.weight", "blk.0.ffn_down.weight"}) {
    const auto* t = (*f)->FindTensor(name);
    const float* x = reinterpret_cast<const float*>(t->data);
    double sum = 0, sum2 = 0;
    const int64_t n = t->elements();
    for (int64_t k = 0; k < n; ++k) {
      sum += x[k];
      sum2 += static_cast<double>(x[k]) * x[k];
    }
    const double var = sum2 / n - (sum / n) * (sum / n);
    EXPECT_NEAR(var * t->shape[0], 1.0, 0.03) << name;
    EXPECT_NEAR(sum / n, 0.0, 0.01) << name;
  }
}

TEST(RandomModelTest, RejectsBadShapesWithClearMessages) {
  RandomModelOptions o = Small("llama");
  o.n_head = 5;
  EXPECT_THAT(ErrorOf(o), HasSubstr("--n-embd 64 is not divisible by --n-head 5"));
  o = Small("llama");
  o.n_head_kv = 3;
  EXPECT_THAT(ErrorOf(o), HasSubstr("--n-head 4 is not divisible by --n-head-kv 3"));
  o = Small("llama");
  o.type = "q4_k";
  EXPECT_THAT(ErrorOf(o), HasSubstr("--n-embd = 64 is not a multiple of 256"));
  o = Small("llama");
  o.type = "q5_k_m";
  EXPECT_THAT(ErrorOf(o), HasSubstr("--n-embd = 64 is not a multiple of 256"));
  o = Small("llama");
  o.type = "q8_0_m";
  EXPECT_THAT(ErrorOf(o), HasSubstr("--type q8_0_m is not"));
  o = Small("llama");
  o.type = "q8_0";
  o.n_ff = 100;
  EXPECT_THAT(ErrorOf(o), HasSubstr("--n-ff = 100 is not a multiple of 32"));
  o = Small("llama");
  o.n_vocab = 100;
  EXPECT_THAT(ErrorOf(o), HasSubstr("--n-vocab 100 is below"));
  o = Small("llama");
  o.vocab_from = "/nonexistent.gguf";
  EXPECT_THAT(ErrorOf(o), HasSubstr("/nonexistent.gguf"));
  o = Small("gpt9");
  EXPECT_THAT(ErrorOf(o), HasSubstr("--arch gpt9"));
}

}  // namespace
}  // namespace ll::tools
