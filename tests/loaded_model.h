// What the cluster tests share: the model and tokenizer the coordinator runs, loaded from a
// GGUF path (failures are test failures), and the worker binary and shared models' folder.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "model/model.h"
#include "model/tokenizer/tokenizer.h"

namespace ll::testing {

inline const std::string kBin = std::string(LL_BINARY_DIR) + "/src/cli/lingualinked";
inline const std::string kModels = std::string(LL_SHARED_DIR) + "/models/";

struct Loaded {
  std::unique_ptr<model::Model> model;
  std::unique_ptr<model::Tokenizer> tokenizer;
};

inline Loaded LoadPath(const std::string& path) {
  Loaded l;
  auto m = model::Model::Load(path);
  EXPECT_TRUE(m.ok()) << m.message();
  if (!m.ok()) return l;
  l.model = std::move(*m);
  auto t = model::Tokenizer::FromGguf(l.model->file());
  EXPECT_TRUE(t.ok()) << t.message();
  if (t.ok()) l.tokenizer = std::move(*t);
  return l;
}

// A model of shared/models by its path there.
inline Loaded Load(const std::string& rel) { return LoadPath(kModels + rel); }

}  // namespace ll::testing
