// What `w4a8 quantize`, `inspect` and `run` print, shared with `w4a8 demo`
// so the main job shows exactly what the commands do.
#pragma once

#include <cstdint>
#include <string>

#include "w4a8/io.h"

namespace w4a8::cli {

// Quantizes with a progress bar on stderr, then prints the summary.
io::QuantizeSummary quantize_with_progress(const std::string& in, const std::string& out,
                                           const io::QuantizeModelOptions& options);

// The table of layers; returns how many w4a8 can run.
size_t print_layer_table(const io::Checkpoint& checkpoint);

// Loads one layer, runs `tokens` LLM-like tokens through it on `backend`, and
// prints its time and its error against fp64 x . dequant(W)^T.
void run_checkpoint_layer(const io::Checkpoint& checkpoint, const std::string& layer, int64_t tokens,
                          const std::string& backend);

}  // namespace w4a8::cli
