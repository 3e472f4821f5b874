// libFuzzer target: a model folder whose config.json and
// model.safetensors.index.json are the input (split at the first NUL byte),
// beside two valid shards holding a quantized layer. Checkpoint::open, then
// load_layer on every layer it lists: a clear error or a layer that loads.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "w4a8/io.h"

namespace {
namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

// The folder, made once per process: shard a holds the layer's weights, b its scales.
const fs::path& folder() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("w4a8-fuzz-folder-" + std::to_string(::getpid()));
    fs::create_directories(d);
    std::vector<int32_t> packed(16 * 8, 0x12345678);
    const std::vector<int64_t> shape = {16, 64};
    std::vector<uint16_t> scale(16 * 1, 0x2c00), bias(16, 0x3c00);
    const std::string p = "model.layers.0.mlp.up_proj.";
    using w4a8::io::StDType;
    if (!w4a8::io::write_safetensors((d / "a.safetensors").string(),
                                     {{{p + "weight_packed", StDType::I32, {16, 8}}, packed.data(), packed.size() * 4},
                                      {{p + "weight_shape", StDType::I64, {2}}, shape.data(), 16}},
                                     {}).is_ok() ||
        !w4a8::io::write_safetensors((d / "b.safetensors").string(),
                                     {{{p + "weight_scale", StDType::F16, {16, 1}}, scale.data(), scale.size() * 2},
                                      {{p + "bias", StDType::F16, {16}}, bias.data(), bias.size() * 2}},
                                     {}).is_ok())
      std::abort();
    std::atexit([] { std::error_code ec; fs::remove_all(folder(), ec); });
    return d;
  }();
  return dir;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const fs::path& d = folder();
  write(d / "config.json", input.substr(0, nul));
  write(d / "model.safetensors.index.json", nul == std::string::npos ? "" : input.substr(nul + 1));
  auto ck = w4a8::io::Checkpoint::open(d.string());
  if (!ck.is_ok()) {
    if (ck.status().message().empty()) std::abort();
    return 0;
  }
  for (const w4a8::io::LayerInfo& l : ck->layers()) {
    if (!l.runnable.is_ok()) continue;
    auto layer = ck->load_layer(l.name);
    if (!layer.is_ok() && layer.status().message().empty()) std::abort();
  }
  return 0;
}
