// GgufFile: a GGUF (v2 or v3) model file mapped read-only and fully validated on Open.
//
// Open() checks every count, length, offset, type and size against the file before use, so a
// truncated, malformed or hostile file yields a Status naming the field and its byte offset,
// never a crash or an out-of-bounds read. After a successful Open all string views and tensor
// data pointers point into the mapping and stay valid for the GgufFile's lifetime. The object is
// immutable after Open and may be read from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/mapped_file.h"
#include "base/status.h"
#include "kernels/dtype.h"

namespace ll::model {

// GGUF metadata value types (gguf_type on disk).
enum class GgufType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};
std::string_view GgufTypeName(GgufType t);

// One metadata value. Scalars are widened on read (integers to int64/uint64, floats to double);
// arrays keep their element type. Strings view the mapping.
struct GgufValue {
  GgufType type = GgufType::kUint8;
  // Scalar payloads (the one matching `type` is set).
  uint64_t u = 0;  // unsigned integers and bool
  int64_t i = 0;   // signed integers
  double f = 0;    // floats
  std::string_view s;
  // Arrays: element type and elements (strings in `strings`, numbers in `items`).
  GgufType elem_type = GgufType::kUint8;
  std::vector<std::string_view> strings;  // elem_type == kString
  std::vector<GgufValue> items;           // any other elem_type (nested arrays too)

  bool is_integer() const;
  bool is_float() const { return type == GgufType::kFloat32 || type == GgufType::kFloat64; }
  // Number of array elements (0 for scalars).
  size_t array_size() const {
    return elem_type == GgufType::kString ? strings.size() : items.size();
  }
  // Value as a double (integers, floats, bool) — callers check the type first.
  double AsDouble() const;
  // Human-readable short form for `inspect` (arrays are summarised).
  std::string ToString(size_t max_items = 8) const;
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // ggml order: shape[0] is the contiguous (innermost) dimension
  kernels::DType type = kernels::DType::kF32;
  uint64_t offset = 0;            // relative to the start of the data section
  size_t bytes = 0;               // exact size of the tensor's data
  const uint8_t* data = nullptr;  // into the mapping

  int64_t elements() const;
  int64_t rows() const { return shape.empty() ? 1 : elements() / shape[0]; }
};

class GgufFile {
 public:
  static Result<std::unique_ptr<GgufFile>> Open(const std::string& path);
  // Parses a buffer that the caller keeps alive (tests, received files).
  static Result<std::unique_ptr<GgufFile>> Parse(std::span<const uint8_t> bytes,
                                                 std::string name = "<memory>");

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  std::span<const uint8_t> bytes() const { return bytes_; }
  const std::string& path() const { return name_; }
  // MappedFile::DropPages for bytes of a file opened with Open; nothing for a parsed buffer.
  void DropPages(const void* p, size_t n) const {
    if (mapping_ != nullptr) mapping_->DropPages(p, n);
  }
  // MappedFile::WillNeed likewise.
  void WillNeed(const void* p, size_t n) const {
    if (mapping_ != nullptr) mapping_->WillNeed(p, n);
  }

  // Metadata in file order.
  const std::vector<std::pair<std::string_view, GgufValue>>& metadata() const { return kv_; }
  const GgufValue* Find(std::string_view key) const;

  // Typed getters: an error names the key and what was expected.
  Result<std::string> GetString(std::string_view key) const;
  Result<uint64_t> GetUint(std::string_view key) const;  // any non-negative integer type
  Result<int64_t> GetInt(std::string_view key) const;    // any integer type
  Result<double> GetFloat(std::string_view key) const;   // float or integer types
  Result<bool> GetBool(std::string_view key) const;
  Result<std::vector<std::string_view>> GetStringArray(std::string_view key) const;
  Result<std::vector<float>> GetFloatArray(std::string_view key) const;
  Result<std::vector<int64_t>> GetIntArray(std::string_view key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* FindTensor(std::string_view name) const;

 private:
  GgufFile() = default;
  Status ParseAll();

  std::unique_ptr<MappedFile> mapping_;  // null when parsing a caller's buffer
  std::span<const uint8_t> bytes_;
  std::string name_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string_view, GgufValue>> kv_;
  std::map<std::string_view, size_t, std::less<>> kv_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace ll::model
