// libFuzzer target: any text as config.json (parse_quantization_config), then
// the per-module lookup on typical names (targets and ignore patterns,
// "re:" regular expressions included).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "w4a8/io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto cfg = w4a8::io::parse_quantization_config(text, "config.json");
  if (!cfg.is_ok()) {
    if (cfg.status().message().empty()) std::abort();
    return 0;
  }
  for (const char* m : {"model.layers.0.mlp.up_proj", "lm_head", "model.layers.31.self_attn.q_proj", ""}) {
    const w4a8::io::ConfigGroup* g = cfg->group_for(m);
    if (g && g->targets.empty()) std::abort();  // a group that matched has targets
  }
  return 0;
}
