// MergeSymbol: one piece of a word while BPE/SPM merges run — bytes [start, start + size) of the
// word, in a doubly linked list so merging two neighbours is O(1). Shared by both tokenizers.
#pragma once

#include <cstddef>

namespace ll::model {

struct MergeSymbol {
  size_t start = 0;
  size_t size = 0;  // 0 once merged into its left neighbour
  int prev = -1;
  int next = -1;
};

}  // namespace ll::model
