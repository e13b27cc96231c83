#include "model/gguf/gguf_file.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "base/check.h"
#include "base/little_endian.h"
#include "model/gguf/printable.h"

namespace ll::model {
namespace {

using kernels::DType;

constexpr uint64_t kMaxDims = 4;
constexpr uint64_t kMaxStringBytes = uint64_t{1} << 30;  // no sane key or token is 1 GiB

size_t ScalarSize(GgufType t) {
  switch (t) {
    case GgufType::kUint8:
    case GgufType::kInt8:
    case GgufType::kBool:
      return 1;
    case GgufType::kUint16:
    case GgufType::kInt16:
      return 2;
    case GgufType::kUint32:
    case GgufType::kInt32:
    case GgufType::kFloat32:
      return 4;
    case GgufType::kUint64:
    case GgufType::kInt64:
    case GgufType::kFloat64:
      return 8;
    case GgufType::kString:
      return 8;  // the smallest string is its u64 length
    case GgufType::kArray:
      return 12;  // u32 element type + u64 count
  }
  return 0;
}

bool IsKnownType(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::kFloat64); }

// Reads little-endian fields from a byte span, never past its end. Every failure names the
// field and the offset where it starts.
class Cursor {
 public:
  Cursor(std::span<const uint8_t> bytes, const std::string& name) : bytes_(bytes), name_(name) {}

  uint64_t offset() const { return pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }

  Status Error(const std::string& field, uint64_t at, const std::string& problem) const {
    return Status::Error(name_ + ": " + field + " at offset " + std::to_string(at) + ": " +
                         problem);
  }

  Status Need(uint64_t n, const std::string& field) const {
    if (n > remaining()) return Truncated(n, field);
    return Status::Ok();
  }

  template <LittleEndianScalar T>
  Result<T> Read(const std::string& field) {
    if (const std::optional<T> v = ReadLittleEndian<T>(bytes_, pos_)) return *v;
    return Truncated(sizeof(T), field);
  }

  Result<std::string_view> ReadString(const std::string& field) {
    const uint64_t at = pos_;
    LL_ASSIGN_OR_RETURN(uint64_t len, Read<uint64_t>(field + " length"));
    if (len > kMaxStringBytes || len > remaining()) {
      return Error(field, at,
                   "string length " + std::to_string(len) + " exceeds the " +
                       std::to_string(remaining()) + " bytes left in the file");
    }
    std::string_view s(reinterpret_cast<const char*>(bytes_.data() + pos_), len);
    pos_ += len;
    return s;
  }

 private:
  Status Truncated(uint64_t n, const std::string& field) const {
    return Error(field, pos_,
                 "truncated file (needs " + std::to_string(n) + " bytes, " +
                     std::to_string(remaining()) + " left)");
  }

  std::span<const uint8_t> bytes_;
  const std::string& name_;
  size_t pos_ = 0;
};

Result<GgufValue> ReadValue(Cursor& c, GgufType type, const std::string& field, bool in_array);

Result<GgufValue> ReadScalar(Cursor& c, GgufType type, const std::string& field) {
  GgufValue v;
  v.type = type;
  switch (type) {
    case GgufType::kUint8: {
      LL_ASSIGN_OR_RETURN(v.u, c.Read<uint8_t>(field));
      break;
    }
    case GgufType::kInt8: {
      LL_ASSIGN_OR_RETURN(v.i, c.Read<int8_t>(field));
      break;
    }
    case GgufType::kUint16: {
      LL_ASSIGN_OR_RETURN(v.u, c.Read<uint16_t>(field));
      break;
    }
    case GgufType::kInt16: {
      LL_ASSIGN_OR_RETURN(v.i, c.Read<int16_t>(field));
      break;
    }
    case GgufType::kUint32: {
      LL_ASSIGN_OR_RETURN(v.u, c.Read<uint32_t>(field));
      break;
    }
    case GgufType::kInt32: {
      LL_ASSIGN_OR_RETURN(v.i, c.Read<int32_t>(field));
      break;
    }
    case GgufType::kUint64: {
      LL_ASSIGN_OR_RETURN(v.u, c.Read<uint64_t>(field));
      break;
    }
    case GgufType::kInt64: {
      LL_ASSIGN_OR_RETURN(v.i, c.Read<int64_t>(field));
      break;
    }
    case GgufType::kFloat32: {
      LL_ASSIGN_OR_RETURN(v.f, c.Read<float>(field));
      break;
    }
    case GgufType::kFloat64: {
      LL_ASSIGN_OR_RETURN(v.f, c.Read<double>(field));
      break;
    }
    case GgufType::kBool: {
      const uint64_t at = c.offset();
      LL_ASSIGN_OR_RETURN(uint8_t b, c.Read<uint8_t>(field));
      if (b > 1) return c.Error(field, at, "bool value " + std::to_string(b) + " is not 0 or 1");
      v.u = b;
      break;
    }
    case GgufType::kString: {
      LL_ASSIGN_OR_RETURN(v.s, c.ReadString(field));
      break;
    }
    case GgufType::kArray:
      LL_CHECK(false);
  }
  return v;
}

Result<GgufValue> ReadArray(Cursor& c, const std::string& field) {
  GgufValue v;
  v.type = GgufType::kArray;
  const uint64_t type_at = c.offset();
  LL_ASSIGN_OR_RETURN(uint32_t elem, c.Read<uint32_t>(field + " element type"));
  if (!IsKnownType(elem)) {
    return c.Error(field + " element type", type_at, "unknown value type " + std::to_string(elem));
  }
  v.elem_type = static_cast<GgufType>(elem);
  if (v.elem_type == GgufType::kArray) {
    return c.Error(field + " element type", type_at, "nested arrays are not supported");
  }
  const uint64_t count_at = c.offset();
  LL_ASSIGN_OR_RETURN(uint64_t count, c.Read<uint64_t>(field + " count"));
  // Every element takes at least ScalarSize bytes, so a count beyond what is left is a lie.
  if (count > c.remaining() / ScalarSize(v.elem_type)) {
    return c.Error(field + " count", count_at,
                   "array of " + std::to_string(count) + " " +
                       std::string(GgufTypeName(v.elem_type)) + " values does not fit in the " +
                       std::to_string(c.remaining()) + " bytes left");
  }
  if (v.elem_type == GgufType::kString) {
    v.strings.reserve(count);
    for (uint64_t k = 0; k < count; ++k) {
      LL_ASSIGN_OR_RETURN(std::string_view s, c.ReadString(field + "[" + std::to_string(k) + "]"));
      v.strings.push_back(s);
    }
  } else {
    v.items.reserve(count);
    for (uint64_t k = 0; k < count; ++k) {
      LL_ASSIGN_OR_RETURN(GgufValue item, ReadScalar(c, v.elem_type, field));
      v.items.push_back(std::move(item));
    }
  }
  return v;
}

Result<GgufValue> ReadValue(Cursor& c, GgufType type, const std::string& field, bool) {
  if (type == GgufType::kArray) return ReadArray(c, field);
  return ReadScalar(c, type, field);
}

bool MulOverflows(uint64_t a, uint64_t b, uint64_t* out) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return true;
  *out = a * b;
  return false;
}

}  // namespace

std::string_view GgufTypeName(GgufType t) {
  switch (t) {
    case GgufType::kUint8:
      return "uint8";
    case GgufType::kInt8:
      return "int8";
    case GgufType::kUint16:
      return "uint16";
    case GgufType::kInt16:
      return "int16";
    case GgufType::kUint32:
      return "uint32";
    case GgufType::kInt32:
      return "int32";
    case GgufType::kFloat32:
      return "float32";
    case GgufType::kBool:
      return "bool";
    case GgufType::kString:
      return "string";
    case GgufType::kArray:
      return "array";
    case GgufType::kUint64:
      return "uint64";
    case GgufType::kInt64:
      return "int64";
    case GgufType::kFloat64:
      return "float64";
  }
  return "unknown";
}

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufType::kUint8:
    case GgufType::kInt8:
    case GgufType::kUint16:
    case GgufType::kInt16:
    case GgufType::kUint32:
    case GgufType::kInt32:
    case GgufType::kUint64:
    case GgufType::kInt64:
      return true;
    default:
      return false;
  }
}

double GgufValue::AsDouble() const {
  switch (type) {
    case GgufType::kInt8:
    case GgufType::kInt16:
    case GgufType::kInt32:
    case GgufType::kInt64:
      return static_cast<double>(i);
    case GgufType::kFloat32:
    case GgufType::kFloat64:
      return f;
    default:
      return static_cast<double>(u);
  }
}

std::string GgufValue::ToString(size_t max_items) const {
  switch (type) {
    case GgufType::kString:
      return "\"" + Printable(s.substr(0, 200)) + (s.size() > 200 ? "...\"" : "\"");
    case GgufType::kBool:
      return u ? "true" : "false";
    case GgufType::kFloat32:
    case GgufType::kFloat64: {
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%.9g", f);
      return buf;
    }
    case GgufType::kArray: {
      std::string out =
          "[" + std::string(GgufTypeName(elem_type)) + " x " + std::to_string(array_size()) + "] [";
      const size_t n = std::min(array_size(), max_items);
      for (size_t k = 0; k < n; ++k) {
        if (k) out += ", ";
        out += elem_type == GgufType::kString ? "\"" + Printable(strings[k].substr(0, 40)) + "\""
                                              : items[k].ToString();
      }
      if (array_size() > n) out += ", ...";
      return out + "]";
    }
    default:
      return is_integer() && (type == GgufType::kInt8 || type == GgufType::kInt16 ||
                              type == GgufType::kInt32 || type == GgufType::kInt64)
                 ? std::to_string(i)
                 : std::to_string(u);
  }
}

int64_t GgufTensorInfo::elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Result<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  LL_ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::Open(path));
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->mapping_ = std::make_unique<MappedFile>(std::move(mapped));
  file->bytes_ = file->mapping_->bytes();
  file->name_ = path;
  LL_RETURN_IF_ERROR(file->ParseAll());
  return file;
}

Result<std::unique_ptr<GgufFile>> GgufFile::Parse(std::span<const uint8_t> bytes,
                                                  std::string name) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->bytes_ = bytes;
  file->name_ = std::move(name);
  LL_RETURN_IF_ERROR(file->ParseAll());
  return file;
}

Status GgufFile::ParseAll() {
  Cursor c(bytes_, name_);
  LL_RETURN_IF_ERROR(c.Need(4, "magic"));
  if (std::memcmp(bytes_.data(), "GGUF", 4) != 0) {
    return c.Error("magic", 0, "not a GGUF file (the first 4 bytes are not \"GGUF\")");
  }
  c.Read<uint32_t>("magic");
  LL_ASSIGN_OR_RETURN(version_, c.Read<uint32_t>("version"));
  if (version_ != 2 && version_ != 3) {
    return c.Error(
        "version", 4,
        "unsupported GGUF version " + std::to_string(version_) + " (supported: 2 and 3)");
  }
  const uint64_t n_tensors_at = c.offset();
  LL_ASSIGN_OR_RETURN(uint64_t n_tensors, c.Read<uint64_t>("tensor count"));
  const uint64_t n_kv_at = c.offset();
  LL_ASSIGN_OR_RETURN(uint64_t n_kv, c.Read<uint64_t>("metadata count"));
  // Smallest possible entries: a tensor info is >= 8+4+8+4+8 bytes, a kv pair >= 8+4+1.
  if (n_tensors > c.remaining() / 32) {
    return c.Error("tensor count", n_tensors_at,
                   std::to_string(n_tensors) + " tensors cannot fit in a file of " +
                       std::to_string(bytes_.size()) + " bytes");
  }
  if (n_kv > c.remaining() / 13) {
    return c.Error("metadata count", n_kv_at,
                   std::to_string(n_kv) + " key/value pairs cannot fit in a file of " +
                       std::to_string(bytes_.size()) + " bytes");
  }

  kv_.reserve(n_kv);
  for (uint64_t k = 0; k < n_kv; ++k) {
    const uint64_t key_at = c.offset();
    LL_ASSIGN_OR_RETURN(std::string_view key, c.ReadString("key #" + std::to_string(k)));
    if (key.empty()) return c.Error("key #" + std::to_string(k), key_at, "empty key");
    const std::string field = "value of '" + Printable(key) + "'";
    const uint64_t type_at = c.offset();
    LL_ASSIGN_OR_RETURN(uint32_t type, c.Read<uint32_t>(field + " type"));
    if (!IsKnownType(type)) {
      return c.Error(field + " type", type_at, "unknown value type " + std::to_string(type));
    }
    LL_ASSIGN_OR_RETURN(GgufValue value,
                        ReadValue(c, static_cast<GgufType>(type), field, /*in_array=*/false));
    if (kv_index_.count(key)) {
      return c.Error("key '" + Printable(key) + "'", key_at, "duplicate key");
    }
    kv_index_.emplace(key, kv_.size());
    kv_.emplace_back(key, std::move(value));
  }

  if (const GgufValue* a = Find("general.alignment")) {
    if (a->type != GgufType::kUint32) {
      return Status::Error(name_ + ": general.alignment has type " +
                           std::string(GgufTypeName(a->type)) + ", expected uint32");
    }
    if (a->u == 0 || (a->u & (a->u - 1)) != 0) {
      return Status::Error(name_ + ": general.alignment " + std::to_string(a->u) +
                           " is not a power of two");
    }
    alignment_ = a->u;
  }

  tensors_.reserve(n_tensors);
  for (uint64_t t = 0; t < n_tensors; ++t) {
    const std::string idx = "tensor #" + std::to_string(t);
    const uint64_t name_at = c.offset();
    LL_ASSIGN_OR_RETURN(std::string_view tname, c.ReadString(idx + " name"));
    GgufTensorInfo info;
    info.name = std::string(tname);
    const std::string field = "tensor '" + Printable(info.name) + "'";
    if (tensor_index_.count(info.name)) {
      return c.Error(field + " name", name_at, "duplicate tensor name");
    }
    const uint64_t dims_at = c.offset();
    LL_ASSIGN_OR_RETURN(uint32_t n_dims, c.Read<uint32_t>(field + " dims"));
    if (n_dims == 0 || n_dims > kMaxDims) {
      return c.Error(field + " dims", dims_at,
                     "dimension count " + std::to_string(n_dims) + " is not in 1..4");
    }
    uint64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t at = c.offset();
      LL_ASSIGN_OR_RETURN(uint64_t dim, c.Read<uint64_t>(field + " shape"));
      if (dim == 0 || dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          MulOverflows(elements, dim, &elements) ||
          elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return c.Error(field + " shape", at,
                       "dimension " + std::to_string(d) + " = " + std::to_string(dim) +
                           " is zero or makes the element count overflow");
      }
      info.shape.push_back(static_cast<int64_t>(dim));
    }
    const uint64_t type_at = c.offset();
    LL_ASSIGN_OR_RETURN(uint32_t type_id, c.Read<uint32_t>(field + " type"));
    auto tinfo = kernels::GetDTypeInfo(type_id);
    if (!tinfo) {
      return c.Error(field + " type", type_at, "unknown tensor type id " + std::to_string(type_id));
    }
    info.type = static_cast<DType>(type_id);
    if (info.shape[0] % tinfo->block_elems != 0) {
      return c.Error(field + " shape", dims_at,
                     "row length " + std::to_string(info.shape[0]) + " is not a multiple of " +
                         std::string(tinfo->name) + "'s block size " +
                         std::to_string(tinfo->block_elems));
    }
    uint64_t bytes = 0;
    if (MulOverflows(elements / tinfo->block_elems, tinfo->block_bytes, &bytes)) {
      return c.Error(field + " shape", dims_at, "tensor byte size overflows");
    }
    info.bytes = bytes;
    const uint64_t off_at = c.offset();
    LL_ASSIGN_OR_RETURN(info.offset, c.Read<uint64_t>(field + " offset"));
    if (info.offset % alignment_ != 0) {
      return c.Error(field + " offset", off_at,
                     "data offset " + std::to_string(info.offset) + " is not a multiple of the " +
                         "alignment " + std::to_string(alignment_));
    }
    tensor_index_.emplace(info.name, tensors_.size());
    tensors_.push_back(std::move(info));
    tensors_.back().data = nullptr;
    (void)off_at;
  }

  // The data section starts at the next multiple of the alignment after the tensor infos.
  const uint64_t header_end = c.offset();
  data_offset_ = (header_end + alignment_ - 1) / alignment_ * alignment_;

  // Every tensor must lie inside the file, and no two may overlap.
  std::vector<size_t> order(tensors_.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return tensors_[a].offset < tensors_[b].offset; });
  uint64_t prev_end = 0;
  std::string prev_name;
  for (size_t k : order) {
    GgufTensorInfo& info = tensors_[k];
    const uint64_t file_size = bytes_.size();
    if (data_offset_ > file_size || info.offset > file_size - data_offset_ ||
        info.bytes > file_size - data_offset_ - info.offset) {
      return Status::Error(name_ + ": tensor '" + Printable(info.name) + "' data at offset " +
                           std::to_string(data_offset_ + info.offset) + ": " +
                           std::to_string(info.bytes) + " bytes extend past the end of the file (" +
                           std::to_string(file_size) + " bytes)");
    }
    if (info.offset < prev_end) {
      return Status::Error(name_ + ": tensor '" + Printable(info.name) + "' data at offset " +
                           std::to_string(data_offset_ + info.offset) + ": overlaps tensor '" +
                           Printable(prev_name) + "'");
    }
    prev_end = info.offset + info.bytes;
    prev_name = info.name;
    info.data = bytes_.data() + data_offset_ + info.offset;
  }
  return Status::Ok();
}

const GgufValue* GgufFile::Find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

namespace {
Status Missing(const std::string& file, std::string_view key) {
  return Status::Error(file + ": missing metadata key '" + Printable(key) + "'");
}
Status WrongType(const std::string& file, std::string_view key, const GgufValue& v,
                 const char* expected) {
  return Status::Error(file + ": metadata key '" + Printable(key) + "' has type " +
                       std::string(GgufTypeName(v.type)) + ", expected " + expected);
}
}  // namespace

Result<std::string> GgufFile::GetString(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(name_, key);
  if (v->type != GgufType::kString) return WrongType(name_, key, *v, "string");
  return std::string(v->s);
}

Result<uint64_t> GgufFile::GetUint(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(name_, key);
  if (!v->is_integer()) return WrongType(name_, key, *v, "an integer");
  const double d = v->AsDouble();
  if (d < 0) return Status::Error(name_ + ": metadata key '" + Printable(key) + "' is negative");
  return v->i != 0 ? static_cast<uint64_t>(v->i) : v->u;
}

Result<int64_t> GgufFile::GetInt(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(name_, key);
  if (!v->is_integer()) return WrongType(name_, key, *v, "an integer");
  if (v->type == GgufType::kUint64 && v->u > static_cast<uint64_t>(INT64_MAX)) {
    return Status::Error(name_ + ": metadata key '" + Printable(key) + "' is too large");
  }
  return v->i != 0 ? v->i : static_cast<int64_t>(v->u);
}

Result<double> GgufFile::GetFloat(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(name_, key);
  if (!v->is_integer() && !v->is_float()) return WrongType(name_, key, *v, "a number");
  return v->AsDouble();
}

Result<bool> GgufFile::GetBool(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(name_, key);
  if (v->type != GgufType::kBool) return WrongType(name_, key, *v, "bool");
  return v->u != 0;
}

Result<std::vector<std::string_view>> GgufFile::GetStringArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(name_, key);
  if (v->type != GgufType::kArray || v->elem_type != GgufType::kString) {
    return WrongType(name_, key, *v, "array of string");
  }
  return v->strings;
}

Result<std::vector<float>> GgufFile::GetFloatArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(name_, key);
  if (v->type != GgufType::kArray || v->elem_type == GgufType::kString) {
    return WrongType(name_, key, *v, "array of numbers");
  }
  std::vector<float> out;
  out.reserve(v->items.size());
  for (const GgufValue& item : v->items) out.push_back(static_cast<float>(item.AsDouble()));
  return out;
}

Result<std::vector<int64_t>> GgufFile::GetIntArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(name_, key);
  if (v->type != GgufType::kArray || v->elem_type == GgufType::kString ||
      !(v->items.empty() || v->items[0].is_integer())) {
    return WrongType(name_, key, *v, "array of integers");
  }
  std::vector<int64_t> out;
  out.reserve(v->items.size());
  for (const GgufValue& item : v->items) {
    out.push_back(item.i != 0 ? item.i : static_cast<int64_t>(item.u));
  }
  return out;
}

const GgufTensorInfo* GgufFile::FindTensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace ll::model
