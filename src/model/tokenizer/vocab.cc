#include "model/tokenizer/vocab.h"

#include <algorithm>
#include <cctype>
#include <optional>

namespace ll::model {

namespace {

constexpr std::string_view kPrefix = "tokenizer.ggml.";

std::string Key(std::string_view name) { return std::string(kPrefix) + std::string(name); }

// An optional boolean key: absent keeps `value`, a wrongly typed one is an error.
Status ReadOptionalBool(const GgufFile& file, std::string_view key, bool* value) {
  if (file.Find(key) == nullptr) return Status::Ok();
  LL_ASSIGN_OR_RETURN(*value, file.GetBool(key));
  return Status::Ok();
}

// An optional token id. Like llama.cpp, an id outside the vocabulary is ignored (the default
// stays) rather than failing the load: some converters write placeholder ids.
Status ReadOptionalId(const GgufFile& file, std::string_view key, int32_t n_vocab, int32_t* id) {
  if (file.Find(key) == nullptr) return Status::Ok();
  LL_ASSIGN_OR_RETURN(uint64_t value, file.GetUint(key));
  if (value < static_cast<uint64_t>(n_vocab)) *id = static_cast<int32_t>(value);
  return Status::Ok();
}

TokenType ToTokenType(int64_t v) {
  return (v >= 1 && v <= 6) ? static_cast<TokenType>(v) : TokenType::kUndefined;
}

// Special tokens llama.cpp recognises by their text when the metadata does not name them.
// When several candidates of one role exist, the lexicographically smallest text wins (the
// order llama.cpp's sorted map visits them in); the chosen token is forced to control type.
struct SpecialRole {
  std::vector<std::string_view> keys;  // later keys override earlier ones (deprecated aliases)
  std::vector<std::string_view> texts;
  bool ends_generation;
};

const std::vector<SpecialRole>& SpecialRoles() {
  static const std::vector<SpecialRole> roles = {
      // [0] EOT and [1] EOM are also stored in the Vocab.
      {{"eot_token_id"},
       {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>",
        "<\xEF\xBD\x9C"
        "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"},
       false},
      {{"eom_token_id"}, {"<|eom_id|>"}, false},
      {{"fim_pre_token_id", "prefix_token_id"},
       {"<|fim_prefix|>", "<fim-prefix>",
        "<\xEF\xBD\x9C"
        "fim\xE2\x96\x81"
        "begin\xEF\xBD\x9C>",
        "<PRE>"},
       false},
      {{"fim_suf_token_id", "suffix_token_id"},
       {"<|fim_suffix|>", "<fim-suffix>",
        "<\xEF\xBD\x9C"
        "fim\xE2\x96\x81hole\xEF\xBD\x9C>",
        "<SUF>"},
       false},
      {{"fim_mid_token_id", "middle_token_id"},
       {"<|fim_middle|>", "<fim-middle>",
        "<\xEF\xBD\x9C"
        "fim\xE2\x96\x81"
        "end\xEF\xBD\x9C>",
        "<MID>"},
       false},
      {{"fim_pad_token_id"}, {"<|fim_pad|>", "<fim-pad>", "<PAD>"}, true},
      {{"fim_rep_token_id"}, {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>"}, true},
      {{"fim_sep_token_id"}, {"<|file_sep|>"}, true},
  };
  return roles;
}

// Token texts that always end generation (and are forced to control type).
constexpr std::string_view kEndOfGenerationTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>",
};

Status ResolveSpecialRoles(const GgufFile& file, Vocab* v) {
  std::vector<int32_t> eog;
  for (size_t r = 0; r < SpecialRoles().size(); ++r) {
    const SpecialRole& role = SpecialRoles()[r];
    int32_t id = -1;
    for (std::string_view key : role.keys) {
      LL_RETURN_IF_ERROR(ReadOptionalId(file, Key(key), v->size(), &id));
    }
    if (id < 0) {
      std::optional<std::string_view> best;
      for (std::string_view text : role.texts) {
        if (v->Find(text) >= 0 && (!best || text < *best)) best = text;
      }
      if (best) {
        id = v->Find(*best);
        v->types[id] = TokenType::kControl;
      }
    }
    if (r == 0) v->eot_id = id;
    if (r == 1) v->eom_id = id;
    if (role.ends_generation && id >= 0) eog.push_back(id);
  }
  for (std::string_view text : kEndOfGenerationTexts) {
    const int32_t id = v->Find(text);
    if (id < 0) continue;
    eog.push_back(id);
    v->types[id] = TokenType::kControl;
  }
  for (int32_t id : {v->eos_id, v->eot_id, v->eom_id}) {
    if (id >= 0) eog.push_back(id);
  }
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
  v->eog_ids = std::move(eog);
  return Status::Ok();
}

void BuildSpecialCache(Vocab* v) {
  for (int32_t id = 0; id < v->size(); ++id) {
    const TokenType t = v->types[id];
    if (t == TokenType::kControl || t == TokenType::kUserDefined || t == TokenType::kUnknown) {
      v->special_ids.push_back(id);
    }
  }
  std::stable_sort(v->special_ids.begin(), v->special_ids.end(),
                   [v](int32_t a, int32_t b) { return v->tokens[a].size() > v->tokens[b].size(); });
}

// Phi-3 chat tokens swallow the whitespace that follows them (its tokenizer.json says
// rstrip); llama.cpp keys this on the model name because GGUF has no per-token attribute.
void ApplyModelStripRules(const GgufFile& file, Vocab* v) {
  auto name = file.GetString("general.name");
  if (!name.ok()) return;
  std::string lower = *name;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.find("phi-3") == std::string::npos && lower.find("phi3") == std::string::npos) return;
  for (int32_t id : v->special_ids) v->strip[id] |= Vocab::kRstrip;
  if (int32_t id = v->Find("</s>"); id >= 0) v->strip[id] |= Vocab::kRstrip;
  for (std::string_view text : {"<unk>", "<s>", "<|endoftext|>"}) {
    if (int32_t id = v->Find(text); id >= 0) v->strip[id] &= ~Vocab::kRstrip;
  }
}

}  // namespace

Result<Vocab> LoadVocab(const GgufFile& file, const VocabDefaults& defaults) {
  Vocab v;
  v.kind = defaults.kind;
  LL_ASSIGN_OR_RETURN(std::vector<std::string_view> texts, file.GetStringArray(Key("tokens")));
  if (texts.empty()) return Status::Error(file.path() + ": tokenizer.ggml.tokens is empty");
  if (texts.size() > static_cast<size_t>(INT32_MAX)) {
    return Status::Error(file.path() + ": tokenizer.ggml.tokens is too long");
  }
  const size_t n = texts.size();

  v.tokens.reserve(n);
  v.ids.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    // An empty text could never be matched and would make the special-token search spin.
    std::string text =
        texts[i].empty() ? "[EMPTY_" + std::to_string(i) + "]" : std::string(texts[i]);
    v.ids[text] = static_cast<int32_t>(i);
    v.tokens.push_back(std::move(text));
  }

  v.scores.assign(n, 0.0f);
  if (file.Find(Key("scores")) != nullptr) {
    LL_ASSIGN_OR_RETURN(v.scores, file.GetFloatArray(Key("scores")));
    if (v.scores.size() != n) {
      return Status::Error(file.path() + ": tokenizer.ggml.scores has " +
                           std::to_string(v.scores.size()) + " entries for " + std::to_string(n) +
                           " tokens");
    }
  }
  v.types.assign(n, TokenType::kNormal);
  if (file.Find(Key("token_type")) != nullptr) {
    LL_ASSIGN_OR_RETURN(std::vector<int64_t> types, file.GetIntArray(Key("token_type")));
    if (types.size() != n) {
      return Status::Error(file.path() + ": tokenizer.ggml.token_type has " +
                           std::to_string(types.size()) + " entries for " + std::to_string(n) +
                           " tokens");
    }
    for (size_t i = 0; i < n; ++i) v.types[i] = ToTokenType(types[i]);
  }
  v.strip.assign(n, 0);

  // Defaults that point outside a small vocabulary mean "none".
  auto in_range = [&](int32_t id) { return v.valid(id) ? id : -1; };
  v.bos_id = in_range(defaults.bos_id);
  v.eos_id = in_range(defaults.eos_id);
  v.unk_id = in_range(defaults.unk_id);
  v.sep_id = in_range(defaults.sep_id);
  v.add_bos = defaults.add_bos;
  v.add_space_prefix = defaults.add_space_prefix;
  v.clean_spaces = defaults.clean_spaces;

  LL_RETURN_IF_ERROR(ReadOptionalId(file, Key("bos_token_id"), v.size(), &v.bos_id));
  LL_RETURN_IF_ERROR(ReadOptionalId(file, Key("eos_token_id"), v.size(), &v.eos_id));
  LL_RETURN_IF_ERROR(ReadOptionalId(file, Key("unknown_token_id"), v.size(), &v.unk_id));
  // (sic) the key is spelled this way in GGUF.
  LL_RETURN_IF_ERROR(ReadOptionalId(file, Key("seperator_token_id"), v.size(), &v.sep_id));
  LL_RETURN_IF_ERROR(ReadOptionalBool(file, Key("add_bos_token"), &v.add_bos));
  LL_RETURN_IF_ERROR(ReadOptionalBool(file, Key("add_space_prefix"), &v.add_space_prefix));

  LL_RETURN_IF_ERROR(ResolveSpecialRoles(file, &v));
  BuildSpecialCache(&v);
  ApplyModelStripRules(file, &v);
  return v;
}

}  // namespace ll::model
