#include "kernels/dtype.h"

#include <cctype>

#include "base/check.h"

namespace ll::kernels {
namespace {

struct Entry {
  uint32_t id;
  DTypeInfo info;
};

// Block geometry of every ggml type id (sizes from the GGUF format's block layouts).
constexpr Entry kTable[] = {
    {0, {"f32", 1, 4}},         {1, {"f16", 1, 2}},         {2, {"q4_0", 32, 18}},
    {3, {"q4_1", 32, 20}},      {6, {"q5_0", 32, 22}},      {7, {"q5_1", 32, 24}},
    {8, {"q8_0", 32, 34}},      {9, {"q8_1", 32, 36}},      {10, {"q2_K", 256, 84}},
    {11, {"q3_K", 256, 110}},   {12, {"q4_K", 256, 144}},   {13, {"q5_K", 256, 176}},
    {14, {"q6_K", 256, 210}},   {15, {"q8_K", 256, 292}},   {16, {"iq2_xxs", 256, 66}},
    {17, {"iq2_xs", 256, 74}},  {18, {"iq3_xxs", 256, 98}}, {19, {"iq1_s", 256, 50}},
    {20, {"iq4_nl", 32, 18}},   {21, {"iq3_s", 256, 110}},  {22, {"iq2_s", 256, 82}},
    {23, {"iq4_xs", 256, 136}}, {24, {"i8", 1, 1}},         {25, {"i16", 1, 2}},
    {26, {"i32", 1, 4}},        {27, {"i64", 1, 8}},        {28, {"f64", 1, 8}},
    {29, {"iq1_m", 256, 56}},   {30, {"bf16", 1, 2}},       {34, {"tq1_0", 256, 54}},
    {35, {"tq2_0", 256, 66}},
};

}  // namespace

std::optional<DTypeInfo> GetDTypeInfo(uint32_t type_id) {
  for (const Entry& e : kTable) {
    if (e.id == type_id) return e.info;
  }
  return std::nullopt;
}

std::string_view DTypeName(DType t) {
  auto info = GetDTypeInfo(static_cast<uint32_t>(t));
  return info ? info->name : std::string_view("unknown");
}

std::optional<DType> DTypeFromName(std::string_view name) {
  auto same = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(a[i])) !=
          std::tolower(static_cast<unsigned char>(b[i]))) {
        return false;
      }
    }
    return true;
  };
  for (uint32_t id = 0; id < 64; ++id) {
    auto info = GetDTypeInfo(id);
    if (info && same(info->name, name)) return static_cast<DType>(id);
  }
  return std::nullopt;
}

size_t RowBytes(DType t, int64_t n) {
  auto info = GetDTypeInfo(static_cast<uint32_t>(t));
  LL_CHECK(info.has_value());
  LL_CHECK(n % info->block_elems == 0);
  return static_cast<size_t>(n / info->block_elems) * info->block_bytes;
}

bool IsSupported(DType t) {
  switch (t) {
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16:
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K:
      return true;
    default:
      return false;
  }
}

}  // namespace ll::kernels
