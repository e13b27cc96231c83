// GgufWriter: builds a GGUF (v3 by default, v2 allowed) file from metadata and tensors, to a file
// or to memory. The on-disk format is the one GgufFile (gguf_file.h) reads; every integer and
// float is written little-endian by explicit encoders, whatever the host.
//
// The writer is an encoder, not a validator: Add* record what they are given (in call order)
// and ToBytes() encodes it as-is, so fault-injection tests can build malformed files (duplicate
// keys, odd shapes, a non-power-of-two alignment). Validate() checks what a reader would reject;
// WriteToFile() calls it first. Tensor data either is owned by the writer or is produced on
// demand by a callback while writing, so a model larger than memory can be streamed out with
// only one tensor in memory at a time.
//
// Not thread-safe; one thread builds and writes a writer.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "kernels/dtype.h"
#include "model/gguf/gguf_file.h"

namespace ll::model {

// Byte positions of every field of an encoded header (absolute file offsets), so tests can patch
// precisely the field they mean to corrupt and tools can report where things went.
struct GgufLayout {
  static constexpr size_t kVersionOffset = 4;
  static constexpr size_t kTensorCountOffset = 8;
  static constexpr size_t kKvCountOffset = 16;
  struct Kv {
    std::string key;
    size_t key_offset = 0;    // u64 length, then the key bytes
    size_t type_offset = 0;   // u32 value type
    size_t value_offset = 0;  // the value (for arrays: u32 elem type, u64 count, elements)
    size_t end = 0;           // one past the value
  };
  struct Tensor {
    std::string name;
    size_t name_offset = 0;    // u64 length, then the name bytes
    size_t n_dims_offset = 0;  // u32
    size_t dims_offset = 0;    // u64 x n_dims
    size_t type_offset = 0;    // u32 ggml type
    size_t offset_offset = 0;  // u64 data offset relative to the data section
    uint64_t data_offset = 0;  // the value written there
    uint64_t data_bytes = 0;
  };
  std::vector<Kv> kvs;
  std::vector<Tensor> tensors;
  size_t infos_end = 0;    // one past the last tensor info (padding follows)
  size_t data_offset = 0;  // start of the data section (aligned)
  size_t file_size = 0;    // total bytes ToBytes() returns
};

class GgufWriter {
 public:
  // Fills `out` (exactly the tensor's byte size) with the tensor's data while the file is being
  // written. Returning an error aborts the write.
  using TensorFill = std::function<Status(std::span<uint8_t> out)>;

  static constexpr uint32_t kDefaultAlignment = 32;

  GgufWriter() = default;

  // 3 (default) or 2; both have the same layout (64-bit counts and lengths).
  void SetVersion(uint32_t version);
  // Adds `general.alignment` (u32); tensor offsets and the data section are padded to it.
  void SetAlignment(uint32_t alignment) { AddUint32("general.alignment", alignment); }

  void AddUint8(std::string_view key, uint8_t v);
  void AddInt8(std::string_view key, int8_t v);
  void AddUint16(std::string_view key, uint16_t v);
  void AddInt16(std::string_view key, int16_t v);
  void AddUint32(std::string_view key, uint32_t v);
  void AddInt32(std::string_view key, int32_t v);
  void AddFloat32(std::string_view key, float v);
  void AddBool(std::string_view key, bool v);
  void AddString(std::string_view key, std::string_view v);
  void AddUint64(std::string_view key, uint64_t v);
  void AddInt64(std::string_view key, int64_t v);
  void AddFloat64(std::string_view key, double v);

  void AddUint8Array(std::string_view key, std::span<const uint8_t> v);
  void AddInt8Array(std::string_view key, std::span<const int8_t> v);
  void AddUint16Array(std::string_view key, std::span<const uint16_t> v);
  void AddInt16Array(std::string_view key, std::span<const int16_t> v);
  void AddUint32Array(std::string_view key, std::span<const uint32_t> v);
  void AddInt32Array(std::string_view key, std::span<const int32_t> v);
  void AddFloat32Array(std::string_view key, std::span<const float> v);
  void AddBoolArray(std::string_view key, const std::vector<bool>& v);
  void AddStringArray(std::string_view key, std::span<const std::string> v);
  void AddStringArray(std::string_view key, std::span<const std::string_view> v);
  void AddUint64Array(std::string_view key, std::span<const uint64_t> v);
  void AddInt64Array(std::string_view key, std::span<const int64_t> v);
  void AddFloat64Array(std::string_view key, std::span<const double> v);

  // Re-encodes a value read by GgufFile with its original type (copying metadata between
  // files). Nested arrays are encoded too, although GgufFile rejects them.
  void AddValue(std::string_view key, const GgufValue& v);

  // A tensor whose data the writer owns. `shape` is in ggml order (shape[0] contiguous);
  // `data` should be exactly the shape's byte size for `type` (Validate checks).
  void AddTensor(std::string_view name, std::vector<int64_t> shape, kernels::DType type,
                 std::vector<uint8_t> data);
  // A tensor of `bytes` bytes whose data `fill` produces during WriteToFile/ToBytes.
  void AddTensor(std::string_view name, std::vector<int64_t> shape, kernels::DType type,
                 size_t bytes, TensorFill fill);

  size_t kv_count() const { return kvs_.size(); }
  size_t tensor_count() const { return tensors_.size(); }
  // The alignment in effect: the last `general.alignment` u32 added, else 32.
  uint32_t alignment() const;

  // What a strict reader would reject: version, duplicate keys or tensor names, a
  // `general.alignment` that is not a u32 power of two, n_dims outside 1..4, non-positive
  // dimensions, unknown types, rows not a multiple of the block size, data of the wrong size.
  Status Validate() const;

  // Positions of every header field for the current contents (no tensor data is produced).
  GgufLayout Layout() const;

  // Validates, then writes to `path` through a temporary file renamed into place, so a failed
  // write never leaves a partial file under the final name.
  Status WriteToFile(const std::string& path) const;
  // Encodes everything without validating (see the class comment). LL_CHECKs that fills succeed.
  std::vector<uint8_t> ToBytes() const;

 private:
  struct Kv {
    std::string key;
    GgufType type;
    std::vector<uint8_t> value;  // encoded value, as it follows the u32 type on disk
  };
  struct Tensor {
    std::string name;
    std::vector<int64_t> shape;
    kernels::DType type;
    size_t bytes;
    std::vector<uint8_t> data;  // owned data, or empty when `fill` is set
    TensorFill fill;
  };

  void AddKv(std::string_view key, GgufType type, std::vector<uint8_t> value);
  // Header (everything before the data section, padding included) and its field positions.
  std::vector<uint8_t> EncodeHeader(GgufLayout* layout) const;
  // Streams header, then each tensor's data with padding, to `sink`.
  Status Emit(const std::function<Status(std::span<const uint8_t>)>& sink) const;

  uint32_t version_ = 3;
  std::vector<Kv> kvs_;
  std::vector<Tensor> tensors_;
};

}  // namespace ll::model
