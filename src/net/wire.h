// Writer and Reader: the wire protocol's field encoders and bounds-checked field decoders
// (docs/wire-protocol.md), on top of base/little_endian.h. Fields are written one by one,
// little-endian, never by copying a struct, so the format is the same on every host. A Reader
// never reads past its span; the first failure sticks and names the field, so a decoder can
// read a whole message and check once at the end.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/little_endian.h"
#include "base/status.h"

namespace ll::net {

class Writer {
 public:
  void U8(uint8_t v) { out_.push_back(v); }
  void U16(uint16_t v) { AppendLittleEndian(out_, v); }
  void U32(uint32_t v) { AppendLittleEndian(out_, v); }
  void U64(uint64_t v) { AppendLittleEndian(out_, v); }
  void I32(int32_t v) { AppendLittleEndian(out_, v); }
  void I64(int64_t v) { AppendLittleEndian(out_, v); }
  void F32(float v) { AppendLittleEndian(out_, v); }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void Bytes(std::span<const uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  // The elements only; the count, where there is one, is a field of its own.
  void F32Array(std::span<const float> v) { AppendLittleEndian(out_, v); }
  void I32Array(std::span<const int32_t> v) { AppendLittleEndian(out_, v); }

  std::vector<uint8_t>& bytes() { return out_; }

 private:
  std::vector<uint8_t> out_;
};

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in) : in_(in) {}

  uint8_t U8(const char* field) { return Scalar<uint8_t>(field); }
  uint16_t U16(const char* field) { return Scalar<uint16_t>(field); }
  uint32_t U32(const char* field) { return Scalar<uint32_t>(field); }
  uint64_t U64(const char* field) { return Scalar<uint64_t>(field); }
  int32_t I32(const char* field) { return Scalar<int32_t>(field); }
  int64_t I64(const char* field) { return Scalar<int64_t>(field); }
  float F32(const char* field) { return Scalar<float>(field); }
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
  // The field's value, or 0 once the reader has failed (here or at an earlier field).
  template <LittleEndianScalar T>
  T Scalar(const char* field) {
    if (!error_.empty()) return T{};
    if (const std::optional<T> v = ReadLittleEndian<T>(in_, pos_)) return *v;
    FailTruncated(field, sizeof(T));
    return T{};
  }
  void FailTruncated(const char* field, size_t needed);

  std::span<const uint8_t> in_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace ll::net
