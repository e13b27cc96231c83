// The placement's weight bytes of a stage must be what the runtime maps for the same segment
// (runtime::SegmentWeightBytes), for every stage, on a tied model (the head reuses the
// embedding matrix: counted once by a stage that holds both) and on untied ones.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "model/gguf/gguf_writer.h"
#include "partition/costs.h"
#include "runtime/segment_cost.h"

namespace ll::partition {
namespace {

const std::string kModels = std::string(LL_SHARED_DIR) + "/models/";

// stories260K without its output.weight: the same model with the output tied to the embedding.
std::string WriteTiedStories() {
  auto src = model::GgufFile::Open(kModels + "stories260K/stories260K.gguf");
  EXPECT_TRUE(src.ok()) << src.message();
  if (!src.ok()) return "";
  model::GgufWriter w;
  for (const auto& [key, value] : (*src)->metadata()) w.AddValue(key, value);
  for (const model::GgufTensorInfo& t : (*src)->tensors()) {
    if (t.name == "output.weight") continue;
    w.AddTensor(t.name, t.shape, t.type,
                std::vector<uint8_t>(t.data, t.data + static_cast<ptrdiff_t>(t.bytes)));
  }
  const std::string path =
      ::testing::TempDir() + "/ll-tied-stories-" + std::to_string(::getpid()) + ".gguf";
  const Status s = w.WriteToFile(path);
  EXPECT_TRUE(s.ok()) << s.message();
  return path;
}

// For every stage [first, last) of placement units: the costs' weight bytes equal the
// runtime's for the segment the stage runs. Returns the number of stages compared.
int ExpectStagesAgree(const model::Model& m, const ModelCosts& costs) {
  const int n = static_cast<int>(costs.units.size());
  int compared = 0;
  for (int first = 0; first < n; ++first) {
    for (int last = first + 1; last <= n; ++last) {
      runtime::SegmentSpec spec;
      spec.embed = costs.units[first].embed;
      spec.head = costs.units[last - 1].head;
      // The half-block units the stage covers (none for the embedding or head alone).
      spec.unit_begin = spec.embed ? 0 : costs.units[first].unit_begin;
      spec.unit_end = spec.head ? costs.n_model_units : costs.units[last - 1].unit_end;
      if (spec.embed && last == 1) spec.unit_end = 0;
      if (spec.head && first == n - 1) spec.unit_begin = costs.n_model_units;
      EXPECT_TRUE(spec.Validate(m.config()).ok()) << spec.ToString();
      EXPECT_EQ(costs.StageWeightBytes(first, last),
                static_cast<double>(runtime::SegmentWeightBytes(m, spec)))
          << spec.ToString();
      ++compared;
    }
  }
  return compared;
}

TEST(CostsTest, StageWeightBytesAreTheRuntimesOnTiedAndUntiedModels) {
  const std::string tied_path = WriteTiedStories();
  auto tied = model::Model::Load(tied_path);
  std::filesystem::remove(tied_path);
  ASSERT_TRUE(tied.ok()) << tied.message();
  const model::ModelWeights& tw = (*tied)->weights();
  ASSERT_EQ(tw.output.data, tw.token_embd.data);  // tied

  for (const char* untied_model :
       {"stories260K/stories260K.gguf", "synthetic/bloom-64x3-random.gguf",
        "synthetic/qwen2-64x2-random.gguf"}) {
    auto untied = model::Model::Load(kModels + untied_model);
    ASSERT_TRUE(untied.ok()) << untied.message();
    ASSERT_NE((*untied)->weights().output.data, (*untied)->weights().token_embd.data);
    auto costs = ComputeCosts(**untied, CostOptions{});
    ASSERT_TRUE(costs.ok()) << costs.message();
    EXPECT_EQ(costs->tied_bytes, 0) << untied_model;
    EXPECT_GE(ExpectStagesAgree(**untied, *costs), 10) << untied_model;
  }

  auto costs = ComputeCosts(**tied, CostOptions{});
  ASSERT_TRUE(costs.ok()) << costs.message();
  EXPECT_EQ(costs->tied_bytes, static_cast<double>(tw.token_embd.bytes));
  // 1 + 10 + 1 placement units: every one of their 78 contiguous stages.
  EXPECT_EQ(ExpectStagesAgree(**tied, *costs), 78);
  // The whole model on one device holds the embedding matrix once; the head alone holds it too.
  const int n = static_cast<int>(costs->units.size());
  EXPECT_EQ(costs->StageWeightBytes(0, n),
            static_cast<double>(runtime::SegmentWeightBytes(
                **tied, runtime::SegmentSpec::Whole((*tied)->config()))));
  EXPECT_GE(costs->StageWeightBytes(n - 1, n), static_cast<double>(tw.token_embd.bytes));
  EXPECT_DOUBLE_EQ(costs->total_memory_bytes(), costs->StageMemoryBytes(0, n));
  double units = costs->work_bytes_per_stage;
  for (const UnitCost& u : costs->units) units += u.memory_bytes();
  EXPECT_DOUBLE_EQ(costs->total_memory_bytes(), units - tw.token_embd.bytes);
}

}  // namespace
}  // namespace ll::partition
