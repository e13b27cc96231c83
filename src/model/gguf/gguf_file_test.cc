#include "model/gguf/gguf_file.h"

#include <gtest/gtest.h>

#include "model/gguf/printable.h"

namespace ll::model {
namespace {

const std::string kModels = std::string(LL_SHARED_DIR) + "/models";

TEST(GgufFileTest, ReadsStories260K) {
  auto file = GgufFile::Open(kModels + "/stories260K/stories260K.gguf");
  ASSERT_TRUE(file.ok()) << file.message();
  const GgufFile& f = **file;
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.tensors().size(), 48u);
  EXPECT_EQ(*f.GetString("general.architecture"), "llama");
  EXPECT_EQ(*f.GetUint("llama.embedding_length"), 64u);
  EXPECT_EQ(*f.GetUint("llama.block_count"), 5u);
  EXPECT_EQ(f.GetStringArray("tokenizer.ggml.tokens")->size(), 512u);
  const GgufTensorInfo* q = f.FindTensor("blk.0.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->shape, (std::vector<int64_t>{64, 64}));
  EXPECT_EQ(q->type, kernels::DType::kF32);
  EXPECT_EQ(q->bytes, 64u * 64u * 4u);
  EXPECT_EQ((q->data - f.bytes().data()) % f.alignment(), 0);
}

TEST(GgufFileTest, ReadsEverySharedModel) {
  for (const char* rel :
       {"stories260K/stories260K-F16.gguf", "stories260K/stories260K-pad192-Q4_0.gguf",
        "synthetic/qwen2-64x2-random.gguf", "synthetic/bloom-64x3-random.gguf",
        "synthetic/llama-256x2-random-Q4_K_M.gguf", "tiny-random/llama-2-tiny-random.gguf",
        "vocab/ggml-vocab-gpt-2.gguf"}) {
    auto file = GgufFile::Open(kModels + "/" + rel);
    EXPECT_TRUE(file.ok()) << rel << ": " << file.message();
  }
}

TEST(GgufFileTest, TypedGettersNameTheKey) {
  auto file = GgufFile::Open(kModels + "/stories260K/stories260K.gguf");
  ASSERT_TRUE(file.ok());
  auto missing = (*file)->GetUint("llama.no_such_key");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("llama.no_such_key"), std::string::npos);
  auto wrong = (*file)->GetUint("general.architecture");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.message().find("expected an integer"), std::string::npos);
}

TEST(GgufFileTest, MissingFileIsAnError) {
  auto file = GgufFile::Open("/nonexistent/model.gguf");
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.message().find("cannot open"), std::string::npos);
}

// Bytes from a file go into messages escaped: printable ASCII and UTF-8 text as they are, every
// control byte (C0, DEL, C1 in UTF-8) and every byte outside well-formed UTF-8 as \xNN.
TEST(PrintableTest, EscapesControlAndInvalidBytesOnly) {
  EXPECT_EQ(Printable("blk.0.attn_q.weight"), "blk.0.attn_q.weight");
  EXPECT_EQ(Printable("\xe2\x96\x81the \xf0\x9f\x98\x80"), "\xe2\x96\x81the \xf0\x9f\x98\x80");
  EXPECT_EQ(Printable("a\x1b[31mb"), "a\\x1b[31mb");
  EXPECT_EQ(Printable(std::string("\0\n\t\x7f", 4)), "\\x00\\x0a\\x09\\x7f");
  EXPECT_EQ(Printable("\xc2\x9b"
                      "2J"),
            "\\xc2\\x9b2J");  // C1 CSI, UTF-8 encoded
  EXPECT_EQ(Printable("\x9b"
                      "2J"),
            "\\x9b2J");                                     // C1 CSI, one byte
  EXPECT_EQ(Printable("\xc0\xaf"), "\\xc0\\xaf");           // overlong '/'
  EXPECT_EQ(Printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a UTF-16 surrogate
  EXPECT_EQ(Printable("\xe2\x96"), "\\xe2\\x96");           // cut short
  EXPECT_EQ(Printable("a\\x1b"), "a\\\\x1b");  // a literal backslash stays distinguishable
}

}  // namespace
}  // namespace ll::model
