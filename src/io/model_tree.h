// The files of a model folder besides its weights - tokenizer, generation
// config, a sentence-transformers folder's 1_Pooling/config.json, ... - listed
// and checked before quantize_model writes anything, copied after it.
#pragma once

#include <string>
#include <vector>

#include "w4a8/status.h"

namespace w4a8::io::detail {

struct ModelTree {
  std::vector<std::string> dirs;     // relative paths of the subfolders, parents first
  std::vector<std::string> files;    // relative paths of the files to copy
  std::vector<std::string> skipped;  // "path: reason" for what is not copied
};

// Everything under `dir` but its top level's weight files (*.safetensors, the
// shard index) and config.json, which quantize_model writes itself. Files in
// subfolders are copied as they are, safetensors too. Hidden entries (.git,
// .cache) are skipped and named in `skipped`, and so is `skip_dir` (the output
// folder, where it lies inside `dir`). A symbolic link to a file inside `dir`
// is copied as that file; one to a folder, or to anything outside `dir`, is an
// error that names it: nothing outside the model folder is followed.
Result<ModelTree> list_model_tree(const std::string& dir, const std::string& skip_dir);

// Creates the subfolders under `out` and copies the files (atomically each).
Status copy_model_tree(const std::string& dir, const ModelTree& tree, const std::string& out);

}  // namespace w4a8::io::detail
