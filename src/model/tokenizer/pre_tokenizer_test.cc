#include "model/tokenizer/pre_tokenizer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ll::model {
namespace {

using Words = std::vector<std::string>;

Words Split(std::string_view pre_name, std::string_view text) {
  auto pre = PreTokenizer::Create(pre_name);
  EXPECT_TRUE(pre.ok()) << pre.status().message();
  return pre.ok() ? (*pre)->Split(text) : Words{};
}

// The Llama 3 and Qwen2 vocabularies are not in shared/models, so their regexes are checked
// against splits worked out by hand from the patterns.
TEST(PreTokenizer, Llama3GroupsDigitsByThree) {
  EXPECT_EQ(Split("llama-bpe", "I've 12345 apples!\n\n"),
            (Words{"I", "'ve", " ", "123", "45", " apples", "!\n\n"}));
  EXPECT_EQ(Split("llama3", "HE'S  there"), (Words{"HE", "'S", " ", " there"}));
}

TEST(PreTokenizer, Qwen2SplitsEveryDigit) {
  EXPECT_EQ(Split("qwen2", "x 123"), (Words{"x", " ", "1", "2", "3"}));
}

TEST(PreTokenizer, Gpt2) {
  EXPECT_EQ(Split("gpt-2", "Hello world's   end\t"),
            (Words{"Hello", " world", "'s", "  ", " end", "\t"}));
}

TEST(PreTokenizer, InvalidUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(Split("gpt-2", "a\xFF"), (Words{"a", "\xEF\xBF\xBD"}));
}

TEST(PreTokenizer, UnknownNameIsRefused) {
  auto pre = PreTokenizer::Create("tekken");
  ASSERT_FALSE(pre.ok());
  EXPECT_NE(pre.status().message().find("'tekken'"), std::string::npos);
}

}  // namespace
}  // namespace ll::model
