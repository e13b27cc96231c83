#include "net/messages.h"

#include <array>
#include <cmath>

#include "net/wire.h"

namespace ll::net {
namespace {

constexpr uint32_t kMaxTokensPerMessage = 1u << 20;
constexpr uint32_t kMaxEndpoint = 512;

// Each message's body codec: EncodeBody writes the fields in wire order, DecodeBody reads them
// in the same order and validates each one from the peer before it is used (failures stick in
// the Reader, which Decode checks once the body is read). Keep each pair together, in
// MessageType order.

void EncodeBody(Writer& w, const Hello& x) {
  w.U32(x.capabilities);
  w.Str(x.reply_to);
  w.U64(x.model_hash);
  w.U32(x.heartbeat_ms);
}

void DecodeBody(Reader& r, Hello& x) {
  x.capabilities = r.U32("capabilities");
  x.reply_to = r.Str("reply_to", kMaxEndpoint);
  x.model_hash = r.U64("model_hash");
  x.heartbeat_ms = r.U32("heartbeat_ms");
  if (r.ok() && x.heartbeat_ms > 3600000) r.Fail("heartbeat interval over an hour");
}

void EncodeBody(Writer& w, const HelloAck& x) {
  w.U32(x.capabilities);
  w.Str(x.name);
  w.U64(x.memory_budget_bytes);
  w.U32(x.threads);
}

void DecodeBody(Reader& r, HelloAck& x) {
  x.capabilities = r.U32("capabilities");
  x.name = r.Str("name", 256);
  x.memory_budget_bytes = r.U64("memory_budget_bytes");
  x.threads = r.U32("threads");
}

void EncodeBody(Writer& w, const Assign& x) {
  w.Str(x.model_path);
  w.U8(x.embed);
  w.U32(x.unit_begin);
  w.U32(x.unit_end);
  w.U8(x.head);
  w.U32(x.n_ctx);
  w.U32(x.n_seq);
  w.U32(x.n_batch);
  w.Str(x.next);
  w.Str(x.first);
  w.U8(static_cast<uint8_t>(x.wire));
  w.U8(static_cast<uint8_t>(x.weights));
  w.U64(x.weights_hash);
  w.U64(x.weights_file_bytes);
  w.U64(x.segment_weight_bytes);
  w.U8(x.replica_embed);
  w.U32(x.replica_begin);
  w.U32(x.replica_end);
  w.U8(x.replica_head);
  w.U32(x.epoch);
}

void DecodeBody(Reader& r, Assign& x) {
  x.model_path = r.Str("model_path", 4096);
  x.embed = r.U8("embed") != 0;
  x.unit_begin = r.U32("unit_begin");
  x.unit_end = r.U32("unit_end");
  x.head = r.U8("head") != 0;
  x.n_ctx = r.U32("n_ctx");
  x.n_seq = r.U32("n_seq");
  x.n_batch = r.U32("n_batch");
  x.next = r.Str("next", kMaxEndpoint);
  x.first = r.Str("first", kMaxEndpoint);
  const uint8_t wire = r.U8("wire encoding");
  const uint8_t weights = r.U8("weights mode");
  x.weights_hash = r.U64("weights_hash");
  x.weights_file_bytes = r.U64("weights_file_bytes");
  x.segment_weight_bytes = r.U64("segment_weight_bytes");
  x.replica_embed = r.U8("replica_embed") != 0;
  x.replica_begin = r.U32("replica_begin");
  x.replica_end = r.U32("replica_end");
  x.replica_head = r.U8("replica_head") != 0;
  x.epoch = r.U32("epoch");
  if (r.ok() && (x.replica_begin > x.unit_begin || x.replica_end < x.unit_end ||
                 (x.embed && !x.replica_embed) || (x.head && !x.replica_head))) {
    r.Fail("the replica does not contain the segment");
  }
  if (r.ok() && (wire < 1 || wire > 3)) r.Fail("unknown wire encoding " + std::to_string(wire));
  if (r.ok() && weights > 1) r.Fail("unknown weights mode " + std::to_string(weights));
  x.wire = static_cast<WireEncoding>(wire);
  x.weights = static_cast<WeightsMode>(weights);
  if (r.ok() && (x.unit_begin > x.unit_end || x.n_ctx == 0 || x.n_seq == 0 || x.n_seq > 4096 ||
                 x.n_batch == 0 || x.n_ctx > (1u << 24))) {
    r.Fail("segment or context fields out of range");
  }
}

void EncodeBody(Writer& w, const AssignAck& x) {
  w.U8(x.ok);
  w.U8(x.need_weights);
  w.Str(x.error);
  w.U64(x.weight_bytes);
  w.U64(x.kv_bytes);
}

void DecodeBody(Reader& r, AssignAck& x) {
  x.ok = r.U8("ok") != 0;
  x.need_weights = r.U8("need_weights") != 0;
  x.error = r.Str("error", 1u << 16);
  x.weight_bytes = r.U64("weight_bytes");
  x.kv_bytes = r.U64("kv_bytes");
}

// The sampling block of a Forward (docs/wire-protocol.md).
void EncodeSampling(Writer& w, const SamplingBlock& s) {
  w.F32(s.temperature);
  w.F32(s.top_p);
  w.F32(s.min_p);
  w.F32(s.repeat_penalty);
  w.I32(s.top_k);
  w.I32(s.repeat_last_n);
  w.U64(s.seed);
  w.U32(static_cast<uint32_t>(s.history.size()));
  w.I32Array(s.history);
  w.U32(s.n_predict);
  w.U8(s.ignore_eos);
  w.U32(static_cast<uint32_t>(s.end_ids.size()));
  w.I32Array(s.end_ids);
  w.U8(s.step_logits);
  w.U64(s.draws);
}

void DecodeSampling(Reader& r, SamplingBlock& s) {
  s.temperature = r.F32("sampling.temperature");
  s.top_p = r.F32("sampling.top_p");
  s.min_p = r.F32("sampling.min_p");
  s.repeat_penalty = r.F32("sampling.repeat_penalty");
  s.top_k = r.I32("sampling.top_k");
  s.repeat_last_n = r.I32("sampling.repeat_last_n");
  s.seed = r.U64("sampling.seed");
  const uint32_t n = r.U32("sampling.history count");
  s.history = r.I32Array(n, "sampling.history");
  s.n_predict = r.U32("sampling.n_predict");
  s.ignore_eos = r.U8("sampling.ignore_eos") != 0;
  const uint32_t n_end = r.U32("sampling.end_ids count");
  if (r.ok() && n_end > 1024) r.Fail("too many end-of-generation ids");
  s.end_ids = r.I32Array(n_end, "sampling.end_ids");
  s.step_logits = r.U8("sampling.step_logits") != 0;
  s.draws = r.U64("sampling.draws");
  if (!(std::isfinite(s.temperature) && s.temperature >= 0) || !(s.top_p > 0 && s.top_p <= 1) ||
      !(s.min_p >= 0 && s.min_p < 1) || !(s.repeat_penalty > 0) || s.top_k < 0 ||
      s.repeat_last_n < 0) {
    r.Fail("sampling parameters out of range");
  }
}

void EncodeBody(Writer& w, const Forward& x) {
  w.U64(x.request);
  w.U32(x.epoch);
  w.U32(x.seq);
  w.U32(x.pos);
  w.U32(x.n_tokens);
  const bool tokens = !x.tokens.empty();
  // Payload kind: 0 token ids, else the WireEncoding of the residual stream.
  w.U8(tokens ? 0 : static_cast<uint8_t>(x.encoding));
  if (tokens) {
    w.I32Array(x.tokens);
  } else if (x.encoding == WireEncoding::kF32) {
    w.U32(static_cast<uint32_t>(x.hidden.size()));
    w.F32Array(x.hidden);
  } else {
    w.U32(x.hidden_count);
    w.Bytes(x.packed);
  }
  w.U8(x.want_logits);
  w.U8(x.has_sampling);
  if (x.has_sampling) EncodeSampling(w, x.sampling);
}

void DecodeBody(Reader& r, Forward& x) {
  x.request = r.U64("request");
  x.epoch = r.U32("epoch");
  x.seq = r.U32("seq");
  x.pos = r.U32("pos");
  x.n_tokens = r.U32("n_tokens");
  if (r.ok() && (x.n_tokens == 0 || x.n_tokens > kMaxTokensPerMessage)) {
    r.Fail("n_tokens " + std::to_string(x.n_tokens) + " out of range");
  }
  const uint8_t kind = r.U8("payload kind");
  if (kind == 0) {
    x.tokens = r.I32Array(x.n_tokens, "tokens");
  } else if (kind >= 1 && kind <= 3) {
    x.encoding = static_cast<WireEncoding>(kind);
    const uint32_t count = r.U32("hidden count");
    if (r.ok() && (count == 0 || count % x.n_tokens != 0)) {
      r.Fail("hidden count " + std::to_string(count) + " is not a multiple of n_tokens " +
             std::to_string(x.n_tokens));
    }
    if (r.ok() && x.encoding == WireEncoding::kQ8_0 && count % 32 != 0) {
      r.Fail("q8_0 hidden count " + std::to_string(count) + " is not a multiple of 32");
    }
    if (x.encoding == WireEncoding::kF32) {
      x.hidden = r.F32Array(count, "hidden");
    } else if (r.ok()) {
      x.hidden_count = count;
      x.packed = r.RawBytes(EncodedBytes(x.encoding, count), "hidden");
    }
  } else if (r.ok()) {
    r.Fail("unknown payload kind " + std::to_string(kind));
  }
  x.want_logits = r.U8("want_logits") != 0;
  x.has_sampling = r.U8("has_sampling") != 0;
  if (x.has_sampling) DecodeSampling(r, x.sampling);
}

void EncodeBody(Writer& w, const Token& x) {
  w.U64(x.request);
  w.U32(x.epoch);
  w.I32(x.token);
  w.U8(x.continued);
  w.U32(static_cast<uint32_t>(x.logits.size()));
  w.F32Array(x.logits);
}

void DecodeBody(Reader& r, Token& x) {
  x.request = r.U64("request");
  x.epoch = r.U32("epoch");
  x.token = r.I32("token");
  x.continued = r.U8("continued") != 0;
  const uint32_t n = r.U32("logits count");
  x.logits = r.F32Array(n, "logits");
}

void EncodeBody(Writer& w, const EndRequest& x) { w.U64(x.request); }

void DecodeBody(Reader& r, EndRequest& x) { x.request = r.U64("request"); }

void EncodeBody(Writer&, const StatsRequest&) {}

void DecodeBody(Reader&, StatsRequest&) {}

void EncodeBody(Writer& w, const Stats& x) {
  w.Str(x.name);
  w.U64(x.steps);
  w.U64(x.tokens);
  w.U64(x.compute_us);
  w.U64(x.send_us);
  w.U64(x.wait_us);
  w.U64(x.bytes_sent);
  w.U64(x.weight_bytes);
  w.U64(x.kv_bytes);
  w.U64(x.head_us);
  w.U64(x.overhead_us);
  const auto buckets = x.compute_steps.NonZero();
  w.U32(static_cast<uint32_t>(buckets.size()));
  for (const auto& [bucket, count] : buckets) {
    w.U16(static_cast<uint16_t>(bucket));
    w.U64(count);
  }
  w.U64(x.cpu_us);
  w.U64(x.pause_us);
  w.U64(x.major_faults);
  w.U64(x.prompt_steps);
  w.U64(x.prompt_compute_us);
}

void DecodeBody(Reader& r, Stats& x) {
  x.name = r.Str("name", 256);
  x.steps = r.U64("steps");
  x.tokens = r.U64("tokens");
  x.compute_us = r.U64("compute_us");
  x.send_us = r.U64("send_us");
  x.wait_us = r.U64("wait_us");
  x.bytes_sent = r.U64("bytes_sent");
  x.weight_bytes = r.U64("weight_bytes");
  x.kv_bytes = r.U64("kv_bytes");
  x.head_us = r.U64("head_us");
  x.overhead_us = r.U64("overhead_us");
  const uint32_t n_buckets = r.U32("compute_steps buckets");
  if (r.ok() && n_buckets > StepHistogram::kBuckets) r.Fail("too many compute_steps buckets");
  for (uint32_t i = 0; i < n_buckets && r.ok(); ++i) {
    const uint16_t bucket = r.U16("compute_steps bucket");
    const uint64_t count = r.U64("compute_steps bucket count");
    if (r.ok() && bucket >= StepHistogram::kBuckets) {
      r.Fail("compute_steps bucket " + std::to_string(bucket) + " out of range");
    }
    if (r.ok()) x.compute_steps.Add(bucket, count);
  }
  x.cpu_us = r.U64("cpu_us");
  x.pause_us = r.U64("pause_us");
  x.major_faults = r.U64("major_faults");
  x.prompt_steps = r.U64("prompt_steps");
  x.prompt_compute_us = r.U64("prompt_compute_us");
}

void EncodeBody(Writer&, const Shutdown&) {}

void DecodeBody(Reader&, Shutdown&) {}

void EncodeBody(Writer& w, const ErrorMsg& x) {
  w.U64(x.request);
  w.Str(x.message);
}

void DecodeBody(Reader& r, ErrorMsg& x) {
  x.request = r.U64("request");
  x.message = r.Str("message", 1u << 16);
}

void EncodeBody(Writer& w, const WeightsChunk& x) {
  w.U64(x.offset);
  w.U64(x.total);
  w.U32(static_cast<uint32_t>(x.data.size()));
  w.Bytes(x.data);
}

void DecodeBody(Reader& r, WeightsChunk& x) {
  x.offset = r.U64("offset");
  x.total = r.U64("total");
  const uint32_t n = r.U32("chunk length");
  if (r.ok() && (x.offset > x.total || n > x.total - x.offset)) {
    r.Fail("chunk [" + std::to_string(x.offset) + ", +" + std::to_string(n) +
           ") lies outside the file of " + std::to_string(x.total) + " bytes");
  }
  x.data = r.RawBytes(n, "chunk data");
}

void EncodeBody(Writer& w, const WeightsAck& x) { w.U64(x.received); }

void DecodeBody(Reader& r, WeightsAck& x) { x.received = r.U64("received"); }

void EncodeBody(Writer& w, const ProfileRequest& x) {
  w.U32(static_cast<uint32_t>(x.matrices.size()));
  for (const ProfileMatrixShape& m : x.matrices) {
    w.U32(m.dtype);
    w.U32(m.n_in);
    w.U32(m.n_out);
  }
  w.U32(x.n_batch);
  w.F32(x.seconds);
  w.U8(x.refresh ? 1 : 0);
  w.U8(x.concurrent ? 1 : 0);
  w.U64(x.nonce);
  w.U32(x.attention_head_dim);
  w.U32(x.attention_heads);
  w.U32(x.attention_kv_heads);
}

void DecodeBody(Reader& r, ProfileRequest& x) {
  const uint32_t n = r.U32("matrix count");
  if (r.ok() && (n < 1 || n > 4096)) r.Fail("matrix count not in [1, 4096]");
  for (uint32_t i = 0; r.ok() && i < n; ++i) {
    ProfileMatrixShape m;
    m.dtype = r.U32("dtype");
    m.n_in = r.U32("n_in");
    m.n_out = r.U32("n_out");
    x.matrices.push_back(m);
  }
  x.n_batch = r.U32("n_batch");
  x.seconds = r.F32("seconds");
  x.refresh = r.U8("refresh") != 0;
  x.concurrent = r.U8("concurrent") != 0;
  x.nonce = r.U64("nonce");
  x.attention_head_dim = r.U32("attention_head_dim");
  x.attention_heads = r.U32("attention_heads");
  x.attention_kv_heads = r.U32("attention_kv_heads");
  if (r.ok() && !(x.seconds > 0.0f && x.seconds <= 60.0f)) r.Fail("seconds not in (0, 60]");
  if (r.ok() && x.attention_heads != 0 &&
      !(x.attention_head_dim >= 1 && x.attention_head_dim <= 4096 && x.attention_heads <= 4096 &&
        x.attention_kv_heads >= 1 && x.attention_heads % x.attention_kv_heads == 0)) {
    r.Fail("attention shape not head_dim in [1, 4096], heads in [1, 4096] a multiple of kv_heads");
  }
}

void EncodeBody(Writer& w, const ProfileReply& x) {
  w.F32(x.decode_gflops);
  w.F32(x.prefill_gflops);
  w.U32(static_cast<uint32_t>(x.decode_by_type.size()));
  for (const ProfileTypeRate& t : x.decode_by_type) {
    w.U32(t.dtype);
    w.F32(t.gflops);
  }
  w.U64(x.memory_available_bytes);
  w.U8(x.cached ? 1 : 0);
  w.U64(x.nonce);
  w.F32(x.attention_gflops);
}

void DecodeBody(Reader& r, ProfileReply& x) {
  x.decode_gflops = r.F32("decode_gflops");
  x.prefill_gflops = r.F32("prefill_gflops");
  const uint32_t n_types = r.U32("number of type rates");
  if (r.ok() && n_types > 64) r.Fail("more than 64 type rates");
  for (uint32_t i = 0; r.ok() && i < n_types; ++i) {
    ProfileTypeRate t;
    t.dtype = r.U32("type rate dtype");
    t.gflops = r.F32("type rate gflops");
    if (r.ok() && !(std::isfinite(t.gflops) && t.gflops > 0)) {
      r.Fail("type rate not finite and positive");
    }
    x.decode_by_type.push_back(t);
  }
  x.memory_available_bytes = r.U64("memory_available_bytes");
  x.cached = r.U8("cached") != 0;
  x.nonce = r.U64("nonce");
  x.attention_gflops = r.F32("attention_gflops");
  if (r.ok() && !(std::isfinite(x.decode_gflops) && std::isfinite(x.prefill_gflops))) {
    r.Fail("rates not finite");
  }
  if (r.ok() && !(std::isfinite(x.attention_gflops) && x.attention_gflops >= 0)) {
    r.Fail("attention rate not finite and >= 0");
  }
}

void EncodeBody(Writer& w, const Ping& x) {
  w.U64(x.nonce);
  w.U32(x.reply_bytes);
  w.U32(static_cast<uint32_t>(x.payload.size()));
  w.Bytes(x.payload);
  w.Str(x.reply_to);
}

void DecodeBody(Reader& r, Ping& x) {
  x.nonce = r.U64("nonce");
  x.reply_bytes = r.U32("reply_bytes");
  if (r.ok() && x.reply_bytes > (64u << 20)) r.Fail("reply_bytes above 64 MiB");
  x.payload = r.RawBytes(r.U32("payload length"), "payload");
  x.reply_to = r.Str("reply_to", kMaxEndpoint);
}

void EncodeBody(Writer& w, const Pong& x) {
  w.U64(x.nonce);
  w.U32(static_cast<uint32_t>(x.payload.size()));
  w.Bytes(x.payload);
}

void DecodeBody(Reader& r, Pong& x) {
  x.nonce = r.U64("nonce");
  x.payload = r.RawBytes(r.U32("payload length"), "payload");
}

void EncodeBody(Writer& w, const LinkProbe& x) {
  w.U64(x.nonce);
  w.Str(x.target);
  w.Str(x.self);
  w.U32(x.probe_bytes);
  w.U32(x.rounds);
  w.U32(x.message_bytes);
}

void DecodeBody(Reader& r, LinkProbe& x) {
  x.nonce = r.U64("nonce");
  x.target = r.Str("target", kMaxEndpoint);
  x.self = r.Str("self", kMaxEndpoint);
  x.probe_bytes = r.U32("probe_bytes");
  x.rounds = r.U32("rounds");
  x.message_bytes = r.U32("message_bytes");
  if (r.ok() && x.probe_bytes > (64u << 20)) r.Fail("probe_bytes above 64 MiB");
  if (r.ok() && x.message_bytes > (64u << 20)) r.Fail("message_bytes above 64 MiB");
  if (r.ok() && (x.rounds < 1 || x.rounds > 100)) r.Fail("rounds not in [1, 100]");
  if (r.ok() && (x.target.empty() || x.self.empty())) r.Fail("empty target or self endpoint");
}

void EncodeBody(Writer& w, const LinkReport& x) {
  w.U64(x.nonce);
  w.F32(x.rtt_ms);
  w.F32(x.send_mbit_s);
  w.F32(x.receive_mbit_s);
  w.U32(x.message_bytes);
  w.F32(x.message_ms);
}

void DecodeBody(Reader& r, LinkReport& x) {
  x.nonce = r.U64("nonce");
  x.rtt_ms = r.F32("rtt_ms");
  x.send_mbit_s = r.F32("send_mbit_s");
  x.receive_mbit_s = r.F32("receive_mbit_s");
  x.message_bytes = r.U32("message_bytes");
  x.message_ms = r.F32("message_ms");
  if (r.ok() &&
      !(x.rtt_ms >= 0.0f && x.send_mbit_s > 0.0f && x.receive_mbit_s > 0.0f && x.rtt_ms < 1e6f &&
        x.send_mbit_s < 1e9f && x.receive_mbit_s < 1e9f && x.message_ms >= 0.0f &&
        x.message_ms < 1e6f && (x.message_bytes > 0) == (x.message_ms > 0.0f))) {
    r.Fail("link figures out of range");
  }
}

void EncodeBody(Writer& w, const Pause& x) { w.U32(x.epoch); }

void DecodeBody(Reader& r, Pause& x) { x.epoch = r.U32("epoch"); }

void EncodeBody(Writer& w, const Move& x) {
  w.U32(x.epoch);
  w.U8(x.leave);
  EncodeBody(w, x.assign);
  w.U32(static_cast<uint32_t>(x.ring.size()));
  for (const MoveStage& s : x.ring) {
    w.Str(s.endpoint);
    w.U32(s.unit_begin);
    w.U32(s.unit_end);
    w.U8(s.embed);
    w.U8(s.head);
  }
}

void DecodeBody(Reader& r, Move& x) {
  x.epoch = r.U32("epoch");
  x.leave = r.U8("leave") != 0;
  DecodeBody(r, x.assign);
  const uint32_t n_ring = r.U32("ring count");
  if (r.ok() && (n_ring == 0 || n_ring > 256))
    r.Fail("ring of " + std::to_string(n_ring) + " stages");
  for (uint32_t i = 0; r.ok() && i < n_ring; ++i) {
    MoveStage s;
    s.endpoint = r.Str("ring.endpoint", kMaxEndpoint);
    s.unit_begin = r.U32("ring.unit_begin");
    s.unit_end = r.U32("ring.unit_end");
    s.embed = r.U8("ring.embed") != 0;
    s.head = r.U8("ring.head") != 0;
    if (r.ok() && s.unit_begin > s.unit_end) r.Fail("ring stage with units out of order");
    x.ring.push_back(std::move(s));
  }
}

void EncodeBody(Writer& w, const MoveCommit& x) {
  w.U32(x.epoch);
  w.U8(x.abort);
  w.U32(static_cast<uint32_t>(x.live.size()));
  for (const LiveSlot& l : x.live) {
    w.U64(l.request);
    w.U32(l.seq);
    w.U32(l.n_pos);
  }
}

void DecodeBody(Reader& r, MoveCommit& x) {
  x.epoch = r.U32("epoch");
  x.abort = r.U8("abort") != 0;
  const uint32_t n_live = r.U32("live count");
  if (r.ok() && n_live > 4096) r.Fail(std::to_string(n_live) + " live requests");
  for (uint32_t i = 0; r.ok() && i < n_live; ++i) {
    LiveSlot l;
    l.request = r.U64("live.request");
    l.seq = r.U32("live.seq");
    l.n_pos = r.U32("live.n_pos");
    x.live.push_back(l);
  }
}

void EncodeBody(Writer& w, const MoveAck& x) {
  w.U32(x.epoch);
  w.U8(x.done);
  w.U8(x.ok);
  w.U8(x.need_weights);
  w.Str(x.name);
  w.Str(x.error);
  w.U64(x.weight_bytes);
  w.U64(x.kv_bytes);
  w.U64(x.kv_sent_bytes);
  w.U64(x.kv_received_bytes);
  w.U64(x.loaded_bytes);
  w.F32(x.seconds);
}

void DecodeBody(Reader& r, MoveAck& x) {
  x.epoch = r.U32("epoch");
  x.done = r.U8("done") != 0;
  x.ok = r.U8("ok") != 0;
  x.need_weights = r.U8("need_weights") != 0;
  x.name = r.Str("name", 256);
  x.error = r.Str("error", 1u << 16);
  x.weight_bytes = r.U64("weight_bytes");
  x.kv_bytes = r.U64("kv_bytes");
  x.kv_sent_bytes = r.U64("kv_sent_bytes");
  x.kv_received_bytes = r.U64("kv_received_bytes");
  x.loaded_bytes = r.U64("loaded_bytes");
  x.seconds = r.F32("seconds");
  if (r.ok() && !(x.seconds >= 0.0f && x.seconds < 1e7f)) r.Fail("move time out of range");
}

void EncodeBody(Writer& w, const KvPiece& x) {
  w.U32(x.epoch);
  w.U64(x.request);
  w.U32(x.seq);
  w.U32(x.layer);
  w.U32(x.n_pos);
  w.U32(static_cast<uint32_t>(x.data.size()));
  w.F32Array(x.data);
}

void DecodeBody(Reader& r, KvPiece& x) {
  x.epoch = r.U32("epoch");
  x.request = r.U64("request");
  x.seq = r.U32("seq");
  x.layer = r.U32("layer");
  x.n_pos = r.U32("n_pos");
  const uint32_t n = r.U32("data count");
  x.data = r.F32Array(n, "data");
}

void EncodeBody(Writer& w, const HeadState& x) {
  w.U32(x.epoch);
  w.U64(x.request);
  EncodeSampling(w, x.sampling);
  w.U32(x.n_pos);
}

void DecodeBody(Reader& r, HeadState& x) {
  x.epoch = r.U32("epoch");
  x.request = r.U64("request");
  DecodeSampling(r, x.sampling);
  x.n_pos = r.U32("n_pos");
}

void EncodeBody(Writer& w, const Heartbeat& x) {
  w.Str(x.name);
  w.U32(x.epoch);
}

void DecodeBody(Reader& r, Heartbeat& x) {
  x.name = r.Str("name", 256);
  x.epoch = r.U32("epoch");
}

void EncodeBody(Writer& w, const Join& x) {
  w.Str(x.name);
  w.Str(x.endpoint);
}

void DecodeBody(Reader& r, Join& x) {
  x.name = r.Str("name", 256);
  x.endpoint = r.Str("endpoint", 1024);
  if (x.name.empty()) r.Fail("Join without a device name");
  if (x.endpoint.empty()) r.Fail("Join without an endpoint");
}

// Dispatch, generated from Message: entry i decodes (or names) the alternative of type i + 1.
template <typename M>
Message DecodeAs(Reader& r) {
  M m;
  DecodeBody(r, m);
  return m;
}

using BodyDecoder = Message (*)(Reader&);

template <size_t... I>
constexpr std::array<BodyDecoder, sizeof...(I)> BodyDecoders(std::index_sequence<I...>) {
  return {&DecodeAs<std::variant_alternative_t<I, Message>>...};
}

template <size_t... I>
constexpr std::array<const char*, sizeof...(I)> TypeNames(std::index_sequence<I...>) {
  return {std::variant_alternative_t<I, Message>::kName...};
}

constexpr auto kBodyDecoders = BodyDecoders(std::make_index_sequence<kMessageTypeCount>());
constexpr auto kTypeNames = TypeNames(std::make_index_sequence<kMessageTypeCount>());

}  // namespace

const char* MessageTypeName(MessageType t) {
  const size_t type = static_cast<size_t>(t);
  return type >= 1 && type <= kMessageTypeCount ? kTypeNames[type - 1] : "Unknown";
}

const char* WireEncodingName(WireEncoding e) {
  switch (e) {
    case WireEncoding::kF32:
      return "f32";
    case WireEncoding::kF16:
      return "f16";
    case WireEncoding::kQ8_0:
      return "q8_0";
  }
  return "unknown";
}

size_t EncodedBytes(WireEncoding e, uint64_t count) {
  switch (e) {
    case WireEncoding::kF32:
      return count * 4;
    case WireEncoding::kF16:
      return count * 2;
    case WireEncoding::kQ8_0:
      return count / 32 * 34;
  }
  return 0;
}

MessageType TypeOf(const Message& m) {
  return std::visit([](const auto& x) { return std::decay_t<decltype(x)>::kType; }, m);
}

std::vector<uint8_t> Encode(const Envelope& e) {
  Writer body;
  std::visit([&body](const auto& m) { EncodeBody(body, m); }, e.message);
  Writer w;
  w.bytes().reserve(kHeaderBytes + body.bytes().size());
  w.U32(kMagic);
  w.U16(kProtocolVersion);
  w.U16(static_cast<uint16_t>(TypeOf(e.message)));
  w.U64(e.model_hash);
  w.U32(static_cast<uint32_t>(body.bytes().size()));
  w.Bytes(body.bytes());
  return std::move(w.bytes());
}

Result<Envelope> Decode(std::span<const uint8_t> bytes) {
  if (bytes.size() < kHeaderBytes) {
    return Status::Error("message of " + std::to_string(bytes.size()) +
                         " bytes is shorter than the " + std::to_string(kHeaderBytes) +
                         "-byte header");
  }
  Reader h(bytes.first(kHeaderBytes));
  const uint32_t magic = h.U32("magic");
  const uint16_t version = h.U16("version");
  const uint16_t type = h.U16("type");
  Envelope e;
  e.model_hash = h.U64("model_hash");
  const uint32_t length = h.U32("body length");
  if (magic != kMagic) return Status::Error("bad magic: not a LinguaLinked message");
  if (version != kProtocolVersion) {
    return Status::Error("protocol version " + std::to_string(version) +
                         " is not supported (this build speaks " +
                         std::to_string(kProtocolVersion) + ")");
  }
  if (length != bytes.size() - kHeaderBytes || length > kMaxBodyBytes) {
    return Status::Error("body length field says " + std::to_string(length) + " bytes but " +
                         std::to_string(bytes.size() - kHeaderBytes) + " arrived");
  }
  if (type < 1 || type > kMessageTypeCount) {
    return Status::Error("unknown message type " + std::to_string(type));
  }
  Reader r(bytes.subspan(kHeaderBytes));
  e.message = kBodyDecoders[type - 1](r);
  LL_RETURN_IF_ERROR(r.Finish(kTypeNames[type - 1]));
  return e;
}

}  // namespace ll::net
