#include "cli/inspect_command.h"

#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "model/model.h"

namespace ll::cli {
namespace {

std::string Shape(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

std::string HumanBytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  int u = 0;
  while (b >= 1024 && u < 3) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), u ? "%.2f %s" : "%.0f %s", b, units[u]);
  return buf;
}

// "blk.12.attn_q.weight" -> 12; -1 for tensors outside the blocks.
int LayerOf(const std::string& name) {
  if (name.rfind("blk.", 0) != 0) return -1;
  return std::atoi(name.c_str() + 4);
}

int RunInspect(const std::string& path, bool all_metadata) {
  auto file = model::GgufFile::Open(path);
  if (!file.ok()) {
    std::fprintf(stderr, "error: %s\n", file.message().c_str());
    return 1;
  }
  const model::GgufFile& f = **file;
  std::printf(
      "file: %s\nGGUF version %u, alignment %llu, %zu metadata keys, %zu tensors, "
      "data at offset %llu\n\n",
      path.c_str(), f.version(), static_cast<unsigned long long>(f.alignment()),
      f.metadata().size(), f.tensors().size(), static_cast<unsigned long long>(f.data_offset()));
  std::printf("metadata:\n");
  for (const auto& [key, value] : f.metadata()) {
    std::printf("  %-44s %s\n", std::string(key).c_str(),
                value.ToString(all_metadata ? 1u << 30 : 8).c_str());
  }

  std::printf("\nhyper-parameters:\n");
  auto model = model::Model::Load(path);
  if (!model.ok()) {
    std::printf("  (not loadable by this engine: %s)\n", model.message().c_str());
  } else {
    const model::ModelConfig& c = (*model)->config();
    const char* norm = c.norm == model::NormKind::kRms ? "rms" : "layer";
    const char* pos = c.position == model::PositionKind::kRopeNorm   ? "rope (adjacent pairs)"
                      : c.position == model::PositionKind::kRopeNeox ? "rope (neox halves)"
                                                                     : "alibi";
    const char* ffn = c.ffn == model::FfnKind::kSwiGlu ? "swiglu" : "gelu mlp";
    std::printf(
        "  arch %s | vocab %lld | embd %lld | layers %lld | heads %lld (kv %lld, dim %lld) | "
        "ffn %lld\n  context %lld | norm %s eps %g | position %s (rot %lld, base %g) | ffn %s%s\n",
        c.arch.c_str(), (long long)c.n_vocab, (long long)c.n_embd, (long long)c.n_layer,
        (long long)c.n_head, (long long)c.n_head_kv, (long long)c.head_dim, (long long)c.n_ff,
        (long long)c.n_ctx_train, norm, c.norm_eps, pos, (long long)c.n_rot, c.rope_freq_base, ffn,
        (*model)->weights().output.data == (*model)->weights().token_embd.data
            ? " | output tied to embedding"
            : "");
    std::printf(
        "  KV cache: %s per token (f32)\n",
        HumanBytes(static_cast<double>(c.n_layer * c.kv_values_per_token_layer() * 4)).c_str());
  }

  std::printf("\ntensors:\n  %-36s %-7s %-22s %12s\n", "name", "type", "shape", "bytes");
  std::map<int, std::pair<int64_t, size_t>> per_layer;  // layer -> (params, bytes)
  int64_t total_params = 0;
  size_t total_bytes = 0;
  for (const auto& t : f.tensors()) {
    std::printf("  %-36s %-7s %-22s %12zu\n", t.name.c_str(),
                std::string(kernels::DTypeName(t.type)).c_str(), Shape(t.shape).c_str(), t.bytes);
    auto& acc = per_layer[LayerOf(t.name)];
    acc.first += t.elements();
    acc.second += t.bytes;
    total_params += t.elements();
    total_bytes += t.bytes;
  }
  std::printf("\nper layer:\n  %-12s %14s %14s\n", "layer", "parameters", "bytes");
  for (const auto& [layer, acc] : per_layer) {
    std::printf("  %-12s %14lld %14s\n", layer < 0 ? "non-block" : std::to_string(layer).c_str(),
                static_cast<long long>(acc.first), HumanBytes(acc.second).c_str());
  }
  std::printf("  %-12s %14lld %14s\n", "total", static_cast<long long>(total_params),
              HumanBytes(total_bytes).c_str());
  return 0;
}

}  // namespace

void AddInspectCommand(CLI::App& app, int& exit_code) {
  auto path = std::make_shared<std::string>();
  auto all = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("inspect", "Print a GGUF file's metadata and tensors");
  cmd->add_option("model", *path, "GGUF model file")->required();
  cmd->add_flag("--all-metadata", *all, "Print whole arrays instead of their first items");
  cmd->callback([path, all, &exit_code] { exit_code = RunInspect(*path, *all); });
}

}  // namespace ll::cli
