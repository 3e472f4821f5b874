// write_synthetic_model: heavy-tailed bf16 weights with Llama's tensor names.
#include "cli/synthetic_model.h"

#include <filesystem>
#include <fstream>
#include <map>

#include "cli/synthetic.h"
#include "w4a8/w4a8.h"

namespace w4a8::cli {

uint64_t write_synthetic_model(const std::string& dir, const SyntheticModelShape& s, uint64_t seed) {
  std::filesystem::create_directories(dir);
  struct Entry {
    std::string name;
    Tensor t;
  };
  auto matrix = [&](const std::string& name, int64_t n, int64_t k) {
    const auto w = heavy_tailed_weights(n, k, seed++);
    Tensor t(DType::bf16, {n, k});
    for (int64_t i = 0; i < n * k; ++i) store_from_float(t.view(), i, w[static_cast<size_t>(i)]);
    return Entry{name, std::move(t)};
  };
  auto ones = [&](const std::string& name, int64_t n) {
    Tensor t(DType::bf16, {n});
    for (int64_t i = 0; i < n; ++i) store_from_float(t.view(), i, 1.0f);
    return Entry{name, std::move(t)};
  };
  // Shard 1: embeddings and the first half of the layers; shard 2: the rest.
  std::vector<Entry> shards[2];
  shards[0].push_back(matrix("model.embed_tokens.weight", s.vocab, s.hidden));
  for (int64_t l = 0; l < s.layers; ++l) {
    auto& out = shards[l < (s.layers + 1) / 2 ? 0 : 1];
    const std::string p = "model.layers." + std::to_string(l) + ".";
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "o_proj"})
      out.push_back(matrix(p + "self_attn." + proj + ".weight", s.hidden, s.hidden));
    out.push_back(matrix(p + "mlp.gate_proj.weight", s.intermediate, s.hidden));
    out.push_back(matrix(p + "mlp.up_proj.weight", s.intermediate, s.hidden));
    out.push_back(matrix(p + "mlp.down_proj.weight", s.hidden, s.intermediate));
    out.push_back(ones(p + "input_layernorm.weight", s.hidden));
    out.push_back(ones(p + "post_attention_layernorm.weight", s.hidden));
  }
  shards[1].push_back(ones("model.norm.weight", s.hidden));
  shards[1].push_back(matrix("lm_head.weight", s.vocab, s.hidden));

  std::map<std::string, std::string> weight_map;
  uint64_t total = 0;
  for (int i = 0; i < 2; ++i) {
    const std::string file = "model-0000" + std::to_string(i + 1) + "-of-00002.safetensors";
    std::vector<io::NamedBytes> tensors;
    for (const Entry& e : shards[i]) {
      tensors.push_back({{e.name, io::StDType::BF16, e.t.shape()}, e.t.data(), e.t.nbytes()});
      weight_map[e.name] = file;
      total += e.t.nbytes();
    }
    throw_if_error(io::write_safetensors(dir + "/" + file, tensors, {{"format", "pt"}}));
  }
  throw_if_error(io::write_index_json(dir + "/model.safetensors.index.json", total, weight_map));
  std::ofstream(dir + "/config.json")
      << "{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"model_type\": \"llama\",\n  \"hidden_size\": " << s.hidden
      << ",\n  \"intermediate_size\": " << s.intermediate << ",\n  \"num_hidden_layers\": " << s.layers
      << ",\n  \"num_attention_heads\": 8,\n  \"vocab_size\": " << s.vocab << ",\n  \"torch_dtype\": \"bfloat16\"\n}\n";
  std::ofstream(dir + "/generation_config.json") << "{\n  \"do_sample\": false\n}\n";
  return total;
}

}  // namespace w4a8::cli
