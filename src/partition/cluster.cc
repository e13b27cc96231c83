#include "partition/cluster.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

namespace ll::partition {
namespace {

using nlohmann::json;

// Reads a number field; `required` fields must be present. Numbers must be finite and >= 0.
Status ReadNumber(const json& obj, const std::string& where, const char* key, bool required,
                  double& out) {
  if (!obj.contains(key)) {
    if (!required) return Status::Ok();
    return Status::Error(std::string(where).append(": missing field \"").append(key).append("\""));
  }
  const json& v = obj.at(key);
  if (!v.is_number()) {
    return Status::Error(
        std::string(where).append(": \"").append(key).append("\" must be a number"));
  }
  out = v.get<double>();
  if (!std::isfinite(out) || out < 0) {
    return Status::Error(
        std::string(where).append(": \"").append(key).append("\" must be >= 0, got ") + v.dump());
  }
  return Status::Ok();
}

Result<LinkProfile> ReadLink(const json& j, const std::string& where, bool named) {
  if (!j.is_object()) return Status::Error(where + ": must be an object");
  LinkProfile l;
  if (named) {
    for (const char* key : {"a", "b"}) {
      if (!j.contains(key) || !j.at(key).is_string()) {
        return Status::Error(
            std::string(where).append(": missing string field \"").append(key).append("\""));
      }
    }
    l.a = j.at("a").get<std::string>();
    l.b = j.at("b").get<std::string>();
  }
  LL_RETURN_IF_ERROR(ReadNumber(j, where, "bandwidth_mbit_s", true, l.bandwidth_mbit_s));
  LL_RETURN_IF_ERROR(ReadNumber(j, where, "rtt_ms", true, l.rtt_ms));
  LL_RETURN_IF_ERROR(ReadNumber(j, where, "message_bytes", false, l.message_bytes));
  LL_RETURN_IF_ERROR(ReadNumber(j, where, "message_ms", false, l.message_ms));
  if (j.contains("message_bytes") != j.contains("message_ms")) {
    return Status::Error(where +
                         ": \"message_bytes\" and \"message_ms\" go together (the "
                         "one-way time of one message of that size)");
  }
  return l;
}

// "decode_gflops_by_type": {"q4_K": 50.2, "q6_K": 33.0}: type names as DTypeName prints them
// (case-insensitive), rates > 0, each type once.
Result<std::vector<TypeRate>> ReadTypeRates(const json& j, const std::string& where) {
  const std::string field = where + ": \"decode_gflops_by_type\"";
  if (!j.is_object()) return Status::Error(field + " must be an object {\"q4_K\": 50.0, ...}");
  std::vector<TypeRate> rates;
  for (const auto& [name, v] : j.items()) {
    const std::optional<kernels::DType> type = kernels::DTypeFromName(name);
    if (!type) return Status::Error(field + ": unknown weight type \"" + name + "\"");
    for (const TypeRate& r : rates) {
      if (r.type == *type) return Status::Error(field + ": type \"" + name + "\" given twice");
    }
    if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() <= 0) {
      return Status::Error(field + ": the rate of \"" + name + "\" must be a number > 0");
    }
    rates.push_back({*type, v.get<double>()});
  }
  return rates;
}

}  // namespace

double DeviceProfile::DecodeGflops(kernels::DType t) const {
  for (const TypeRate& r : decode_gflops_by_type) {
    if (r.type == t) return r.gflops;
  }
  return decode_gflops;
}

double DeviceProfile::DecodeMs(const Work& work) const {
  double ms = work.other / (decode_gflops * 1e6) + work.attention / (AttentionGflops() * 1e6);
  for (const TypeFlops& m : work.matrix) ms += m.flops / (DecodeGflops(m.type) * 1e6);
  return ms;
}

double DeviceProfile::PipelineMs(const Work& work) const {
  // Every rate scaled alike: the concurrent profile measures the blended rate only.
  const double busy = PipelineGflops();
  return DecodeMs(work) * (decode_gflops / busy);
}

void DeviceProfile::SlowDown(double factor, double pipeline_factor) {
  const double busy = PipelineGflops();
  decode_gflops /= factor;
  attention_gflops /= factor;
  for (TypeRate& r : decode_gflops_by_type) r.gflops /= factor;
  pipeline_decode_gflops = busy / pipeline_factor;
}

const LinkProfile& Cluster::Link(int i, int j) const {
  const std::string& x = devices[i].name;
  const std::string& y = devices[j].name;
  for (const LinkProfile& l : links) {
    if ((l.a == x && l.b == y) || (l.a == y && l.b == x)) return l;
  }
  return default_link;
}

Status Cluster::Validate() const {
  if (devices.empty()) return Status::Error("the cluster has no devices");
  std::set<std::string> names;
  for (const DeviceProfile& d : devices) {
    const std::string where = "device \"" + d.name + "\"";
    if (d.name.empty()) return Status::Error("a device has an empty name");
    if (!names.insert(d.name).second) return Status::Error(where + " appears twice");
    if (!(d.decode_gflops > 0)) return Status::Error(where + ": decode_gflops must be > 0");
    if (!(d.prefill_gflops > 0)) return Status::Error(where + ": prefill_gflops must be > 0");
    if (!(d.memory_budget_bytes >= 0))
      return Status::Error(where + ": memory_budget_bytes must be >= 0");
    if (d.threads < 1) return Status::Error(where + ": threads must be >= 1");
    if (!(d.attention_gflops >= 0)) {
      return Status::Error(where + ": attention_gflops must be >= 0 (0: decode_gflops)");
    }
    if (!(d.calibration.step_cv >= 0 && d.calibration.step_cv <= 10)) {
      return Status::Error(where + ": step_time_cv must be in [0, 10] (standard deviation / mean)");
    }
  }
  auto check_link = [](const LinkProfile& l, const std::string& where) {
    if (!(l.bandwidth_mbit_s > 0)) return Status::Error(where + ": bandwidth_mbit_s must be > 0");
    if (!(l.rtt_ms >= 0)) return Status::Error(where + ": rtt_ms must be >= 0");
    if ((l.message_bytes > 0) != (l.message_ms > 0)) {
      return Status::Error(where + ": message_bytes and message_ms must both be > 0 or both 0");
    }
    return Status::Ok();
  };
  LL_RETURN_IF_ERROR(check_link(default_link, "default_link"));
  std::set<std::pair<std::string, std::string>> pairs;
  for (const LinkProfile& l : links) {
    const std::string where = "link " + l.a + " - " + l.b;
    for (const std::string* n : {&l.a, &l.b}) {
      if (!names.count(*n)) return Status::Error(where + ": unknown device \"" + *n + "\"");
    }
    if (l.a == l.b) return Status::Error(where + ": a link joins two different devices");
    if (!pairs.insert(std::minmax(l.a, l.b)).second) return Status::Error(where + " appears twice");
    LL_RETURN_IF_ERROR(check_link(l, where));
  }
  return Status::Ok();
}

Result<Cluster> Cluster::FromJson(const json& j) {
  if (!j.is_object()) return Status::Error("a cluster file is a JSON object");
  if (!j.contains("devices") || !j.at("devices").is_array()) {
    return Status::Error("missing array field \"devices\"");
  }
  Cluster c;
  int index = 0;
  for (const json& d : j.at("devices")) {
    std::string where = "devices[" + std::to_string(index++) + "]";
    if (!d.is_object()) return Status::Error(where + ": must be an object");
    if (!d.contains("name") || !d.at("name").is_string()) {
      return Status::Error(where + ": missing string field \"name\"");
    }
    DeviceProfile p;
    p.name = d.at("name").get<std::string>();
    where += " (" + p.name + ")";
    double threads = 1;
    LL_RETURN_IF_ERROR(ReadNumber(d, where, "memory_budget_bytes", true, p.memory_budget_bytes));
    LL_RETURN_IF_ERROR(ReadNumber(d, where, "threads", false, threads));
    LL_RETURN_IF_ERROR(ReadNumber(d, where, "decode_gflops", true, p.decode_gflops));
    p.prefill_gflops = p.decode_gflops;  // optional: defaults to the decode rate
    LL_RETURN_IF_ERROR(ReadNumber(d, where, "prefill_gflops", false, p.prefill_gflops));
    LL_RETURN_IF_ERROR(
        ReadNumber(d, where, "pipeline_decode_gflops", false, p.pipeline_decode_gflops));
    LL_RETURN_IF_ERROR(ReadNumber(d, where, "step_time_cv", false, p.calibration.step_cv));
    LL_RETURN_IF_ERROR(ReadNumber(d, where, "attention_gflops", false, p.attention_gflops));
    if (d.contains("decode_gflops_by_type")) {
      LL_ASSIGN_OR_RETURN(p.decode_gflops_by_type,
                          ReadTypeRates(d.at("decode_gflops_by_type"), where));
    }
    p.threads = static_cast<int>(threads);
    if (p.threads != threads || p.threads < 1) {
      return Status::Error(where + ": \"threads\" must be a positive integer");
    }
    c.devices.push_back(p);
  }
  if (j.contains("links")) {
    if (!j.at("links").is_array()) return Status::Error("\"links\" must be an array");
    index = 0;
    for (const json& l : j.at("links")) {
      LL_ASSIGN_OR_RETURN(LinkProfile p,
                          ReadLink(l, "links[" + std::to_string(index++) + "]", true));
      c.links.push_back(p);
    }
  }
  if (j.contains("default_link")) {
    LL_ASSIGN_OR_RETURN(c.default_link, ReadLink(j.at("default_link"), "default_link", false));
  }
  LL_RETURN_IF_ERROR(c.Validate());
  return c;
}

Result<Cluster> Cluster::Parse(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return Status::Error(std::string("not valid JSON: ") + e.what());
  }
  return FromJson(j);
}

Result<Cluster> Cluster::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::Error("cannot open cluster file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto c = Parse(ss.str());
  if (!c.ok()) return c.status().WithContext(path);
  return c;
}

json Cluster::ToJson() const {
  json j;
  j["devices"] = json::array();
  for (const DeviceProfile& d : devices) {
    json dev = {{"name", d.name},
                {"memory_budget_bytes", d.memory_budget_bytes},
                {"threads", d.threads},
                {"decode_gflops", d.decode_gflops},
                {"prefill_gflops", d.prefill_gflops},
                {"pipeline_decode_gflops", d.pipeline_decode_gflops},
                {"step_time_cv", d.calibration.step_cv}};
    if (!d.decode_gflops_by_type.empty()) {
      json by_type = json::object();
      for (const TypeRate& r : d.decode_gflops_by_type) {
        by_type[std::string(kernels::DTypeName(r.type))] = r.gflops;
      }
      dev["decode_gflops_by_type"] = by_type;
    }
    if (d.attention_gflops > 0) dev["attention_gflops"] = d.attention_gflops;
    j["devices"].push_back(dev);
  }
  j["links"] = json::array();
  for (const LinkProfile& l : links) {
    json link = {
        {"a", l.a}, {"b", l.b}, {"bandwidth_mbit_s", l.bandwidth_mbit_s}, {"rtt_ms", l.rtt_ms}};
    if (l.message_bytes > 0) {
      link["message_bytes"] = l.message_bytes;
      link["message_ms"] = l.message_ms;
    }
    j["links"].push_back(link);
  }
  j["default_link"] = {{"bandwidth_mbit_s", default_link.bandwidth_mbit_s},
                       {"rtt_ms", default_link.rtt_ms}};
  if (default_link.message_bytes > 0) {
    j["default_link"]["message_bytes"] = default_link.message_bytes;
    j["default_link"]["message_ms"] = default_link.message_ms;
  }
  return j;
}

Status Cluster::Save(const std::string& path) const {
  std::ofstream out(path);
  if (!out) return Status::Error("cannot write cluster file " + path);
  out << ToJson().dump(2) << "\n";
  if (!out) return Status::Error("error writing cluster file " + path);
  return Status::Ok();
}

}  // namespace ll::partition
