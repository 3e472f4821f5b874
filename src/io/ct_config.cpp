// compressed-tensors' quantization_config: parsing what a checkpoint says,
// matching modules to config groups, and writing the W4A8 preset.
#include <nlohmann/json.hpp>

#include "io/file_util.h"
#include "io/module_regex.h"
#include "w4a8/io.h"

namespace w4a8::io {

using json = nlohmann::json;

namespace {
Status bad_config(const std::string& label, const std::string& what) {
  return invalid_argument(label + ": quantization_config: " + detail::printable(what));
}

Result<QuantArgs> parse_args(const json& j, const std::string& label, const std::string& where) {
  if (!j.is_object()) return bad_config(label, where + " is not an object");
  QuantArgs a;
  if (!j.contains("num_bits") || !j["num_bits"].is_number_integer())
    return bad_config(label, where + ".num_bits is missing or not an integer");
  a.num_bits = j["num_bits"].get<int>();
  if (j.contains("type") && j["type"].is_string()) a.type = j["type"].get<std::string>();
  if (j.contains("symmetric") && j["symmetric"].is_boolean()) a.symmetric = j["symmetric"].get<bool>();
  if (j.contains("strategy") && j["strategy"].is_string()) a.strategy = j["strategy"].get<std::string>();
  if (j.contains("group_size") && !j["group_size"].is_null()) {
    if (!j["group_size"].is_number_integer()) return bad_config(label, where + ".group_size is not an integer");
    a.group_size = j["group_size"].get<int64_t>();
  }
  if (j.contains("dynamic")) {
    const json& d = j["dynamic"];
    a.dynamic = d.is_boolean() ? d.get<bool>() : d.is_string();  // "local" is a dynamic mode too
  }
  if (j.contains("actorder")) {
    const json& o = j["actorder"];
    if (o.is_string()) a.actorder = o.get<std::string>();
    if (o.is_boolean() && o.get<bool>()) a.actorder = "group";  // older files wrote true
  }
  return a;
}
}  // namespace

bool matches_any(const std::string& module, const std::vector<std::string>& patterns) {
  for (const std::string& p : patterns) {
    if (p.rfind("re:", 0) == 0) {
      if (module_regex_matches(p.substr(3), module)) return true;
    } else if (module == p || (module.size() > p.size() && module.compare(module.size() - p.size(), p.size(), p) == 0 &&
                               module[module.size() - p.size() - 1] == '.')) {
      return true;
    }
  }
  return false;
}

const ConfigGroup* QuantizationConfig::group_for(const std::string& module) const {
  if (matches_any(module, ignore)) return nullptr;
  for (const ConfigGroup& g : groups) {
    for (const std::string& t : g.targets) {
      // Checkpoints carry no module classes: "Linear" stands for every linear
      // layer, which is what the caller asks about.
      if (t == "Linear" || matches_any(module, {t})) return &g;
    }
  }
  return nullptr;
}

Result<QuantizationConfig> parse_quantization_config(const std::string& config_json, const std::string& label) {
  json root = json::parse(config_json, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) return invalid_argument(label + ": not a JSON object");
  QuantizationConfig c;
  const char* key = root.contains("quantization_config") ? "quantization_config"
                    : root.contains("compression_config") ? "compression_config"  // older name
                                                          : nullptr;
  if (!key) return c;
  const json& q = root[key];
  if (!q.is_object()) return bad_config(label, "is not an object");
  if (q.contains("quant_method") && q["quant_method"].is_string()) c.quant_method = q["quant_method"].get<std::string>();
  if (q.contains("format") && q["format"].is_string()) c.format = q["format"].get<std::string>();
  if (q.contains("ignore") && q["ignore"].is_array()) {
    for (const json& i : q["ignore"]) {
      if (!i.is_string()) return bad_config(label, "ignore holds a non-string");
      c.ignore.push_back(i.get<std::string>());
    }
  }
  if (q.contains("config_groups")) {
    if (!q["config_groups"].is_object()) return bad_config(label, "config_groups is not an object");
    for (auto it = q["config_groups"].begin(); it != q["config_groups"].end(); ++it) {
      ConfigGroup g;
      g.name = it.key();
      const json& gj = *it;
      const std::string where = "config_groups." + g.name;
      if (!gj.is_object()) return bad_config(label, where + " is not an object");
      if (!gj.contains("targets") || !gj["targets"].is_array())
        return bad_config(label, where + ".targets is missing");
      for (const json& t : gj["targets"]) {
        if (!t.is_string()) return bad_config(label, where + ".targets holds a non-string");
        g.targets.push_back(t.get<std::string>());
      }
      if (gj.contains("weights") && !gj["weights"].is_null()) {
        auto a = parse_args(gj["weights"], label, where + ".weights");
        if (!a) return a.status();
        g.weights = *a;
        g.has_weights = true;
      }
      if (gj.contains("input_activations") && !gj["input_activations"].is_null()) {
        auto a = parse_args(gj["input_activations"], label, where + ".input_activations");
        if (!a) return a.status();
        g.input_activations = *a;
        g.has_input_activations = true;
      }
      if (gj.contains("format") && gj["format"].is_string()) g.format = gj["format"].get<std::string>();
      c.groups.push_back(std::move(g));
    }
  }
  std::vector<std::string> patterns = c.ignore;
  for (const ConfigGroup& g : c.groups) patterns.insert(patterns.end(), g.targets.begin(), g.targets.end());
  if (Status st = check_module_patterns(patterns); !st.is_ok()) return bad_config(label, st.message());
  return c;
}

std::string w4a8_quantization_config_json(const std::string& format, int64_t group_size, bool symmetric,
                                          const std::vector<std::string>& ignore) {
  using ojson = nlohmann::ordered_json;
  ojson weights;
  weights["num_bits"] = 4;
  weights["type"] = "int";
  weights["symmetric"] = symmetric;
  weights["group_size"] = group_size > 0 ? ojson(group_size) : ojson(nullptr);
  weights["strategy"] = group_size > 0 ? "group" : "channel";
  weights["block_structure"] = nullptr;
  weights["dynamic"] = false;
  weights["actorder"] = nullptr;
  weights["observer"] = "minmax";
  weights["observer_kwargs"] = ojson::object();
  ojson acts;
  acts["num_bits"] = 8;
  acts["type"] = "int";
  acts["symmetric"] = true;
  acts["group_size"] = nullptr;
  acts["strategy"] = "token";
  acts["block_structure"] = nullptr;
  acts["dynamic"] = true;
  acts["actorder"] = nullptr;
  acts["observer"] = nullptr;
  acts["observer_kwargs"] = ojson::object();
  ojson group;
  group["targets"] = {"Linear"};
  group["weights"] = weights;
  group["input_activations"] = acts;
  group["output_activations"] = nullptr;
  group["format"] = format;
  ojson q;
  q["config_groups"]["group_0"] = group;
  q["format"] = format;
  q["global_compression_ratio"] = nullptr;
  q["ignore"] = ignore;
  q["kv_cache_scheme"] = nullptr;
  q["quant_method"] = "compressed-tensors";
  q["quantization_status"] = "compressed";
  return q.dump();
}

}  // namespace w4a8::io
