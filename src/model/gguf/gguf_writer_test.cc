#include "model/gguf/gguf_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <limits>

namespace ll::model {
namespace {

using kernels::DType;
using ::testing::HasSubstr;

std::vector<uint8_t> Iota(size_t n, uint8_t start) {
  std::vector<uint8_t> v(n);
  for (size_t k = 0; k < n; ++k) v[k] = static_cast<uint8_t>(start + k);
  return v;
}

// Every scalar and array type, with edge values, so a wrong width or sign shows up.
void AddEveryType(GgufWriter& w) {
  w.AddUint8("t.u8", 250);
  w.AddInt8("t.i8", -7);
  w.AddUint16("t.u16", 65000);
  w.AddInt16("t.i16", -30000);
  w.AddUint32("t.u32", 4000000000u);
  w.AddInt32("t.i32", -2000000000);
  w.AddFloat32("t.f32", 1.5e-5f);
  w.AddBool("t.bool", true);
  w.AddString("t.str", "héllo ▁world");
  w.AddUint64("t.u64", std::numeric_limits<uint64_t>::max() - 1);
  w.AddInt64("t.i64", std::numeric_limits<int64_t>::min() + 3);
  w.AddFloat64("t.f64", -1.0 / 3.0);
  const uint8_t u8[] = {0, 1, 255};
  const int8_t i8[] = {-128, 0, 127};
  const uint16_t u16[] = {0, 65535};
  const int16_t i16[] = {-32768, 32767};
  const uint32_t u32[] = {0, 0xffffffffu, 7};
  const int32_t i32[] = {-1, 0, 2147483647};
  const float f32[] = {0.25f, -3e38f, 1e-30f};
  const uint64_t u64[] = {0, 0xffffffffffffffffull};
  const int64_t i64[] = {-5, 0x7fffffffffffffffll};
  const double f64[] = {3.141592653589793, -0.0};
  const std::string strs[] = {"", "<s>", "\xe2\x96\x81the"};
  w.AddUint8Array("a.u8", u8);
  w.AddInt8Array("a.i8", i8);
  w.AddUint16Array("a.u16", u16);
  w.AddInt16Array("a.i16", i16);
  w.AddUint32Array("a.u32", u32);
  w.AddInt32Array("a.i32", i32);
  w.AddFloat32Array("a.f32", f32);
  w.AddBoolArray("a.bool", {true, false, true});
  w.AddStringArray("a.str", strs);
  w.AddUint64Array("a.u64", u64);
  w.AddInt64Array("a.i64", i64);
  w.AddFloat64Array("a.f64", f64);
  w.AddFloat32Array("a.empty", std::span<const float>());
}

void ExpectEveryType(const GgufFile& f) {
  auto get = [&](const char* key) {
    const GgufValue* v = f.Find(key);
    EXPECT_NE(v, nullptr) << key;
    return v ? *v : GgufValue{};
  };
  EXPECT_EQ(get("t.u8").type, GgufType::kUint8);
  EXPECT_EQ(get("t.u8").u, 250u);
  EXPECT_EQ(get("t.i8").type, GgufType::kInt8);
  EXPECT_EQ(get("t.i8").i, -7);
  EXPECT_EQ(get("t.u16").u, 65000u);
  EXPECT_EQ(get("t.i16").i, -30000);
  EXPECT_EQ(get("t.u32").u, 4000000000u);
  EXPECT_EQ(get("t.i32").i, -2000000000);
  EXPECT_EQ(get("t.f32").type, GgufType::kFloat32);
  EXPECT_EQ(get("t.f32").f, static_cast<double>(1.5e-5f));
  EXPECT_EQ(get("t.bool").type, GgufType::kBool);
  EXPECT_EQ(*f.GetBool("t.bool"), true);
  EXPECT_EQ(*f.GetString("t.str"), "héllo ▁world");
  EXPECT_EQ(get("t.u64").u, std::numeric_limits<uint64_t>::max() - 1);
  EXPECT_EQ(get("t.i64").i, std::numeric_limits<int64_t>::min() + 3);
  EXPECT_EQ(get("t.f64").type, GgufType::kFloat64);
  EXPECT_EQ(get("t.f64").f, -1.0 / 3.0);

  auto items = [&](const char* key, GgufType elem) {
    GgufValue v = get(key);
    EXPECT_EQ(v.type, GgufType::kArray) << key;
    EXPECT_EQ(v.elem_type, elem) << key;
    return v.items;
  };
  auto u8 = items("a.u8", GgufType::kUint8);
  ASSERT_EQ(u8.size(), 3u);
  EXPECT_EQ(u8[2].u, 255u);
  auto i8 = items("a.i8", GgufType::kInt8);
  ASSERT_EQ(i8.size(), 3u);
  EXPECT_EQ(i8[0].i, -128);
  EXPECT_EQ(i8[2].i, 127);
  auto u16 = items("a.u16", GgufType::kUint16);
  ASSERT_EQ(u16.size(), 2u);
  EXPECT_EQ(u16[1].u, 65535u);
  auto i16 = items("a.i16", GgufType::kInt16);
  ASSERT_EQ(i16.size(), 2u);
  EXPECT_EQ(i16[0].i, -32768);
  auto u32 = items("a.u32", GgufType::kUint32);
  ASSERT_EQ(u32.size(), 3u);
  EXPECT_EQ(u32[1].u, 0xffffffffu);
  EXPECT_EQ(*f.GetIntArray("a.i32"), (std::vector<int64_t>{-1, 0, 2147483647}));
  EXPECT_EQ(*f.GetFloatArray("a.f32"), (std::vector<float>{0.25f, -3e38f, 1e-30f}));
  auto b = items("a.bool", GgufType::kBool);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].u, 1u);
  EXPECT_EQ(b[1].u, 0u);
  auto strs = *f.GetStringArray("a.str");
  ASSERT_EQ(strs.size(), 3u);
  EXPECT_EQ(strs[0], "");
  EXPECT_EQ(strs[2], "\xe2\x96\x81the");
  auto u64 = items("a.u64", GgufType::kUint64);
  ASSERT_EQ(u64.size(), 2u);
  EXPECT_EQ(u64[1].u, 0xffffffffffffffffull);
  auto i64 = items("a.i64", GgufType::kInt64);
  ASSERT_EQ(i64.size(), 2u);
  EXPECT_EQ(i64[0].i, -5);
  EXPECT_EQ(i64[1].i, 0x7fffffffffffffffll);
  auto f64 = items("a.f64", GgufType::kFloat64);
  ASSERT_EQ(f64.size(), 2u);
  EXPECT_EQ(f64[0].f, 3.141592653589793);
  EXPECT_TRUE(std::signbit(f64[1].f));
  EXPECT_EQ(get("a.empty").array_size(), 0u);
}

GgufWriter WriterWithEverything() {
  GgufWriter w;
  AddEveryType(w);
  // Sizes chosen so that data needs padding between tensors.
  w.AddTensor("f32.vec", {5}, DType::kF32, Iota(20, 1));
  w.AddTensor("q8_0.mat", {64, 3}, DType::kQ8_0, Iota(2 * 34 * 3, 7));
  w.AddTensor("f16.4d", {2, 3, 1, 2}, DType::kF16, Iota(24, 100));
  w.AddTensor("filled", {32}, DType::kQ4_0, 18, [](std::span<uint8_t> out) {
    for (size_t k = 0; k < out.size(); ++k) out[k] = static_cast<uint8_t>(0xA0 + k);
    return Status::Ok();
  });
  return w;
}

TEST(GgufWriterTest, RoundTripsEveryValueTypeAndTensor) {
  GgufWriter w = WriterWithEverything();
  ASSERT_TRUE(w.Validate().ok()) << w.Validate().message();
  const std::vector<uint8_t> bytes = w.ToBytes();
  auto file = GgufFile::Parse(bytes);
  ASSERT_TRUE(file.ok()) << file.message();
  const GgufFile& f = **file;
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.metadata().size(), w.kv_count());
  EXPECT_EQ(f.metadata()[0].first, "t.u8");  // file order is call order
  ExpectEveryType(f);

  ASSERT_EQ(f.tensors().size(), 4u);
  struct Want {
    const char* name;
    std::vector<int64_t> shape;
    DType type;
    std::vector<uint8_t> data;
  };
  std::vector<uint8_t> filled(18);
  for (size_t k = 0; k < 18; ++k) filled[k] = static_cast<uint8_t>(0xA0 + k);
  const Want want[] = {{"f32.vec", {5}, DType::kF32, Iota(20, 1)},
                       {"q8_0.mat", {64, 3}, DType::kQ8_0, Iota(204, 7)},
                       {"f16.4d", {2, 3, 1, 2}, DType::kF16, Iota(24, 100)},
                       {"filled", {32}, DType::kQ4_0, filled}};
  for (size_t k = 0; k < 4; ++k) {
    const GgufTensorInfo& t = f.tensors()[k];
    EXPECT_EQ(t.name, want[k].name);
    EXPECT_EQ(t.shape, want[k].shape);
    EXPECT_EQ(t.type, want[k].type);
    ASSERT_EQ(t.bytes, want[k].data.size());
    EXPECT_EQ(std::vector<uint8_t>(t.data, t.data + t.bytes), want[k].data) << t.name;
    EXPECT_EQ((t.data - bytes.data()) % 32, 0) << t.name;
  }
  EXPECT_EQ(bytes.size() % 32, 0u);
}

TEST(GgufWriterTest, HeaderIsLittleEndianByteForByte) {
  GgufWriter w;
  w.AddUint32("k", 0x01020304);
  const std::vector<uint8_t> b = w.ToBytes();
  const std::vector<uint8_t> want = {
      'G', 'G', 'U', 'F', 3, 0, 0, 0,       // magic, version
      0,   0,   0,   0,   0, 0, 0, 0,       // n_tensors
      1,   0,   0,   0,   0, 0, 0, 0,       // n_kv
      1,   0,   0,   0,   0, 0, 0, 0, 'k',  // key
      4,   0,   0,   0,                     // type u32
      4,   3,   2,   1,                     // value
  };
  ASSERT_GE(b.size(), want.size());
  EXPECT_EQ(std::vector<uint8_t>(b.begin(), b.begin() + want.size()), want);
  EXPECT_EQ(b.size(), 64u);  // padded to the 32-byte alignment
}

TEST(GgufWriterTest, Version2AndCustomAlignment) {
  GgufWriter w;
  w.SetVersion(2);
  w.SetAlignment(64);
  w.AddTensor("a", {3}, DType::kF32, Iota(12, 0));
  w.AddTensor("b", {3}, DType::kF32, Iota(12, 50));
  const GgufLayout layout = w.Layout();
  EXPECT_EQ(layout.data_offset % 64, 0u);
  EXPECT_EQ(layout.tensors[1].data_offset, 64u);
  const std::vector<uint8_t> bytes = w.ToBytes();
  EXPECT_EQ(bytes.size(), layout.file_size);
  auto file = GgufFile::Parse(bytes);
  ASSERT_TRUE(file.ok()) << file.message();
  EXPECT_EQ((*file)->version(), 2u);
  EXPECT_EQ((*file)->alignment(), 64u);
  EXPECT_EQ((*file)->data_offset(), layout.data_offset);
  EXPECT_EQ((*file)->tensors()[1].data[0], 50);
}

TEST(GgufWriterTest, LayoutPointsAtTheFields) {
  GgufWriter w = WriterWithEverything();
  const GgufLayout layout = w.Layout();
  const std::vector<uint8_t> bytes = w.ToBytes();
  ASSERT_EQ(bytes.size(), layout.file_size);
  ASSERT_EQ(layout.kvs.size(), w.kv_count());
  EXPECT_EQ(bytes[layout.kvs[0].type_offset], static_cast<uint8_t>(GgufType::kUint8));
  EXPECT_EQ(bytes[layout.kvs[0].value_offset], 250);
  EXPECT_EQ(bytes[layout.tensors[3].type_offset], static_cast<uint8_t>(DType::kQ4_0));
  EXPECT_EQ(bytes[layout.tensors[3].n_dims_offset], 1);
  EXPECT_EQ(bytes[layout.data_offset + layout.tensors[3].data_offset], 0xA0);
}

TEST(GgufWriterTest, CopiesValuesReadFromAnotherFile) {
  GgufWriter src;
  AddEveryType(src);
  const std::vector<uint8_t> src_bytes = src.ToBytes();
  auto in = GgufFile::Parse(src_bytes);
  ASSERT_TRUE(in.ok()) << in.message();
  GgufWriter copy;
  for (const auto& [key, value] : (*in)->metadata()) copy.AddValue(key, value);
  EXPECT_EQ(copy.ToBytes(), src_bytes);
}

TEST(GgufWriterTest, ValidateRejectsWhatReadersReject) {
  auto expect_error = [](const GgufWriter& w, const char* what) {
    Status s = w.Validate();
    EXPECT_FALSE(s.ok()) << what;
    EXPECT_THAT(s.message(), HasSubstr(what));
  };
  {
    GgufWriter w;
    w.AddUint32("x", 1);
    w.AddUint32("x", 2);
    expect_error(w, "duplicate key 'x'");
  }
  {
    GgufWriter w;
    w.SetAlignment(48);
    expect_error(w, "not a power of two");
  }
  {
    GgufWriter w;
    w.AddTensor("t", {5}, DType::kF32, Iota(20, 0));
    w.AddTensor("t", {5}, DType::kF32, Iota(20, 0));
    expect_error(w, "duplicate tensor 't'");
  }
  {
    GgufWriter w;
    w.AddTensor("t", {}, DType::kF32, {});
    expect_error(w, "0 dims");
  }
  {
    GgufWriter w;
    w.AddTensor("t", {4, 0}, DType::kF32, {});
    expect_error(w, "dimension 0");
  }
  {
    GgufWriter w;
    w.AddTensor("t", {33}, DType::kQ8_0, Iota(34, 0));
    expect_error(w, "block size 32");
  }
  {
    GgufWriter w;
    w.AddTensor("t", {5}, DType::kF32, Iota(19, 0));
    expect_error(w, "19 data bytes, shape needs 20");
  }
  {
    GgufWriter w;
    w.AddTensor(std::string(64, 'n'), {1}, DType::kF32, Iota(4, 0));
    expect_error(w, "1..63 bytes");
  }
}

TEST(GgufWriterTest, WriteToFileMatchesToBytes) {
  GgufWriter w = WriterWithEverything();
  const std::string path = ::testing::TempDir() + "/gguf_writer_test.gguf";
  ASSERT_TRUE(w.WriteToFile(path).ok());
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> disk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(disk, w.ToBytes());
  auto file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.message();
  EXPECT_EQ((*file)->tensors().size(), 4u);
  std::remove(path.c_str());
}

TEST(GgufWriterTest, WriteToFileReportsErrors) {
  GgufWriter w;
  w.AddTensor("t", {5}, DType::kF32, Iota(20, 0));
  Status s = w.WriteToFile("/nonexistent-dir/x.gguf");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("/nonexistent-dir/x.gguf"));

  GgufWriter failing;
  failing.AddTensor("t", {32}, DType::kF32, 128,
                    [](std::span<uint8_t>) { return Status::Error("generator broke"); });
  const std::string path = ::testing::TempDir() + "/gguf_writer_fail.gguf";
  s = failing.WriteToFile(path);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("tensor 't': generator broke"));
  EXPECT_FALSE(std::ifstream(path).good());
  EXPECT_FALSE(std::ifstream(path + ".tmp").good());
}

}  // namespace
}  // namespace ll::model
