#include "engine/segment_file.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "model/gguf/gguf_writer.h"

namespace ll::engine {
namespace {

// Which part of the model a tensor belongs to: -1 embedding, -2 head, else its unit.
int UnitOf(const std::string& name) {
  if (name.rfind("blk.", 0) == 0) {
    const int layer = std::atoi(name.c_str() + 4);
    const size_t dot = name.find('.', 4);
    const bool ffn = dot != std::string::npos && name.compare(dot + 1, 4, "ffn_") == 0;
    return 2 * layer + (ffn ? 1 : 0);
  }
  if (name.rfind("token_embd", 0) == 0) return -1;
  return -2;  // output_norm, output
}

}  // namespace

Result<std::vector<uint8_t>> BuildSegmentFile(const model::Model& model,
                                              const runtime::SegmentSpec& spec) {
  const model::GgufFile& f = model.file();
  const model::ModelConfig& c = model.config();
  model::GgufWriter w;
  for (const auto& [key, value] : f.metadata()) {
    // The tokenizer stays with the coordinator; it is most of a small model's metadata.
    if (key.rfind("tokenizer.", 0) == 0) continue;
    w.AddValue(key, value);
  }
  w.AddUint64(c.arch + ".vocab_size", static_cast<uint64_t>(c.n_vocab));
  w.AddString(kSegmentKey, spec.ToString());
  const bool tied = model.weights().output.data == model.weights().token_embd.data;
  for (const model::GgufTensorInfo& t : f.tensors()) {
    const int unit = UnitOf(t.name);
    const bool want = unit >= 0 ? (unit >= spec.unit_begin && unit < spec.unit_end)
                      : unit == -1
                          ? (spec.embed || (spec.head && tied && t.name == "token_embd.weight"))
                          : spec.head;
    if (!want) continue;
    const uint8_t* data = t.data;
    const size_t bytes = t.bytes;
    w.AddTensor(t.name, t.shape, t.type, bytes, [data, bytes](std::span<uint8_t> out) {
      std::memcpy(out.data(), data, bytes);
      return Status::Ok();
    });
  }
  LL_RETURN_IF_ERROR(w.Validate());
  return w.ToBytes();
}

std::string CachePath(const std::string& dir, uint64_t hash) {
  char name[32];
  std::snprintf(name, sizeof(name), "%016llx.gguf", static_cast<unsigned long long>(hash));
  return dir + "/" + name;
}

std::string DefaultCacheDir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    return std::string(xdg) + "/lingualinked";
  }
  if (const char* home = std::getenv("HOME"); home && *home) {
    return std::string(home) + "/.cache/lingualinked";
  }
  return "/tmp/lingualinked-cache";
}

}  // namespace ll::engine
