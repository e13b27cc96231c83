#include "net/wire.h"

namespace ll::net {

void Writer::F32Array(std::span<const float> v) {
  const size_t start = out_.size();
  out_.resize(start + v.size() * 4);
  uint8_t* p = out_.data() + start;
  for (float f : v) {
    uint32_t b;
    std::memcpy(&b, &f, 4);
    p[0] = static_cast<uint8_t>(b);
    p[1] = static_cast<uint8_t>(b >> 8);
    p[2] = static_cast<uint8_t>(b >> 16);
    p[3] = static_cast<uint8_t>(b >> 24);
    p += 4;
  }
}

void Writer::I32Array(std::span<const int32_t> v) {
  for (int32_t x : v) I32(x);
}

uint64_t Reader::Le(int n, const char* field) {
  if (!error_.empty()) return 0;
  if (remaining() < static_cast<size_t>(n)) {
    Fail(std::string("truncated at field '") + field + "' (offset " + std::to_string(pos_) +
         ", needs " + std::to_string(n) + " bytes, " + std::to_string(remaining()) + " left)");
    return 0;
  }
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(in_[pos_ + i]) << (8 * i);
  pos_ += n;
  return v;
}

std::string Reader::Str(const char* field, uint32_t max_len) {
  const uint32_t len = U32(field);
  if (!error_.empty()) return {};
  if (len > max_len || len > remaining()) {
    Fail(std::string("field '") + field + "' has length " + std::to_string(len) + " (at most " +
         std::to_string(std::min<size_t>(max_len, remaining())) + " allowed)");
    return {};
  }
  std::string s(reinterpret_cast<const char*>(in_.data() + pos_), len);
  pos_ += len;
  return s;
}

std::vector<float> Reader::F32Array(uint64_t count, const char* field) {
  std::vector<float> v;
  if (!error_.empty()) return v;
  if (count > remaining() / 4) {
    Fail(std::string("field '") + field + "' claims " + std::to_string(count) +
         " floats but only " + std::to_string(remaining()) + " bytes are left");
    return v;
  }
  v.resize(count);
  const uint8_t* p = in_.data() + pos_;
  for (uint64_t i = 0; i < count; ++i, p += 4) {
    const uint32_t b = static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
                       static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
    std::memcpy(&v[i], &b, 4);
  }
  pos_ += count * 4;
  return v;
}

std::vector<int32_t> Reader::I32Array(uint64_t count, const char* field) {
  std::vector<int32_t> v;
  if (!error_.empty()) return v;
  if (count > remaining() / 4) {
    Fail(std::string("field '") + field + "' claims " + std::to_string(count) + " ids but only " +
         std::to_string(remaining()) + " bytes are left");
    return v;
  }
  v.reserve(count);
  for (uint64_t i = 0; i < count; ++i) v.push_back(I32(field));
  return v;
}

std::vector<uint8_t> Reader::RawBytes(uint64_t count, const char* field) {
  std::vector<uint8_t> v;
  if (!error_.empty()) return v;
  if (count > remaining()) {
    Fail(std::string("field '") + field + "' claims " + std::to_string(count) + " bytes but only " +
         std::to_string(remaining()) + " are left");
    return v;
  }
  v.assign(in_.begin() + pos_, in_.begin() + pos_ + count);
  pos_ += count;
  return v;
}

void Reader::Fail(const std::string& message) {
  if (error_.empty()) error_ = message;
}

Status Reader::Finish(const char* message_name) const {
  if (!error_.empty()) return Status::Error(std::string(message_name) + ": " + error_);
  if (remaining() != 0) {
    return Status::Error(std::string(message_name) + ": " + std::to_string(remaining()) +
                         " unexpected trailing bytes");
  }
  return Status::Ok();
}

}  // namespace ll::net
