#include "model/gguf/gguf_writer.h"

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <utility>

#include "base/check.h"

namespace ll::model {
namespace {

// Little-endian encoders: bytes are produced by shifts, so the output does not depend on the
// host's byte order or struct layout.
class Encoder {
 public:
  explicit Encoder(std::vector<uint8_t>* out) : out_(out) {}
  size_t pos() const { return out_->size(); }
  void U8(uint8_t v) { out_->push_back(v); }
  void U16(uint16_t v) { Le(v, 2); }
  void U32(uint32_t v) { Le(v, 4); }
  void U64(uint64_t v) { Le(v, 8); }
  void F32(float v) { U32(std::bit_cast<uint32_t>(v)); }
  void F64(double v) { U64(std::bit_cast<uint64_t>(v)); }
  void Str(std::string_view s) {  // gguf string: u64 length, bytes, no terminator
    U64(s.size());
    out_->insert(out_->end(), s.begin(), s.end());
  }
  void Zeros(size_t n) { out_->insert(out_->end(), n, 0); }

 private:
  void Le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_->push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  std::vector<uint8_t>* out_;
};

uint64_t AlignUp(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

template <typename T, typename Put>
std::vector<uint8_t> EncodeArray(GgufType elem, std::span<const T> v, Put put) {
  std::vector<uint8_t> bytes;
  Encoder e(&bytes);
  e.U32(static_cast<uint32_t>(elem));
  e.U64(v.size());
  for (const T& x : v) put(e, x);
  return bytes;
}

// Encodes one scalar of type `t` from a GgufValue's widened payload.
void PutScalar(Encoder& e, GgufType t, const GgufValue& v) {
  switch (t) {
    case GgufType::kUint8:
      e.U8(static_cast<uint8_t>(v.u));
      break;
    case GgufType::kInt8:
      e.U8(static_cast<uint8_t>(v.i));
      break;
    case GgufType::kUint16:
      e.U16(static_cast<uint16_t>(v.u));
      break;
    case GgufType::kInt16:
      e.U16(static_cast<uint16_t>(v.i));
      break;
    case GgufType::kUint32:
      e.U32(static_cast<uint32_t>(v.u));
      break;
    case GgufType::kInt32:
      e.U32(static_cast<uint32_t>(v.i));
      break;
    case GgufType::kFloat32:
      e.F32(static_cast<float>(v.f));
      break;
    case GgufType::kBool:
      e.U8(v.u != 0 ? 1 : 0);
      break;
    case GgufType::kString:
      e.Str(v.s);
      break;
    case GgufType::kUint64:
      e.U64(v.u);
      break;
    case GgufType::kInt64:
      e.U64(static_cast<uint64_t>(v.i));
      break;
    case GgufType::kFloat64:
      e.F64(v.f);
      break;
    case GgufType::kArray:
      LL_CHECK_MSG(false, "arrays are not scalars");
      break;
  }
}

// Encodes an array value (elem type, count, elements); recursive for nested arrays.
void PutArray(Encoder& e, const GgufValue& v) {
  e.U32(static_cast<uint32_t>(v.elem_type));
  if (v.elem_type == GgufType::kString) {
    e.U64(v.strings.size());
    for (std::string_view s : v.strings) e.Str(s);
    return;
  }
  e.U64(v.items.size());
  for (const GgufValue& item : v.items) {
    if (v.elem_type == GgufType::kArray) {
      PutArray(e, item);
    } else {
      PutScalar(e, v.elem_type, item);
    }
  }
}

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f != nullptr) std::fclose(f);
  }
};

}  // namespace

void GgufWriter::SetVersion(uint32_t version) {
  LL_CHECK_MSG(version == 2 || version == 3, "GGUF writer supports versions 2 and 3");
  version_ = version;
}

void GgufWriter::AddKv(std::string_view key, GgufType type, std::vector<uint8_t> value) {
  kvs_.push_back(Kv{std::string(key), type, std::move(value)});
}

#define LL_GGUF_SCALAR(Name, CType, Tag, Method, Cast)                                   \
  void GgufWriter::Add##Name(std::string_view key, CType v) {                            \
    std::vector<uint8_t> bytes;                                                          \
    Encoder(&bytes).Method(static_cast<Cast>(v));                                        \
    AddKv(key, GgufType::Tag, std::move(bytes));                                         \
  }                                                                                      \
  void GgufWriter::Add##Name##Array(std::string_view key, std::span<const CType> v) {    \
    AddKv(key, GgufType::kArray, EncodeArray(GgufType::Tag, v, [](Encoder& e, CType x) { \
            e.Method(static_cast<Cast>(x));                                              \
          }));                                                                           \
  }

// The twelve numeric types differ only in tag, width and signedness; a macro keeps the 24
// methods from drifting apart.
LL_GGUF_SCALAR(Uint8, uint8_t, kUint8, U8, uint8_t)
LL_GGUF_SCALAR(Int8, int8_t, kInt8, U8, uint8_t)
LL_GGUF_SCALAR(Uint16, uint16_t, kUint16, U16, uint16_t)
LL_GGUF_SCALAR(Int16, int16_t, kInt16, U16, uint16_t)
LL_GGUF_SCALAR(Uint32, uint32_t, kUint32, U32, uint32_t)
LL_GGUF_SCALAR(Int32, int32_t, kInt32, U32, uint32_t)
LL_GGUF_SCALAR(Float32, float, kFloat32, F32, float)
LL_GGUF_SCALAR(Uint64, uint64_t, kUint64, U64, uint64_t)
LL_GGUF_SCALAR(Int64, int64_t, kInt64, U64, uint64_t)
LL_GGUF_SCALAR(Float64, double, kFloat64, F64, double)
#undef LL_GGUF_SCALAR

void GgufWriter::AddBool(std::string_view key, bool v) {
  AddKv(key, GgufType::kBool, {static_cast<uint8_t>(v ? 1 : 0)});
}

void GgufWriter::AddString(std::string_view key, std::string_view v) {
  std::vector<uint8_t> bytes;
  Encoder(&bytes).Str(v);
  AddKv(key, GgufType::kString, std::move(bytes));
}

void GgufWriter::AddBoolArray(std::string_view key, const std::vector<bool>& v) {
  std::vector<uint8_t> bytes;
  Encoder e(&bytes);
  e.U32(static_cast<uint32_t>(GgufType::kBool));
  e.U64(v.size());
  for (bool b : v) e.U8(b ? 1 : 0);
  AddKv(key, GgufType::kArray, std::move(bytes));
}

void GgufWriter::AddStringArray(std::string_view key, std::span<const std::string> v) {
  AddKv(key, GgufType::kArray,
        EncodeArray(GgufType::kString, v, [](Encoder& e, const std::string& s) { e.Str(s); }));
}

void GgufWriter::AddStringArray(std::string_view key, std::span<const std::string_view> v) {
  AddKv(key, GgufType::kArray,
        EncodeArray(GgufType::kString, v, [](Encoder& e, std::string_view s) { e.Str(s); }));
}

void GgufWriter::AddValue(std::string_view key, const GgufValue& v) {
  std::vector<uint8_t> bytes;
  Encoder e(&bytes);
  if (v.type == GgufType::kArray) {
    PutArray(e, v);
  } else {
    PutScalar(e, v.type, v);
  }
  AddKv(key, v.type, std::move(bytes));
}

void GgufWriter::AddTensor(std::string_view name, std::vector<int64_t> shape, kernels::DType type,
                           std::vector<uint8_t> data) {
  const size_t bytes = data.size();
  tensors_.push_back(Tensor{std::string(name), std::move(shape), type, bytes, std::move(data), {}});
}

void GgufWriter::AddTensor(std::string_view name, std::vector<int64_t> shape, kernels::DType type,
                           size_t bytes, TensorFill fill) {
  LL_CHECK(fill != nullptr);
  tensors_.push_back(Tensor{std::string(name), std::move(shape), type, bytes, {}, std::move(fill)});
}

uint32_t GgufWriter::alignment() const {
  uint32_t a = kDefaultAlignment;
  for (const Kv& kv : kvs_) {
    if (kv.key == "general.alignment" && kv.type == GgufType::kUint32 && kv.value.size() == 4) {
      a = static_cast<uint32_t>(kv.value[0]) | static_cast<uint32_t>(kv.value[1]) << 8 |
          static_cast<uint32_t>(kv.value[2]) << 16 | static_cast<uint32_t>(kv.value[3]) << 24;
    }
  }
  return a;
}

Status GgufWriter::Validate() const {
  if (version_ != 2 && version_ != 3) {
    return Status::Error("GGUF version " + std::to_string(version_) + " is not 2 or 3");
  }
  std::set<std::string_view> keys;
  for (const Kv& kv : kvs_) {
    if (!keys.insert(kv.key).second) return Status::Error("duplicate key '" + kv.key + "'");
    if (kv.key == "general.alignment" && kv.type != GgufType::kUint32) {
      return Status::Error("general.alignment must be a u32");
    }
  }
  const uint32_t align = alignment();
  if (align == 0 || (align & (align - 1)) != 0) {
    return Status::Error("general.alignment " + std::to_string(align) + " is not a power of two");
  }
  std::set<std::string_view> names;
  for (const Tensor& t : tensors_) {
    const std::string what = "tensor '" + t.name + "'";
    if (!names.insert(t.name).second) return Status::Error("duplicate " + what);
    // ggml keeps names in a 64-byte buffer with a terminator; llama.cpp rejects longer ones.
    if (t.name.empty() || t.name.size() > 63) {
      return Status::Error(what + ": name must be 1..63 bytes");
    }
    if (t.shape.empty() || t.shape.size() > 4) {
      return Status::Error(what + ": " + std::to_string(t.shape.size()) + " dims, need 1..4");
    }
    auto info = kernels::GetDTypeInfo(static_cast<uint32_t>(t.type));
    if (!info) return Status::Error(what + ": unknown type " + std::to_string(int(t.type)));
    uint64_t elems = 1;
    for (int64_t d : t.shape) {
      if (d <= 0) return Status::Error(what + ": dimension " + std::to_string(d) + " is not > 0");
      if (elems > static_cast<uint64_t>(INT64_MAX) / static_cast<uint64_t>(d)) {
        return Status::Error(what + ": element count overflows");
      }
      elems *= static_cast<uint64_t>(d);
    }
    if (t.shape[0] % info->block_elems != 0) {
      return Status::Error(what + ": row of " + std::to_string(t.shape[0]) + " elements is not a " +
                           "multiple of the " + std::string(info->name) + " block size " +
                           std::to_string(info->block_elems));
    }
    const uint64_t expect = elems / static_cast<uint64_t>(info->block_elems) * info->block_bytes;
    if (t.bytes != expect) {
      return Status::Error(what + ": " + std::to_string(t.bytes) + " data bytes, shape needs " +
                           std::to_string(expect));
    }
  }
  return Status::Ok();
}

std::vector<uint8_t> GgufWriter::EncodeHeader(GgufLayout* layout) const {
  const uint64_t align = alignment();
  LL_CHECK_MSG(align > 0, "general.alignment 0 cannot be encoded");
  std::vector<uint8_t> out;
  Encoder e(&out);
  for (char c : std::string_view("GGUF")) e.U8(static_cast<uint8_t>(c));  // magic
  e.U32(version_);
  e.U64(tensors_.size());
  e.U64(kvs_.size());
  for (const Kv& kv : kvs_) {
    GgufLayout::Kv l;
    l.key = kv.key;
    l.key_offset = e.pos();
    e.Str(kv.key);
    l.type_offset = e.pos();
    e.U32(static_cast<uint32_t>(kv.type));
    l.value_offset = e.pos();
    out.insert(out.end(), kv.value.begin(), kv.value.end());
    l.end = e.pos();
    layout->kvs.push_back(std::move(l));
  }
  uint64_t data_pos = 0;
  for (const Tensor& t : tensors_) {
    GgufLayout::Tensor l;
    l.name = t.name;
    l.name_offset = e.pos();
    e.Str(t.name);
    l.n_dims_offset = e.pos();
    e.U32(static_cast<uint32_t>(t.shape.size()));
    l.dims_offset = e.pos();
    for (int64_t d : t.shape) e.U64(static_cast<uint64_t>(d));
    l.type_offset = e.pos();
    e.U32(static_cast<uint32_t>(t.type));
    l.offset_offset = e.pos();
    e.U64(data_pos);
    l.data_offset = data_pos;
    l.data_bytes = t.bytes;
    data_pos = AlignUp(data_pos + t.bytes, align);
    layout->tensors.push_back(std::move(l));
  }
  layout->infos_end = e.pos();
  e.Zeros(AlignUp(e.pos(), align) - e.pos());
  layout->data_offset = e.pos();
  layout->file_size = layout->data_offset + data_pos;
  return out;
}

GgufLayout GgufWriter::Layout() const {
  GgufLayout layout;
  EncodeHeader(&layout);
  return layout;
}

Status GgufWriter::Emit(const std::function<Status(std::span<const uint8_t>)>& sink) const {
  GgufLayout layout;
  LL_RETURN_IF_ERROR(sink(EncodeHeader(&layout)));
  const uint64_t align = alignment();
  std::vector<uint8_t> scratch;  // reused for every filled tensor: one tensor in memory at a time
  const std::vector<uint8_t> zeros(align, 0);
  for (const Tensor& t : tensors_) {
    std::span<const uint8_t> data = t.data;
    if (t.fill) {
      scratch.assign(t.bytes, 0);
      LL_RETURN_IF_ERROR(t.fill(scratch).WithContext("tensor '" + t.name + "'"));
      data = scratch;
    }
    LL_CHECK(data.size() == t.bytes);
    LL_RETURN_IF_ERROR(sink(data));
    // Pad after every tensor (the last included), as ggml does, so the file size is aligned.
    LL_RETURN_IF_ERROR(sink(std::span(zeros).first(AlignUp(t.bytes, align) - t.bytes)));
  }
  return Status::Ok();
}

std::vector<uint8_t> GgufWriter::ToBytes() const {
  std::vector<uint8_t> out;
  Status s = Emit([&out](std::span<const uint8_t> b) {
    out.insert(out.end(), b.begin(), b.end());
    return Status::Ok();
  });
  LL_CHECK_MSG(s.ok(), s.message().c_str());
  return out;
}

Status GgufWriter::WriteToFile(const std::string& path) const {
  LL_RETURN_IF_ERROR(Validate().WithContext("writing " + path));
  const std::string tmp = path + ".tmp";
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(tmp.c_str(), "wb"));
  if (!f) return Status::Error("cannot create " + tmp + ": " + std::strerror(errno));
  Status s = Emit([&](std::span<const uint8_t> b) {
    if (!b.empty() && std::fwrite(b.data(), 1, b.size(), f.get()) != b.size()) {
      return Status::Error("writing " + tmp + ": " + std::strerror(errno));
    }
    return Status::Ok();
  });
  if (s.ok() && std::fclose(f.release()) != 0) {
    s = Status::Error("closing " + tmp + ": " + std::strerror(errno));
  }
  if (s.ok() && std::rename(tmp.c_str(), path.c_str()) != 0) {
    s = Status::Error("renaming " + tmp + " to " + path + ": " + std::strerror(errno));
  }
  if (!s.ok()) {
    f.reset();
    std::remove(tmp.c_str());
  }
  return s;
}

}  // namespace ll::model
