#include "model/tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "model/gguf/gguf_file.h"
#include "model/gguf/gguf_writer.h"

namespace ll::model {
namespace {

const std::string kVocabDir = LL_SHARED_DIR "/models/vocab";

struct TestCase {
  std::string text;
  std::vector<int32_t> ids;
};

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

// llama.cpp's test-tokenizer-0 format: .inp holds strings separated by the line
// "__ggml_vocab_test__" (the newlines around the marker belong to the separator, so each
// string ends just before it); .out holds one line of ids per string.
std::vector<TestCase> ReadVectors(const std::string& vocab) {
  const std::string base = kVocabDir + "/ggml-vocab-" + vocab + ".gguf";
  std::string inp, outp;
  EXPECT_TRUE(ReadFile(base + ".inp", &inp)) << "missing " << base << ".inp";
  EXPECT_TRUE(ReadFile(base + ".out", &outp)) << "missing " << base << ".out";
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  for (size_t pos = 0; pos < inp.size();) {
    const size_t next = inp.find(sep, pos);
    if (next == std::string::npos) {
      texts.push_back(inp.substr(pos));
      break;
    }
    texts.push_back(inp.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::vector<TestCase> cases;
  std::istringstream lines(outp);
  std::string line;
  for (size_t i = 0; std::getline(lines, line); ++i) {
    if (i >= texts.size()) break;
    TestCase c{texts[i], {}};
    std::istringstream ids(line);
    for (int32_t id; ids >> id;) c.ids.push_back(id);
    cases.push_back(std::move(c));
  }
  EXPECT_EQ(cases.size(), texts.size()) << vocab << ": .inp and .out disagree";
  return cases;
}

std::unique_ptr<GgufFile> OpenOrFail(const std::string& path) {
  auto file = GgufFile::Open(path);
  EXPECT_TRUE(file.ok()) << file.status().message();
  return file.ok() ? std::move(file).value() : nullptr;
}

std::unique_ptr<Tokenizer> Load(const std::string& path) {
  auto file = OpenOrFail(path);
  if (!file) return nullptr;
  auto tok = Tokenizer::FromGguf(*file);
  EXPECT_TRUE(tok.ok()) << tok.status().message();
  return tok.ok() ? std::move(tok).value() : nullptr;
}

std::unique_ptr<Tokenizer> LoadVocabFile(const std::string& vocab) {
  return Load(kVocabDir + "/ggml-vocab-" + vocab + ".gguf");
}

std::string Show(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += std::to_string(id) + " ";
  return s;
}

class VocabVectors : public testing::TestWithParam<std::string> {};

// Every llama.cpp test string encodes (no BOS, no special parsing) to the expected ids.
TEST_P(VocabVectors, MatchesLlamaCpp) {
  auto tok = LoadVocabFile(GetParam());
  ASSERT_NE(tok, nullptr);
  const auto cases = ReadVectors(GetParam());
  ASSERT_FALSE(cases.empty());
  int failures = 0;
  for (const TestCase& c : cases) {
    const std::vector<int32_t> got = tok->Encode(c.text, /*add_bos=*/false);
    if (got != c.ids) {
      ++failures;
      ADD_FAILURE() << GetParam() << ": '" << c.text << "'\n  want " << Show(c.ids) << "\n  got  "
                    << Show(got);
    }
  }
  EXPECT_EQ(failures, 0) << failures << " of " << cases.size() << " strings differ";
}

// Decoding the encoding of every test string gives the string back.
TEST_P(VocabVectors, RoundTrips) {
  auto tok = LoadVocabFile(GetParam());
  ASSERT_NE(tok, nullptr);
  for (const TestCase& c : ReadVectors(GetParam())) {
    EXPECT_EQ(tok->Decode(tok->Encode(c.text, false)), c.text);
    EXPECT_EQ(tok->Decode(tok->Encode(c.text, true)), c.text);
  }
}

INSTANTIATE_TEST_SUITE_P(Required, VocabVectors, testing::Values("llama-spm", "phi-3", "gpt-2"));
INSTANTIATE_TEST_SUITE_P(Others, VocabVectors,
                         testing::Values("mpt", "falcon", "refact", "starcoder", "deepseek-coder",
                                         "deepseek-llm"));

// BERT WordPiece lower-cases and strips accents, so only the encoding is compared.
TEST(TokenizerModels, BertBgeMatchesLlamaCpp) {
  auto tok = LoadVocabFile("bert-bge");
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->model_name(), "bert");
  int failures = 0;
  const auto cases = ReadVectors("bert-bge");
  ASSERT_FALSE(cases.empty());
  for (const TestCase& c : cases) {
    const std::vector<int32_t> got = tok->Encode(c.text, false);
    if (got != c.ids) {
      ++failures;
      ADD_FAILURE() << "'" << c.text << "'\n  want " << Show(c.ids) << "\n  got  " << Show(got);
    }
  }
  EXPECT_EQ(failures, 0) << failures << " of " << cases.size() << " strings differ";
  // With special tokens: [CLS] ... [SEP], as llama.cpp's add_special.
  EXPECT_TRUE(tok->add_bos_default());
  const auto ids = tok->Encode("Hello World", true);
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids.front(), 101);
  EXPECT_EQ(ids.back(), 102);
  EXPECT_EQ(tok->Decode(ids), " hello world");
}

// --- Real models -------------------------------------------------------------------------

TEST(TokenizerModels, Stories260kEncodesWithBos) {
  auto tok = Load(LL_SHARED_DIR "/models/stories260K/stories260K.gguf");
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->model_name(), "llama");
  EXPECT_EQ(tok->vocab_size(), 512);
  EXPECT_TRUE(tok->add_bos_default());
  const auto ids = tok->Encode("Once upon a time", tok->add_bos_default());
  EXPECT_EQ(ids, (std::vector<int32_t>{1, 403, 407, 261, 378}));
  EXPECT_EQ(tok->Decode(ids), "Once upon a time");
  EXPECT_EQ(tok->Encode("Once upon a time", false), (std::vector<int32_t>{403, 407, 261, 378}));
}

TEST(TokenizerModels, Qwen2UsesGpt2BpeWithoutBos) {
  auto tok = Load(LL_SHARED_DIR "/models/synthetic/qwen2-64x2-random.gguf");
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->model_name(), "gpt2");
  EXPECT_FALSE(tok->add_bos_default());
  const auto ids = tok->Encode("Once upon a time", tok->add_bos_default());
  EXPECT_EQ(ids, (std::vector<int32_t>{7454, 2402, 257, 640}));
  EXPECT_EQ(tok->Decode(ids), "Once upon a time");
  EXPECT_TRUE(tok->IsEndOfGeneration(50256));
}

// The bloom file has the gpt-2 vocabulary with the BLOOM pre-tokenizer; llama.cpp gives the
// gpt-2 ids for all gpt-2 test strings but the long mixed-script one (shared/models/README.md).
TEST(TokenizerModels, BloomPreTokenizer) {
  auto tok = Load(LL_SHARED_DIR "/models/synthetic/bloom-64x3-random.gguf");
  ASSERT_NE(tok, nullptr);
  EXPECT_FALSE(tok->add_bos_default());
  EXPECT_EQ(tok->Encode("Once upon a time", false), (std::vector<int32_t>{7454, 2402, 257, 640}));
  int differ = 0;
  const auto cases = ReadVectors("gpt-2");
  for (const TestCase& c : cases) {
    if (tok->Encode(c.text, false) != c.ids) {
      ++differ;
      EXPECT_GT(c.text.size(), 200u) << "unexpected difference on '" << c.text << "'";
    }
    EXPECT_EQ(tok->Decode(tok->Encode(c.text, false)), c.text);
  }
  EXPECT_EQ(differ, 1);
}

// --- BOS, special tokens, pieces ------------------------------------------------------------

TEST(TokenizerBehaviour, BosHandling) {
  auto spm = LoadVocabFile("llama-spm");
  auto bpe = LoadVocabFile("gpt-2");
  ASSERT_NE(spm, nullptr);
  ASSERT_NE(bpe, nullptr);
  EXPECT_TRUE(spm->add_bos_default());
  EXPECT_EQ(spm->bos_id(), 1);
  EXPECT_EQ(spm->eos_id(), 2);
  EXPECT_FALSE(bpe->add_bos_default());
  EXPECT_EQ(bpe->bos_id(), 50256);

  const auto with = spm->Encode("Hello world", true);
  const auto without = spm->Encode("Hello world", false);
  ASSERT_EQ(with.size(), without.size() + 1);
  EXPECT_EQ(with[0], 1);
  EXPECT_TRUE(std::equal(without.begin(), without.end(), with.begin() + 1));
  EXPECT_EQ(spm->Encode("", true), (std::vector<int32_t>{1}));
  EXPECT_TRUE(spm->Encode("", false).empty());
  EXPECT_EQ(bpe->Encode("Hello", true).front(), 50256);
  // A leading BOS does not keep the SPM prefix space in the decoded text.
  EXPECT_EQ(spm->Decode(with), "Hello world");
}

// Parts encode as their concatenation would, but control tokens are cut only out of the parts
// that allow it: "<s>" in a user's part stays text, raw runs merge across part boundaries.
TEST(TokenizerBehaviour, EncodePartsCutsSpecialsOnlyWhereAllowed) {
  for (const char* name : {"llama-spm", "gpt-2"}) {
    auto tok = LoadVocabFile(name);
    ASSERT_NE(tok, nullptr) << name;
    using Part = model::Tokenizer::TextPart;
    const std::vector<Part> template_only = {{"Hi<s>there ", true}, {"and more", true}};
    EXPECT_EQ(tok->EncodeParts(template_only, true), tok->Encode("Hi<s>there and more", true, true))
        << name;
    const std::vector<Part> mixed = {{"<s>user: ", true}, {"say <s> now", false}, {"<s>", true}};
    const auto got = tok->EncodeParts(mixed, false);
    auto want = tok->Encode("<s>", false, true);
    const auto middle = tok->Encode("user: say <s> now", false, false);
    want.insert(want.end(), middle.begin(), middle.end());
    const auto last = tok->Encode("<s>", false, true);
    want.insert(want.end(), last.begin(), last.end());
    EXPECT_EQ(got, want) << name << ": " << Show(got);
  }
}

TEST(TokenizerBehaviour, ParseSpecial) {
  auto tok = LoadVocabFile("llama-spm");
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Encode("<s>", false, /*parse_special=*/true), (std::vector<int32_t>{1}));
  const auto plain = tok->Encode("<s>", false, /*parse_special=*/false);
  EXPECT_TRUE(std::find(plain.begin(), plain.end(), 1) == plain.end()) << Show(plain);
  EXPECT_EQ(tok->Decode(plain), "<s>");
  // After a special token the SPM space prefix applies again, as in llama.cpp.
  const auto mixed = tok->Encode("Hello<s>world", false, true);
  const auto hello = tok->Encode("Hello", false);
  const auto world = tok->Encode("world", false);
  std::vector<int32_t> want = hello;
  want.push_back(1);
  want.insert(want.end(), world.begin(), world.end());
  EXPECT_EQ(mixed, want);
}

TEST(TokenizerBehaviour, Phi3ChatTokensSwallowFollowingWhitespace) {
  auto tok = LoadVocabFile("phi-3");
  ASSERT_NE(tok, nullptr);
  const auto a = tok->Encode("<|user|>\nHello", false, true);
  EXPECT_EQ(a, tok->Encode("<|user|>Hello", false, true));
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(tok->TokenText(a[0]), "<|user|>");
  EXPECT_TRUE(tok->IsEndOfGeneration(tok->Encode("<|end|>", false, true).at(0)));
}

TEST(TokenizerBehaviour, TokenPieces) {
  auto spm = LoadVocabFile("llama-spm");
  auto bpe = LoadVocabFile("gpt-2");
  ASSERT_NE(spm, nullptr);
  ASSERT_NE(bpe, nullptr);
  EXPECT_EQ(spm->TokenText(13), "<0x0A>");
  EXPECT_EQ(spm->TokenToPiece(13), "\n");
  EXPECT_EQ(spm->TokenToPiece(1), "");
  EXPECT_EQ(spm->TokenToPiece(1, /*render_special=*/true), "<s>");
  EXPECT_EQ(spm->TokenToPiece(-1), "");
  EXPECT_EQ(spm->TokenToPiece(spm->vocab_size()), "");
  const auto hello = spm->Encode(" Hello", false);  // "▁▁Hello" -> "▁", "▁Hello"
  ASSERT_FALSE(hello.empty());
  EXPECT_EQ(spm->TokenToPiece(hello.back()), " Hello");
  // gpt-2 spells a space as "Ġ"; the piece is the raw byte again.
  const auto world = bpe->Encode(" world", false);
  ASSERT_EQ(world.size(), 1u);
  EXPECT_EQ(bpe->TokenText(world[0]), "\xC4\xA0world");
  EXPECT_EQ(bpe->TokenToPiece(world[0]), " world");
  EXPECT_TRUE(spm->IsEndOfGeneration(2));
  EXPECT_FALSE(spm->IsEndOfGeneration(1));
}

TEST(TokenizerBehaviour, OptionalBpeSpaceCleanUp) {
  auto tok = LoadVocabFile("gpt-2");
  ASSERT_NE(tok, nullptr);
  const auto ids = tok->Encode("Hello , world ! I 'm here ' ok", false);
  EXPECT_EQ(tok->Decode(ids), "Hello , world ! I 'm here ' ok");
  DecodeOptions clean;
  clean.clean_up_spaces = true;
  EXPECT_EQ(tok->Decode(ids, clean), "Hello, world! I'm here'ok");
}

// --- Refusals ---------------------------------------------------------------------------

// A minimal vocabulary GGUF built in memory.
std::vector<uint8_t> TinyVocab(std::string_view model, std::string_view pre) {
  GgufWriter w;
  w.AddString("general.architecture", "llama");
  w.AddString("tokenizer.ggml.model", model);
  if (!pre.empty()) w.AddString("tokenizer.ggml.pre", pre);
  const std::vector<std::string> tokens = {"a", "b", "ab"};
  w.AddStringArray("tokenizer.ggml.tokens", tokens);
  const std::vector<std::string> merges = {"a b"};
  w.AddStringArray("tokenizer.ggml.merges", merges);
  return w.ToBytes();
}

Result<std::unique_ptr<Tokenizer>> FromBytes(const std::vector<uint8_t>& bytes) {
  auto file = GgufFile::Parse(bytes, "tiny.gguf");
  if (!file.ok()) return file.status();
  return Tokenizer::FromGguf(**file);
}

TEST(TokenizerErrors, UnsupportedModelIsNamed) {
  auto tok = FromBytes(TinyVocab("t5", ""));
  ASSERT_FALSE(tok.ok());
  EXPECT_NE(tok.status().message().find("'t5'"), std::string::npos) << tok.status().message();
  EXPECT_NE(tok.status().message().find("tiny.gguf"), std::string::npos);
}

TEST(TokenizerErrors, UnsupportedPreTokenizerIsNamed) {
  auto tok = FromBytes(TinyVocab("gpt2", "no-such-pre"));
  ASSERT_FALSE(tok.ok());
  EXPECT_NE(tok.status().message().find("'no-such-pre'"), std::string::npos)
      << tok.status().message();
}

TEST(TokenizerErrors, MissingModelKey) {
  GgufWriter w;
  w.AddString("general.architecture", "llama");
  auto tok = FromBytes(w.ToBytes());
  ASSERT_FALSE(tok.ok());
  EXPECT_NE(tok.status().message().find("tokenizer.ggml.model"), std::string::npos)
      << tok.status().message();
}

TEST(TokenizerErrors, TinyBpeVocabularyWorks) {
  auto tok = FromBytes(TinyVocab("gpt2", "gpt-2"));
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  EXPECT_EQ((*tok)->Encode("abba", false), (std::vector<int32_t>{2, 1, 0}));
  EXPECT_EQ((*tok)->bos_id(), -1);  // llama.cpp's default id 11 is outside this vocabulary
  EXPECT_EQ((*tok)->Encode("ab", true), (std::vector<int32_t>{2}));
}

}  // namespace
}  // namespace ll::model
