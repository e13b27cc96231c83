// Little-endian encoders and bounds-checked decoders for the wire protocol (docs/wire-protocol.md).
// Fields are written one by one with explicit shifts, never by copying a struct, so the format
// is the same on every host. A Reader never reads past its span; the first failure sticks and
// names the field, so a decoder can read a whole message and check once at the end.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace ll::net {

class Writer {
 public:
  void U8(uint8_t v) { out_.push_back(v); }
  void U16(uint16_t v) { Le(v, 2); }
  void U32(uint32_t v) { Le(v, 4); }
  void U64(uint64_t v) { Le(v, 8); }
  void I32(int32_t v) { Le(static_cast<uint32_t>(v), 4); }
  void I64(int64_t v) { Le(static_cast<uint64_t>(v), 8); }
  void F32(float v) {
    uint32_t b;
    std::memcpy(&b, &v, 4);
    U32(b);
  }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void Bytes(std::span<const uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void F32Array(std::span<const float> v);
  void I32Array(std::span<const int32_t> v);

  std::vector<uint8_t>& bytes() { return out_; }

 private:
  void Le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  std::vector<uint8_t> out_;
};

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in) : in_(in) {}

  uint8_t U8(const char* field) { return static_cast<uint8_t>(Le(1, field)); }
  uint16_t U16(const char* field) { return static_cast<uint16_t>(Le(2, field)); }
  uint32_t U32(const char* field) { return static_cast<uint32_t>(Le(4, field)); }
  uint64_t U64(const char* field) { return Le(8, field); }
  int32_t I32(const char* field) { return static_cast<int32_t>(U32(field)); }
  int64_t I64(const char* field) { return static_cast<int64_t>(U64(field)); }
  float F32(const char* field) {
    const uint32_t b = U32(field);
    float v;
    std::memcpy(&v, &b, 4);
    return v;
  }
  // Strings longer than max_len are refused (a peer cannot make us allocate gigabytes).
  std::string Str(const char* field, uint32_t max_len = 4096);
  // Arrays of `count` elements; count is checked against the bytes actually present.
  std::vector<float> F32Array(uint64_t count, const char* field);
  std::vector<int32_t> I32Array(uint64_t count, const char* field);
  std::vector<uint8_t> RawBytes(uint64_t count, const char* field);

  size_t remaining() const { return in_.size() - pos_; }
  size_t offset() const { return pos_; }
  // Fails the reader with a message (for semantic checks during decoding).
  void Fail(const std::string& message);
  // Ok if every field was present and nothing is left over.
  Status Finish(const char* message_name) const;
  bool ok() const { return error_.empty(); }

 private:
  uint64_t Le(int n, const char* field);
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace ll::net
