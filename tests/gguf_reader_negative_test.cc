// Fault injection for the GGUF reader: a valid file is built with GgufWriter, then each field
// the reader must check is corrupted in turn. Every corruption must yield an error naming the
// field, never a crash or an out-of-bounds read (this test also runs under ASan/UBSan).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "model/gguf/gguf_file.h"
#include "model/gguf/gguf_writer.h"
#include "model/model.h"

namespace ll::model {
namespace {

using kernels::DType;
using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::HasSubstr;

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();

std::vector<uint8_t> Pattern(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t k = 0; k < n; ++k) v[k] = static_cast<uint8_t>(k * 7 + 1);
  return v;
}

// Key indices and tensor indices of the base file, for the layout lookups below.
enum Kv { kArchKv, kAlignKv, kArrayKv, kStringArrayKv, kBoolKv, kNumKvs };
enum Tensor { kQ8Tensor, kVecTensor, kF16Tensor, kNumTensors };

void AddBaseMetadata(GgufWriter& w) {
  w.AddString("general.architecture", "llama");
  w.SetAlignment(32);
  const uint32_t u32[] = {1, 2, 3, 4};
  w.AddUint32Array("test.u32_array", u32);
  const std::string strs[] = {"<unk>", "<s>", "</s>"};
  w.AddStringArray("tokenizer.ggml.tokens", strs);
  w.AddBool("test.flag", true);
}

void AddBaseTensors(GgufWriter& w) {
  w.AddTensor("blk.0.attn_q.weight", {64, 2}, DType::kQ8_0, Pattern(2 * 2 * 34));
  w.AddTensor("output_norm.weight", {8}, DType::kF32, Pattern(32));
  w.AddTensor("token_embd.weight", {16, 2}, DType::kF16, Pattern(64));
}

class GgufReaderNegativeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GgufWriter w;
    AddBaseMetadata(w);
    AddBaseTensors(w);
    ASSERT_TRUE(w.Validate().ok()) << w.Validate().message();
    layout_ = w.Layout();
    bytes_ = w.ToBytes();
    ASSERT_EQ(layout_.kvs.size(), static_cast<size_t>(kNumKvs));
    ASSERT_EQ(layout_.tensors.size(), static_cast<size_t>(kNumTensors));
  }

  // Little-endian patches of a copy of the valid file.
  std::vector<uint8_t> WithU32(size_t at, uint32_t v) const {
    std::vector<uint8_t> b = bytes_;
    for (int i = 0; i < 4; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
    return b;
  }
  std::vector<uint8_t> WithU64(size_t at, uint64_t v) const {
    std::vector<uint8_t> b = bytes_;
    for (int i = 0; i < 8; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
    return b;
  }

  const GgufLayout::Kv& kv(Kv k) const { return layout_.kvs[k]; }
  const GgufLayout::Tensor& tensor(Tensor t) const { return layout_.tensors[t]; }

  // Parses `bytes` and returns the error message; fails the test if parsing succeeds.
  static std::string ErrorOf(const std::vector<uint8_t>& bytes) {
    auto file = GgufFile::Parse(bytes, "bad.gguf");
    EXPECT_FALSE(file.ok()) << "a corrupted file was accepted";
    if (file.ok()) return "";
    EXPECT_FALSE(file.message().empty());
    return file.message();
  }

  GgufLayout layout_;
  std::vector<uint8_t> bytes_;
};

TEST_F(GgufReaderNegativeTest, BaseFileIsValid) {
  auto file = GgufFile::Parse(bytes_);
  ASSERT_TRUE(file.ok()) << file.message();
  EXPECT_EQ((*file)->tensors().size(), 3u);
  EXPECT_EQ((*file)->metadata().size(), 5u);
}

TEST_F(GgufReaderNegativeTest, BadMagic) {
  std::vector<uint8_t> b = bytes_;
  b[0] = 'X';
  EXPECT_THAT(ErrorOf(b), HasSubstr("magic"));
  b = bytes_;
  b[3] = 'G';  // "GGUG"
  EXPECT_THAT(ErrorOf(b), HasSubstr("magic"));
}

TEST_F(GgufReaderNegativeTest, UnsupportedVersion) {
  for (uint32_t v : {0u, 1u, 4u, 0xffffffffu}) {
    const std::string msg = ErrorOf(WithU32(GgufLayout::kVersionOffset, v));
    EXPECT_THAT(msg, HasSubstr("version")) << v;
    EXPECT_THAT(msg, HasSubstr(std::to_string(v))) << v;
  }
}

// Every prefix that cuts into the header or into a tensor's data must be rejected. (Cutting
// only the zero padding after the last tensor leaves a valid file.)
TEST_F(GgufReaderNegativeTest, TruncatedAtEveryOffset) {
  const size_t data_end =
      layout_.data_offset + tensor(kF16Tensor).data_offset + tensor(kF16Tensor).data_bytes;
  ASSERT_LE(data_end, bytes_.size());
  for (size_t len = 0; len < data_end; ++len) {
    std::vector<uint8_t> b(bytes_.begin(), bytes_.begin() + len);
    auto file = GgufFile::Parse(b, "cut.gguf");
    EXPECT_FALSE(file.ok()) << "truncated to " << len << " bytes was accepted";
    if (!file.ok() && len < layout_.infos_end) {
      EXPECT_THAT(file.message(), AnyOf(HasSubstr("truncated"), HasSubstr("exceeds"),
                                        HasSubstr("cannot fit"), HasSubstr("does not fit")))
          << "length " << len << ": " << file.message();
    }
  }
  std::vector<uint8_t> b(bytes_.begin(), bytes_.begin() + data_end);
  EXPECT_TRUE(GgufFile::Parse(b).ok());
}

TEST_F(GgufReaderNegativeTest, AbsurdTensorCount) {
  for (uint64_t n : {uint64_t{1} << 40, kU64Max, uint64_t{1000}}) {
    EXPECT_THAT(ErrorOf(WithU64(GgufLayout::kTensorCountOffset, n)), HasSubstr("tensor count"))
        << n;
  }
}

TEST_F(GgufReaderNegativeTest, AbsurdKvCount) {
  for (uint64_t n : {uint64_t{1} << 40, kU64Max}) {
    const std::string msg = ErrorOf(WithU64(GgufLayout::kKvCountOffset, n));
    EXPECT_THAT(msg, AllOf(HasSubstr("count"), HasSubstr("offset 16"))) << n;
  }
}

TEST_F(GgufReaderNegativeTest, KeyLengthBeyondEnd) {
  for (uint64_t len : {uint64_t{1} << 40, kU64Max, uint64_t{bytes_.size()}}) {
    const std::string msg = ErrorOf(WithU64(kv(kAlignKv).key_offset, len));
    EXPECT_THAT(msg, AllOf(HasSubstr("key"), HasSubstr("length"))) << len;
  }
}

TEST_F(GgufReaderNegativeTest, StringValueLengthBeyondEnd) {
  const std::string msg = ErrorOf(WithU64(kv(kArchKv).value_offset, bytes_.size()));
  EXPECT_THAT(msg, AllOf(HasSubstr("general.architecture"), HasSubstr("length")));
  // An element of a string array.
  const size_t first_elem = kv(kStringArrayKv).value_offset + 4 + 8;
  EXPECT_THAT(ErrorOf(WithU64(first_elem, kU64Max - 3)),
              AllOf(HasSubstr("tokenizer.ggml.tokens"), HasSubstr("length")));
}

TEST_F(GgufReaderNegativeTest, TensorNameLengthBeyondEnd) {
  const std::string msg = ErrorOf(WithU64(tensor(kVecTensor).name_offset, kU64Max));
  EXPECT_THAT(msg, AllOf(HasSubstr("tensor"), HasSubstr("name")));
}

TEST_F(GgufReaderNegativeTest, UnknownValueType) {
  for (uint32_t t : {13u, 100u, 0xffffffffu}) {
    const std::string msg = ErrorOf(WithU32(kv(kBoolKv).type_offset, t));
    EXPECT_THAT(msg, AllOf(HasSubstr("test.flag"), HasSubstr("type"))) << t;
  }
}

TEST_F(GgufReaderNegativeTest, UnknownArrayElementType) {
  const std::string msg = ErrorOf(WithU32(kv(kArrayKv).value_offset, 13));
  EXPECT_THAT(msg, AllOf(HasSubstr("test.u32_array"), HasSubstr("type")));
}

TEST_F(GgufReaderNegativeTest, ArrayCountOverflow) {
  const size_t count_at = kv(kArrayKv).value_offset + 4;
  // 2^62 u32 elements would be 2^64 bytes: a naive count * size wraps to 0.
  for (uint64_t n : {kU64Max, uint64_t{1} << 62, uint64_t{1} << 40, uint64_t{1000}}) {
    const std::string msg = ErrorOf(WithU64(count_at, n));
    EXPECT_THAT(msg, AllOf(HasSubstr("test.u32_array"), HasSubstr("count"))) << n;
  }
  const size_t str_count_at = kv(kStringArrayKv).value_offset + 4;
  EXPECT_THAT(ErrorOf(WithU64(str_count_at, uint64_t{1} << 61)),
              AllOf(HasSubstr("tokenizer.ggml.tokens"), HasSubstr("count")));
}

TEST_F(GgufReaderNegativeTest, BoolOutOfRange) {
  std::vector<uint8_t> b = bytes_;
  b[kv(kBoolKv).value_offset] = 2;
  EXPECT_THAT(ErrorOf(b), AllOf(HasSubstr("test.flag"), HasSubstr("bool")));
}

TEST_F(GgufReaderNegativeTest, NestedArray) {
  // Patched in place: the u32 array claims u32-array elements.
  EXPECT_THAT(ErrorOf(WithU32(kv(kArrayKv).value_offset, 9)), HasSubstr("nested"));
  // A well-formed nested array, as the writer encodes it.
  GgufValue inner;
  inner.type = GgufType::kArray;
  inner.elem_type = GgufType::kUint8;
  GgufValue item;
  item.type = GgufType::kUint8;
  item.u = 5;
  inner.items = {item, item};
  GgufValue outer;
  outer.type = GgufType::kArray;
  outer.elem_type = GgufType::kArray;
  outer.items = {inner};
  GgufWriter w;
  AddBaseMetadata(w);
  w.AddValue("test.nested", outer);
  AddBaseTensors(w);
  EXPECT_THAT(ErrorOf(w.ToBytes()), AllOf(HasSubstr("test.nested"), HasSubstr("nested")));
}

TEST_F(GgufReaderNegativeTest, DuplicateKey) {
  GgufWriter w;
  AddBaseMetadata(w);
  w.AddUint32("test.flag", 7);
  AddBaseTensors(w);
  EXPECT_THAT(ErrorOf(w.ToBytes()), AllOf(HasSubstr("test.flag"), HasSubstr("duplicate")));
}

TEST_F(GgufReaderNegativeTest, AlignmentNotAPowerOfTwo) {
  for (uint32_t a : {0u, 3u, 48u, 0x80000001u}) {
    const std::string msg = ErrorOf(WithU32(kv(kAlignKv).value_offset, a));
    EXPECT_THAT(msg, AllOf(HasSubstr("general.alignment"), HasSubstr("power of two"))) << a;
  }
  // A file laid out consistently with alignment 48 is still rejected.
  GgufWriter w;
  w.SetAlignment(48);
  AddBaseTensors(w);
  EXPECT_THAT(ErrorOf(w.ToBytes()), HasSubstr("general.alignment"));
}

TEST_F(GgufReaderNegativeTest, AlignmentOfWrongType) {
  GgufWriter w;
  w.AddUint64("general.alignment", 32);
  AddBaseTensors(w);
  EXPECT_THAT(ErrorOf(w.ToBytes()), HasSubstr("general.alignment"));
}

TEST_F(GgufReaderNegativeTest, TensorDimCount) {
  for (uint32_t n : {0u, 5u, 0xffffffffu}) {
    const std::string msg = ErrorOf(WithU32(tensor(kQ8Tensor).n_dims_offset, n));
    EXPECT_THAT(msg, AllOf(HasSubstr("blk.0.attn_q.weight"), HasSubstr("dims"))) << n;
  }
}

TEST_F(GgufReaderNegativeTest, ZeroDimension) {
  const size_t dim1 = tensor(kQ8Tensor).dims_offset + 8;
  EXPECT_THAT(ErrorOf(WithU64(dim1, 0)), HasSubstr("blk.0.attn_q.weight"));
  EXPECT_THAT(ErrorOf(WithU64(tensor(kVecTensor).dims_offset, 0)), HasSubstr("output_norm.weight"));
}

TEST_F(GgufReaderNegativeTest, NegativeOrOverflowingDimensions) {
  const size_t dim0 = tensor(kF16Tensor).dims_offset;
  // As int64 these are negative.
  EXPECT_THAT(ErrorOf(WithU64(dim0 + 8, kU64Max)), HasSubstr("token_embd.weight"));
  EXPECT_THAT(ErrorOf(WithU64(dim0 + 8, uint64_t{1} << 63)), HasSubstr("token_embd.weight"));
  // Each dimension is fine, the product is not: 2^32 * 2^32 wraps to 0.
  std::vector<uint8_t> b = WithU64(dim0, uint64_t{1} << 32);
  for (int i = 0; i < 8; ++i)
    b[dim0 + 8 + i] = static_cast<uint8_t>((uint64_t{1} << 32) >> (8 * i));
  EXPECT_THAT(ErrorOf(b), HasSubstr("token_embd.weight"));
  // Product fits in int64 elements but the byte size (2 bytes each) does not fit in the file.
  b = WithU64(dim0, uint64_t{1} << 31);
  for (int i = 0; i < 8; ++i)
    b[dim0 + 8 + i] = static_cast<uint8_t>((uint64_t{1} << 31) >> (8 * i));
  EXPECT_THAT(ErrorOf(b), HasSubstr("token_embd.weight"));
}

TEST_F(GgufReaderNegativeTest, UnknownTensorType) {
  // 4 and 5 were Q4_2/Q4_3, removed from ggml; 39+ are not defined.
  for (uint32_t t : {4u, 5u, 39u, 1000u, 0xffffffffu}) {
    const std::string msg = ErrorOf(WithU32(tensor(kVecTensor).type_offset, t));
    EXPECT_THAT(msg, AllOf(HasSubstr("output_norm.weight"), HasSubstr("type"))) << t;
  }
}

TEST_F(GgufReaderNegativeTest, RowNotAMultipleOfBlockSize) {
  // 48 f32 columns would be fine; 48 is not a multiple of q8_0's 32-element block.
  const std::string msg = ErrorOf(WithU64(tensor(kQ8Tensor).dims_offset, 48));
  EXPECT_THAT(msg, AllOf(HasSubstr("blk.0.attn_q.weight"), HasSubstr("block")));
}

TEST_F(GgufReaderNegativeTest, MisalignedTensorOffset) {
  const GgufLayout::Tensor& t = tensor(kF16Tensor);
  for (uint64_t delta : {1, 2, 16}) {
    const std::string msg = ErrorOf(WithU64(t.offset_offset, t.data_offset + delta));
    EXPECT_THAT(msg, AllOf(HasSubstr("token_embd.weight"), HasSubstr("offset"))) << delta;
  }
}

TEST_F(GgufReaderNegativeTest, TensorDataBeyondEndOfFile) {
  const GgufLayout::Tensor& t = tensor(kF16Tensor);
  // Just past the end, far past it, and offsets where offset + size wraps around 2^64.
  for (uint64_t off :
       {uint64_t{bytes_.size()}, uint64_t{1} << 40, kU64Max / 32 * 32, kU64Max - 31}) {
    if (off % 32 != 0) continue;
    const std::string msg = ErrorOf(WithU64(t.offset_offset, off));
    EXPECT_THAT(msg, AllOf(HasSubstr("token_embd.weight"), HasSubstr("end"))) << off;
  }
  // Aligned offset whose data starts inside the file but runs past its end.
  const uint64_t last_fit = bytes_.size() - layout_.data_offset - t.data_bytes;
  const uint64_t over = (last_fit / 32 + 1) * 32;
  EXPECT_THAT(ErrorOf(WithU64(t.offset_offset, over)), HasSubstr("token_embd.weight"));
}

TEST_F(GgufReaderNegativeTest, OverlappingTensors) {
  // The f16 tensor's data moved onto the q8_0 tensor's.
  const std::string msg =
      ErrorOf(WithU64(tensor(kF16Tensor).offset_offset, tensor(kQ8Tensor).data_offset));
  EXPECT_THAT(msg, HasSubstr("overlap"));
  // Partial overlap: starts inside the q8_0 tensor's 136 bytes.
  EXPECT_THAT(ErrorOf(WithU64(tensor(kVecTensor).offset_offset, 128)), HasSubstr("overlap"));
}

TEST_F(GgufReaderNegativeTest, DuplicateTensorName) {
  GgufWriter w;
  AddBaseMetadata(w);
  AddBaseTensors(w);
  w.AddTensor("output_norm.weight", {8}, DType::kF32, Pattern(32));
  EXPECT_THAT(ErrorOf(w.ToBytes()), AllOf(HasSubstr("output_norm.weight"), HasSubstr("duplicate")));
}

// Random single-byte and 8-byte corruptions of the header: the reader may accept some (a
// changed character in a key), but must never crash or read out of bounds.
TEST_F(GgufReaderNegativeTest, RandomHeaderCorruptionsNeverCrash) {
  uint64_t state = 12345;
  auto next = [&state] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return state >> 33;
  };
  int rejected = 0;
  for (int iter = 0; iter < 4000; ++iter) {
    std::vector<uint8_t> b = bytes_;
    const size_t at = next() % layout_.infos_end;
    if (iter % 2 == 0) {
      b[at] = static_cast<uint8_t>(next());
    } else {
      for (size_t i = at; i < std::min(at + 8, b.size()); ++i) b[i] = 0xff;
    }
    auto file = GgufFile::Parse(b, "fuzz.gguf");
    if (!file.ok()) {
      ++rejected;
      EXPECT_FALSE(file.message().empty());
    } else {
      // Whatever was accepted must be self-consistent: all data inside the buffer.
      for (const GgufTensorInfo& t : (*file)->tensors()) {
        EXPECT_GE(t.data, b.data());
        EXPECT_LE(t.data + t.bytes, b.data() + b.size());
      }
    }
  }
  EXPECT_GT(rejected, 1000);
}

// Hyper-parameters: damaged copies of the shared models, each with one key changed (GgufWriter
// rewrites the file), must fail Model::Load with a message naming the key, its value and what
// it disagrees with, before anything is sized by them. (Found by fuzzing: a
// rope.dimension_count beyond the head size made `generate` corrupt the heap.)
const std::string kModels = std::string(LL_SHARED_DIR) + "/models/";
const std::string kStories = kModels + "stories260K/stories260K.gguf";

// Replaces metadata key `key` (or, when absent, adds at the end) by what `add` writes; `add`
// may write nothing, which removes the key.
using KvEdit = std::function<void(GgufWriter&)>;

class DamagedModelTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const std::string& p : written_) std::filesystem::remove(p);
  }

  // A copy of `model` with `key` edited and the tensor `drop` (if any) left out; its path.
  std::string Copy(const std::string& model, const std::string& key, const KvEdit& add,
                   const std::string& drop = "") {
    auto src = GgufFile::Open(model);
    EXPECT_TRUE(src.ok()) << src.message();
    if (!src.ok()) return "";
    GgufWriter w;
    bool replaced = false;
    for (const auto& [k, v] : (*src)->metadata()) {
      if (k == key) {
        add(w);
        replaced = true;
      } else {
        w.AddValue(k, v);
      }
    }
    if (!replaced) add(w);
    for (const GgufTensorInfo& t : (*src)->tensors()) {
      if (t.name == drop) continue;
      w.AddTensor(t.name, t.shape, t.type,
                  std::vector<uint8_t>(t.data, t.data + static_cast<ptrdiff_t>(t.bytes)));
    }
    const std::string path = ::testing::TempDir() + "/ll-damaged-" + std::to_string(::getpid()) +
                             "-" + std::to_string(written_.size()) + ".gguf";
    const Status s = w.WriteToFile(path);
    EXPECT_TRUE(s.ok()) << s.message();
    written_.push_back(path);
    return path;
  }

  // Model::Load's error for the copy, with the copy's path taken off the front.
  std::string LoadError(const std::string& model, const std::string& key, const KvEdit& add,
                        const std::string& drop = "") {
    const std::string path = Copy(model, key, add, drop);
    auto m = Model::Load(path);
    EXPECT_FALSE(m.ok()) << key << ": the damaged model was accepted";
    if (m.ok()) return "";
    const std::string prefix = path + ": ";
    EXPECT_EQ(m.message().rfind(prefix, 0), 0u) << m.message();
    return m.message().substr(std::min(prefix.size(), m.message().size()));
  }
  std::string WithU32(const std::string& model, const std::string& key, uint32_t v) {
    return LoadError(model, key, [&](GgufWriter& w) { w.AddUint32(key, v); });
  }
  std::string WithF32(const std::string& model, const std::string& key, float v) {
    return LoadError(model, key, [&](GgufWriter& w) { w.AddFloat32(key, v); });
  }

  std::vector<std::string> written_;
};

TEST_F(DamagedModelTest, UndamagedCopyLoads) {
  const std::string path =
      Copy(kStories, "general.name", [](GgufWriter& w) { w.AddString("general.name", "copy"); });
  auto m = Model::Load(path);
  ASSERT_TRUE(m.ok()) << m.message();
  EXPECT_EQ((*m)->config().n_rot, 8);
}

TEST_F(DamagedModelTest, RopeDimensionsWithinTheHeadAndEven) {
  const std::string key = "llama.rope.dimension_count";
  for (uint32_t v : {65536u, 16u << 20, 9u, 1000u}) {
    EXPECT_EQ(WithU32(kStories, key, v),
              key + " is " + std::to_string(v) + ", larger than the head size 8");
  }
  EXPECT_EQ(WithU32(kStories, key, 7), key + " is 7, not even (RoPE rotates pairs)");
  EXPECT_EQ(WithU32(kStories, key, 0), key + " is 0, must be positive");
  EXPECT_EQ(LoadError(kStories, key, [&](GgufWriter& w) { w.AddInt32(key, -2); }),
            key + " is -2, must be positive");
  EXPECT_EQ(LoadError(kStories, key, [&](GgufWriter& w) { w.AddString(key, "8"); }),
            "metadata key '" + key + "' has type string, expected an integer");
  // qwen2 files have no such key (the whole head rotates); one that sets it is held to it too.
  EXPECT_EQ(WithU32(kModels + "synthetic/qwen2-64x2-random.gguf", "qwen2.rope.dimension_count", 18),
            "qwen2.rope.dimension_count is 18, larger than the head size 16");
  EXPECT_EQ(WithF32(kStories, "llama.rope.freq_base", 0),
            "llama.rope.freq_base is 0, must be positive and finite");
  EXPECT_EQ(WithF32(kStories, "llama.rope.freq_base", std::nanf("")),
            "llama.rope.freq_base is nan, must be positive and finite");
}

TEST_F(DamagedModelTest, HeadCountsDivideTheWidths) {
  EXPECT_EQ(WithU32(kStories, "llama.attention.head_count", 7),
            "llama.attention.head_count is 7, which does not divide llama.embedding_length 64");
  EXPECT_EQ(WithU32(kStories, "llama.attention.head_count", 0),
            "llama.attention.head_count is 0, must be positive");
  EXPECT_EQ(WithU32(kStories, "llama.attention.head_count_kv", 3),
            "llama.attention.head_count_kv is 3, which does not divide "
            "llama.attention.head_count 8");
  EXPECT_EQ(WithU32(kStories, "llama.attention.head_count_kv", 0),
            "llama.attention.head_count_kv is 0, must be positive");
  // Divides, but disagrees with the K projection; absent, it defaults to the head count.
  EXPECT_EQ(WithU32(kStories, "llama.attention.head_count_kv", 8),
            "llama.attention.head_count_kv is 8, but tensor 'blk.0.attn_k.weight' has shape "
            "{64, 32}, not {64, 64} (8 heads of 8)");
  EXPECT_EQ(LoadError(kStories, "llama.attention.head_count_kv", [](GgufWriter&) {}),
            "llama.attention.head_count_kv is 8 (the default), but tensor "
            "'blk.0.attn_k.weight' has shape {64, 32}, not {64, 64} (8 heads of 8)");
  // More heads make them smaller than the rotated dimensions.
  EXPECT_EQ(WithU32(kStories, "llama.attention.head_count", 16),
            "llama.rope.dimension_count is 8, larger than the head size 4");
  EXPECT_EQ(WithU32(kStories, "llama.attention.key_length", 16),
            "llama.attention.head_count is 8 and llama.attention.key_length is 16, but tensor "
            "'blk.0.attn_q.weight' has shape {64, 64}, not {64, 128} (8 heads of 16)");
  EXPECT_EQ(WithU32(kStories, "llama.attention.key_length", 0),
            "llama.attention.key_length is 0, must be positive");
  EXPECT_EQ(WithU32(kStories, "llama.attention.value_length", 16),
            "llama.attention.value_length is 16, not the key head size 8 (different key and "
            "value head sizes are not supported)");
  // BLOOM's fused QKV projection.
  const std::string bloom = kModels + "synthetic/bloom-64x3-random.gguf";
  EXPECT_EQ(WithU32(bloom, "bloom.attention.head_count_kv", 2),
            "bloom.attention.head_count is 4 and bloom.attention.head_count_kv is 2, but tensor "
            "'blk.0.attn_qkv.weight' has shape {64, 192}, not {64, 128} (4 + 2 x 2 heads of 16)");
  EXPECT_EQ(WithU32(bloom, "bloom.attention.head_count", 3),
            "bloom.attention.head_count is 3, which does not divide bloom.embedding_length 64");
}

TEST_F(DamagedModelTest, WidthsMatchTheTensors) {
  EXPECT_EQ(WithU32(kStories, "llama.feed_forward_length", 999),
            "llama.feed_forward_length is 999, but tensor 'blk.0.ffn_up.weight' has shape "
            "{64, 172}, not {64, 999}");
  EXPECT_EQ(WithU32(kStories, "llama.feed_forward_length", 0),
            "llama.feed_forward_length is 0, must be positive");
  EXPECT_EQ(WithU32(kStories, "llama.feed_forward_length", 1u << 30),
            "llama.feed_forward_length is 1073741824, more than the 1048576 this engine supports");
  EXPECT_EQ(WithU32(kStories, "llama.embedding_length", 128),
            "llama.embedding_length is 128, but tensor 'token_embd.weight' has shape {64, 512}");
  EXPECT_EQ(WithU32(kStories, "llama.embedding_length", 0),
            "llama.embedding_length is 0, must be positive");
}

TEST_F(DamagedModelTest, VocabularyMatchesTheEmbeddingRows) {
  auto src = GgufFile::Open(kStories);
  ASSERT_TRUE(src.ok()) << src.message();
  auto tokens = (*src)->GetStringArray("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok()) << tokens.message();
  std::vector<std::string_view> fewer(tokens->begin(), tokens->end() - 1);
  EXPECT_EQ(LoadError(kStories, "tokenizer.ggml.tokens",
                      [&](GgufWriter& w) { w.AddStringArray("tokenizer.ggml.tokens", fewer); }),
            "tokenizer.ggml.tokens has 511 entries, but tensor 'token_embd.weight' has shape "
            "{64, 512}");
  EXPECT_EQ(LoadError(kStories, "llama.vocab_size",
                      [](GgufWriter& w) { w.AddUint32("llama.vocab_size", 600); }),
            "llama.vocab_size is 600, but tensor 'token_embd.weight' has shape {64, 512}");
}

TEST_F(DamagedModelTest, LayerCountMatchesTheBlocks) {
  EXPECT_EQ(WithU32(kStories, "llama.block_count", 4),
            "llama.block_count is 4, but the file has tensor 'blk.4.attn_q.weight'");
  EXPECT_EQ(WithU32(kStories, "llama.block_count", 6),
            "llama.block_count is 6, but the file has no tensors of block 5");
  EXPECT_EQ(WithU32(kStories, "llama.block_count", 0), "llama.block_count is 0, must be positive");
  EXPECT_EQ(LoadError(kStories, "llama.block_count",
                      [](GgufWriter& w) { w.AddUint64("llama.block_count", uint64_t{1} << 40); }),
            "llama.block_count is 1099511627776, more than the 65536 this engine supports");
  // A block present but incomplete is a missing tensor.
  EXPECT_EQ(LoadError(
                kStories, "general.name", [](GgufWriter& w) { w.AddString("general.name", "x"); },
                "blk.2.ffn_up.weight"),
            "missing tensor 'blk.2.ffn_up.weight'");
}

TEST_F(DamagedModelTest, NormEpsilonPositiveAndFinite) {
  const std::string key = "llama.attention.layer_norm_rms_epsilon";
  EXPECT_EQ(WithF32(kStories, key, -1), key + " is -1, must be positive and finite");
  EXPECT_EQ(WithF32(kStories, key, 0), key + " is 0, must be positive and finite");
  EXPECT_EQ(WithF32(kStories, key, std::nanf("")), key + " is nan, must be positive and finite");
  EXPECT_EQ(WithF32(kStories, key, INFINITY), key + " is inf, must be positive and finite");
  EXPECT_EQ(LoadError(kStories, key, [&](GgufWriter& w) { w.AddFloat64(key, 1e300); }),
            key + " is 1e+300, outside the range of a float");
  EXPECT_EQ(WithF32(kModels + "synthetic/bloom-64x3-random.gguf",
                    "bloom.attention.layer_norm_epsilon", -1),
            "bloom.attention.layer_norm_epsilon is -1, must be positive and finite");
}

TEST_F(DamagedModelTest, ContextLengthSane) {
  EXPECT_EQ(WithU32(kStories, "llama.context_length", 0),
            "llama.context_length is 0, must be positive");
  EXPECT_EQ(WithU32(kStories, "llama.context_length", 1u << 30),
            "llama.context_length is 1073741824, more than the 16777216 this engine supports");
}

// Keys and names from a damaged file are quoted with their control bytes escaped, so an error
// message cannot drive the terminal it is printed on.
TEST_F(GgufReaderNegativeTest, MessagesEscapeControlBytesFromTheFile) {
  GgufWriter w;
  AddBaseMetadata(w);
  w.AddBool("test.\x1b[2J\x07", true);
  w.AddBool("test.\x1b[2J\x07", false);
  AddBaseTensors(w);
  const std::string msg = ErrorOf(w.ToBytes());
  EXPECT_THAT(msg, HasSubstr("key 'test.\\x1b[2J\\x07'"));
  EXPECT_EQ(msg.find('\x1b'), std::string::npos) << msg;

  GgufWriter t;
  AddBaseMetadata(t);
  AddBaseTensors(t);
  const std::string name =
      "bad\r\x9b"
      "31m\xff";  // CR, a C1 CSI, a byte not in UTF-8
  t.AddTensor(name, {8}, DType::kF32, Pattern(32));
  t.AddTensor(name, {8}, DType::kF32, Pattern(32));
  EXPECT_THAT(ErrorOf(t.ToBytes()), HasSubstr("tensor 'bad\\x0d\\x9b31m\\xff' name"));

  // An architecture name this engine does not know, and a string value as inspect prints it.
  GgufWriter a;
  a.AddString("general.architecture",
              "ll\x1b]0;title\x07"
              "ama");
  AddBaseTensors(a);
  const std::vector<uint8_t> bytes = a.ToBytes();
  auto file = GgufFile::Parse(bytes);
  ASSERT_TRUE(file.ok()) << file.message();
  EXPECT_EQ((*file)->Find("general.architecture")->ToString(), "\"ll\\x1b]0;title\\x07ama\"");
  const std::string path =
      ::testing::TempDir() + "/ll-escape-" + std::to_string(::getpid()) + ".gguf";
  ASSERT_TRUE(a.WriteToFile(path).ok());
  auto m = Model::Load(path);
  std::filesystem::remove(path);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.message(), path +
                             ": unsupported architecture 'll\\x1b]0;title\\x07ama' "
                             "(supported: llama, qwen2, bloom)");
}

}  // namespace
}  // namespace ll::model
