// A real model's costs per unit, split by weight type.
#include "partition/costs.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "model/model.h"
#include "partition/cluster.h"
#include "partition/device_profile.h"
#include "partition/dp_solver.h"
#include "partition/milp_solver.h"
#include "partition/plan.h"
#include "partition/test_instances.h"

namespace ll::partition {
namespace {

using namespace testing;

// A real model's costs split each unit's FLOPs by the types of its matrices: the blocks' and
// the head's own types, every FLOP of the old total accounted for once.
TEST(CostsTest, UnitsSplitTheirFlopsByWeightType) {
  auto model = model::Model::Load(std::string(LL_SHARED_DIR) +
                                  "/models/stories260K/stories260K-pad192-Q4_0.gguf");
  ASSERT_TRUE(model.ok()) << model.message();
  auto costs = ComputeCosts(**model, CostOptions{});
  ASSERT_TRUE(costs.ok()) << costs.message();
  const model::ModelWeights& w = (*model)->weights();
  const UnitCost& head = costs->units.back();
  ASSERT_TRUE(head.head);
  ASSERT_EQ(head.work.matrix.size(), 1u);
  const model::WeightView& out = w.output.present() ? w.output : w.token_embd;
  EXPECT_EQ(head.work.matrix[0].type, out.type);
  EXPECT_DOUBLE_EQ(head.work.matrix[0].flops, 2.0 * out.n_in * out.n_out);
  const UnitCost& ffn = costs->units[2];  // layer 0's feed-forward half
  ASSERT_EQ(ffn.unit_begin, 1);
  double mats = 0;
  for (const TypeFlops& m : ffn.work.matrix) mats += m.flops;
  const model::LayerWeights& L = w.layers[0];
  EXPECT_DOUBLE_EQ(mats, 2.0 * L.w_gate.n_in * L.w_gate.n_out + 2.0 * L.w_up.n_in * L.w_up.n_out +
                             2.0 * L.w_down.n_in * L.w_down.n_out);
  EXPECT_EQ(ffn.work.matrix[0].type, L.w_gate.type);
  // The attention half keeps its attention over the context apart: 4 * n_head * head_dim per
  // position, at n_ctx / 2 positions unless told otherwise.
  const model::ModelConfig& c = (*model)->config();
  const CostOptions defaults;
  EXPECT_EQ(costs->attention_context, defaults.n_ctx / 2);
  EXPECT_DOUBLE_EQ(costs->units[1].work.attention,
                   4.0 * c.n_head * c.head_dim * static_cast<double>(defaults.n_ctx / 2));
  EXPECT_EQ(ffn.work.attention, 0);
  EXPECT_GT(costs->units[1].work.matrix.size(), 0u);
  // The same costs at another context scale only that part.
  const ModelCosts short_context = costs->AtAttentionContext(16);
  EXPECT_EQ(short_context.attention_context, 16);
  EXPECT_DOUBLE_EQ(short_context.units[1].work.attention, 4.0 * c.n_head * c.head_dim * 16);
  EXPECT_DOUBLE_EQ(short_context.units[2].work.total(), ffn.work.total());
  CostOptions at16;
  at16.attention_context = 16;
  auto direct = ComputeCosts(**model, at16);
  ASSERT_TRUE(direct.ok()) << direct.message();
  EXPECT_DOUBLE_EQ(direct->units[1].work.total(), short_context.units[1].work.total());
}

}  // namespace
}  // namespace ll::partition
