#include "net/wire.h"

#include <algorithm>

namespace ll::net {

void Reader::FailTruncated(const char* field, size_t needed) {
  Fail(std::string("truncated at field '") + field + "' (offset " + std::to_string(pos_) +
       ", needs " + std::to_string(needed) + " bytes, " + std::to_string(remaining()) + " left)");
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
  for (uint64_t i = 0; i < count; ++i, p += 4) v[i] = LoadLittleEndian<float>(p);
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
  v.resize(count);
  const uint8_t* p = in_.data() + pos_;
  for (uint64_t i = 0; i < count; ++i, p += 4) v[i] = LoadLittleEndian<int32_t>(p);
  pos_ += count * 4;
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
