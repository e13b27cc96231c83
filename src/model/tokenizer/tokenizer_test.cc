#include "model/tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "model/gguf/gguf_file.h"

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
      ADD_FAILURE() << GetParam() << ": '" << c.text << "'\n  want " << Show(c.ids)
                    << "\n  got  " << Show(got);
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

INSTANTIATE_TEST_SUITE_P(Required, VocabVectors,
                         testing::Values("llama-spm", "phi-3", "gpt-2"));

}  // namespace
}  // namespace ll::model
