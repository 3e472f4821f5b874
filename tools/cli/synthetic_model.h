// A small dense Llama-shaped model written as a Hugging Face folder (bf16
// safetensors in two shards with an index, config.json, generation_config.json),
// so the demo and the tests can quantize a real-looking checkpoint.
#pragma once

#include <cstdint>
#include <string>

namespace w4a8::cli {

struct SyntheticModelShape {
  int64_t hidden = 512, intermediate = 1536, layers = 2, vocab = 2048;
};

// Writes into `dir` (created); returns the number of bytes of tensors written.
uint64_t write_synthetic_model(const std::string& dir, const SyntheticModelShape& shape, uint64_t seed);

}  // namespace w4a8::cli
