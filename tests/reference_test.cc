// Golden tests against llama.cpp: for every reference in shared/models/refs, our engine must
// produce the same prompt ids, the same greedy tokens, and (for float models) step-0 logits
// within 1e-4 of the reference relative to its largest logit.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/tokenizer/tokenizer.h"
#include "runtime/executor.h"
#include "runtime/generator.h"

namespace ll {
namespace {

namespace fs = std::filesystem;
const fs::path kModels = fs::path(LL_SHARED_DIR) / "models";

fs::path FindModel(const std::string& name) {
  for (const auto& entry : fs::recursive_directory_iterator(kModels)) {
    if (entry.path().filename() == name) return entry.path();
  }
  return {};
}

std::vector<std::string> RefFiles() {
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(kModels / "refs")) {
    const std::string name = entry.path().filename().string();
    // F16-KV references are for llama.cpp's f16 cache; our cache is f32 (compared separately).
    if (entry.path().extension() == ".json" && name.find("kv-f32") != std::string::npos) {
      out.push_back(name);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

class ReferenceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ReferenceTest, MatchesLlamaCpp) {
  std::ifstream in(kModels / "refs" / GetParam());
  ASSERT_TRUE(in) << GetParam();
  const nlohmann::json ref = nlohmann::json::parse(in);
  const fs::path model_path = FindModel(ref["model"].get<std::string>());
  ASSERT_FALSE(model_path.empty()) << "model " << ref["model"] << " not found";

  auto model = model::Model::Load(model_path.string());
  ASSERT_TRUE(model.ok()) << model.message();
  auto tokenizer = model::Tokenizer::FromGguf((*model)->file());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.message();

  const auto want_prompt = ref["prompt_ids"].get<std::vector<int32_t>>();
  const auto want_ids = ref["generated_ids"].get<std::vector<int32_t>>();
  const std::vector<int32_t> prompt =
      (*tokenizer)->Encode(ref["prompt"].get<std::string>(), ref["add_bos"].get<bool>());
  EXPECT_EQ(prompt, want_prompt);

  runtime::SegmentOptions opts;
  opts.n_ctx = 256;
  auto ex = runtime::LocalExecutor::Create(**model, std::vector<int>{}, opts, 2);
  ASSERT_TRUE(ex.ok()) << ex.message();
  runtime::GenerateOptions gen;
  gen.n_predict = static_cast<int>(want_ids.size());
  gen.sampling.temperature = 0.0f;
  gen.ignore_eos = true;
  auto result = runtime::Generate(**ex, **tokenizer, want_prompt, gen);
  ASSERT_TRUE(result.ok()) << result.message();
  EXPECT_EQ(result->generated_ids, want_ids);
  if (result->generated_ids == want_ids) {
    EXPECT_EQ(result->text, ref["generated_text"].get<std::string>());
  }

  // Step-0 logits: bounded relative error for float weights; reported for quantized ones.
  const auto want_logits = ref["steps"][0]["logits"].get<std::vector<float>>();
  ASSERT_EQ(want_logits.size(), result->first_logits.size());
  float max_abs = 0.0f, max_diff = 0.0f;
  for (size_t i = 0; i < want_logits.size(); ++i) {
    max_abs = std::max(max_abs, std::fabs(want_logits[i]));
    max_diff = std::max(max_diff, std::fabs(want_logits[i] - result->first_logits[i]));
  }
  const auto type = (*model)->weights().layers[0].w_down.type;
  const bool float_model = type == kernels::DType::kF32 || type == kernels::DType::kF16;
  RecordProperty("max_rel_logit_diff", std::to_string(max_diff / max_abs));
  if (float_model) {
    EXPECT_LE(max_diff / max_abs, 1e-4) << "max abs diff " << max_diff << " of " << max_abs;
  } else {
    EXPECT_LE(max_diff / max_abs, 2e-2) << "max abs diff " << max_diff << " of " << max_abs;
  }
}

INSTANTIATE_TEST_SUITE_P(Refs, ReferenceTest, ::testing::ValuesIn(RefFiles()),
                         [](const auto& info) {
                           std::string n = info.param.substr(0, info.param.find('.'));
                           for (char& ch : n) {
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return n +
                                  (info.param.find("nobos") != std::string::npos ? "_nobos" : "");
                         });

}  // namespace
}  // namespace ll
