// What a 2-D ".weight" is when a file carries no module types: the one rule
// shared by `w4a8 quantize` (what to quantize) and Checkpoint (what to list).
#pragma once
#include <string>

namespace w4a8::io::detail {

// Empty for a Linear layer, else what the module is ("an embedding table").
inline std::string not_linear_reason(const std::string& module) {
  const std::string last = module.substr(module.find_last_of('.') + 1);
  if (last.find("embed") != std::string::npos || last == "wte" || last == "wpe") return "an embedding table";
  if (last.find("norm") != std::string::npos) return "a normalization weight";
  return {};
}

}  // namespace w4a8::io::detail
