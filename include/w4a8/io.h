// Checkpoints: safetensors files (read memory-mapped, written atomically),
// sharded model folders, and the compressed-tensors W4A8 mapping.
// Every failure names the file, the tensor and the problem.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>
#include "w4a8/linear.h"
#include "w4a8/status.h"
#include "w4a8/tensor.h"

namespace w4a8::io {

// ---- safetensors ------------------------------------------------------------
// Every dtype of the format (SPEC.md "safetensors"), in the format's spelling.
enum class StDType : uint8_t {
  BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64, F8_E4M3, F8_E5M2
};
const char* st_dtype_name(StDType t);
size_t st_dtype_size(StDType t);
// False when `name` is not a dtype of the format.
bool parse_st_dtype(const std::string& name, StDType* out);
// The dtypes w4a8 computes with; false for the others (I16, F64, F8, ...).
bool to_dtype(StDType t, DType* out);
StDType from_dtype(DType t);

struct TensorInfo {
  std::string name;
  StDType dtype = StDType::U8;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // [begin, end) in the data buffer
  int64_t numel() const;
  uint64_t nbytes() const { return end - begin; }
  std::string shape_string() const;  // "[4096, 512]"
};

// A validated safetensors file, memory-mapped read-only. Opening checks every
// rule of the format before anything is returned: header inside the file,
// UTF-8 JSON object without duplicate keys, known dtypes, byte sizes that match
// shapes, offsets in range, no overlaps, no holes, no trailing bytes.
class SafetensorsFile {
 public:
  static Result<SafetensorsFile> open(const std::string& path);
  // The same checks on bytes in memory (`label` stands for the file name in
  // messages). The bytes are copied.
  static Result<SafetensorsFile> from_bytes(const void* data, size_t size, const std::string& label);

  const std::string& path() const { return path_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // sorted by name
  const TensorInfo* find(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  uint64_t file_size() const { return size_; }
  // The tensor's bytes in the mapping (zero copies; valid while this object lives).
  const std::byte* bytes(const TensorInfo& t) const;
  // A zero-copy view when the dtype is one w4a8 computes with and the data is
  // aligned to its element size; otherwise an error that says which.
  Result<TensorView> view(const std::string& name) const;
  // A copy into an owning tensor (works for unaligned data too).
  Result<Tensor> read(const std::string& name) const;

 private:
  struct Mapping;
  static Result<SafetensorsFile> parse(std::shared_ptr<const Mapping> map, const std::string& label);
  std::shared_ptr<const Mapping> map_;
  std::string path_;
  uint64_t size_ = 0;
  uint64_t data_start_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

struct TensorSpec {
  std::string name;
  StDType dtype = StDType::U8;
  std::vector<int64_t> shape;
};

// Writes a safetensors file tensor by tensor, in any order, so a model never
// has to be in memory at once. The header is laid out when the writer is
// created (tensors ordered by element size, largest first, then by name, as
// the safetensors package does, so every tensor is aligned in a mapped file);
// data goes to "<path>.partial" and commit() renames it to `path` once every
// tensor was written, so a failure never leaves a half-written file under the
// final name. A writer destroyed before commit() removes its partial file.
class SafetensorsWriter {
 public:
  static Result<SafetensorsWriter> create(const std::string& path, std::vector<TensorSpec> specs,
                                          const std::map<std::string, std::string>& metadata = {});
  Status write(const std::string& name, const void* data, size_t nbytes);
  Status commit();
  uint64_t file_size() const;
  SafetensorsWriter(SafetensorsWriter&&) noexcept;
  SafetensorsWriter& operator=(SafetensorsWriter&&) noexcept;
  ~SafetensorsWriter();

 private:
  SafetensorsWriter() = default;
  struct State;
  std::unique_ptr<State> s_;
};

// A whole small file at once (tests, examples).
struct NamedBytes {
  TensorSpec spec;
  const void* data = nullptr;
  size_t nbytes = 0;
};
Status write_safetensors(const std::string& path, const std::vector<NamedBytes>& tensors,
                         const std::map<std::string, std::string>& metadata = {});

// ---- model folders ----------------------------------------------------------
// A model: one .safetensors file, a folder with model.safetensors, or a folder
// with model.safetensors.index.json (weight_map: tensor -> shard file).
class ModelFiles {
 public:
  static Result<ModelFiles> open(const std::string& path);
  const std::string& dir() const { return dir_; }  // folder of the files
  bool sharded() const { return sharded_; }
  // Shard file names (relative to dir()), in a stable order.
  std::vector<std::string> shard_names() const;
  const SafetensorsFile& shard(const std::string& file_name) const;
  // Every tensor name, sorted.
  const std::vector<std::string>& tensor_names() const { return names_; }
  // The tensor and its file; null when the model has no such tensor.
  struct Located {
    const SafetensorsFile* file = nullptr;
    const TensorInfo* info = nullptr;
  };
  Located find(const std::string& name) const;
  // config.json's text when the folder has one, else empty.
  const std::string& config_json() const { return config_json_; }

 private:
  std::string dir_;
  bool sharded_ = false;
  std::map<std::string, SafetensorsFile> shards_;
  std::map<std::string, std::string> shard_of_;
  std::vector<std::string> names_;
  std::string config_json_;
};

// model.safetensors.index.json: {"metadata": {"total_size": bytes}, "weight_map": {...}}.
Status write_index_json(const std::string& path, uint64_t total_size,
                        const std::map<std::string, std::string>& weight_map);

// ---- compressed-tensors -----------------------------------------------------
struct QuantArgs {
  int num_bits = 8;
  std::string type = "int";          // int | float
  bool symmetric = true;
  std::string strategy = "tensor";   // tensor | channel | group | block | token
  int64_t group_size = -1;           // -1: null
  bool dynamic = false;
  std::string actorder;              // "", "group", "weight", "static"
};
struct ConfigGroup {
  std::string name;
  std::vector<std::string> targets;  // "Linear" or "re:<regex>" or module names
  bool has_weights = false, has_input_activations = false;
  QuantArgs weights, input_activations;
  std::string format;                // per-group format ("" when absent)
};
struct QuantizationConfig {
  std::string quant_method;          // "compressed-tensors"
  std::string format;                // int-quantized | pack-quantized | ...
  std::vector<ConfigGroup> groups;
  std::vector<std::string> ignore;
  // The group whose targets match a Linear module of this name (and that the
  // ignore list does not exclude); null when none does.
  const ConfigGroup* group_for(const std::string& module) const;
};
// Parses config.json's text; `label` names the file in messages. A config
// without quantization_config gives an empty quant_method.
Result<QuantizationConfig> parse_quantization_config(const std::string& config_json,
                                                     const std::string& label);
// The W4A8 preset (int4 weights, group `group_size` or channel when -1,
// dynamic per-token int8 activations) as a quantization_config JSON object.
std::string w4a8_quantization_config_json(const std::string& format, int64_t group_size,
                                          bool symmetric, const std::vector<std::string>& ignore);
// True when `module` matches one of the patterns ("re:<regex>" matches from the
// start of the name, like compressed-tensors; anything else matches exactly or
// as the last components of the name).
bool matches_any(const std::string& module, const std::vector<std::string>& patterns);

// One linear layer in a checkpoint, as `w4a8 inspect` lists it.
struct LayerInfo {
  std::string name;                  // module prefix, e.g. "model.layers.0.mlp.up_proj"
  std::string format;                // int-quantized | pack-quantized | dense
  int64_t out_features = 0, in_features = 0;
  int bits = 0;                      // 4, 8, 16 (dense fp16/bf16), ...
  int64_t group_size = -1;
  std::string scale_dtype;           // "F16", ... or "" for dense layers
  bool zero_points = false, g_idx = false, bias = false;
  bool act_static = false;           // input_scale (static per-tensor activations)
  bool act_asymmetric = false;       // activation zero points (dynamic, or a static input_zero_point)
  Status runnable;                   // ok, or why this project cannot run it
};

// A W4A8 layer read from a checkpoint; it owns its tensors.
struct LoadedLayer {
  std::string name;
  Tensor values;                     // [N, K] int8 in -8..7
  Tensor scales;                     // [N, G] as stored (f16/bf16/f32)
  Tensor zero_points;                // [N, G] int8 in -8..7, or undefined
  Tensor g_idx;                      // [K] int32, or undefined
  Tensor bias;                       // [N], or undefined
  int64_t group_size = -1;
  // Activations: dynamic per token unless input_scale is defined (static per
  // tensor, [1] as stored); input_zero_point [1] int32 or undefined (0).
  bool act_symmetric = true;
  Tensor input_scale, input_zero_point;
  LinearWeights weights() const;     // views for W4A8Linear::create
};

class Checkpoint {
 public:
  static Result<Checkpoint> open(const std::string& path);
  const ModelFiles& files() const { return files_; }
  const QuantizationConfig& quantization() const { return config_; }
  // Every module with a 2-D weight (quantized or dense), sorted by name.
  const std::vector<LayerInfo>& layers() const { return layers_; }
  const LayerInfo* find_layer(const std::string& name) const;
  // Reads one quantized layer into the canonical form (values in -8..7).
  Result<LoadedLayer> load_layer(const std::string& name) const;

 private:
  ModelFiles files_;
  QuantizationConfig config_;
  std::vector<LayerInfo> layers_;
};

// The tensors a layer is stored as in `format` ("int-quantized" or
// "pack-quantized"), with their bytes, named "<layer.name>.<suffix>".
// Loading these back gives the same values bit for bit.
struct EncodedLayer {
  std::vector<TensorSpec> specs;
  std::vector<std::vector<std::byte>> data;  // one buffer per spec
};
Result<EncodedLayer> encode_layer(const LoadedLayer& layer, const std::string& format);

// ---- w4a8 quantize ----------------------------------------------------------
struct QuantizeModelOptions {
  int64_t group_size = 128;               // -1: per output channel
  std::string format = "pack-quantized";  // or "int-quantized"
  bool symmetric = true;                  // false: int4 zero points per group
  std::vector<std::string> ignore = {"lm_head"};
  bool overwrite = false;                 // replace an existing output folder's files
};
struct QuantizeProgress {
  size_t tensors_done = 0, tensors_total = 0;
  uint64_t bytes_done = 0, bytes_total = 0;  // input bytes
  std::string current;
};
struct QuantizeSummary {
  size_t layers_quantized = 0;
  size_t tensors_kept = 0;
  uint64_t bytes_in = 0, bytes_out = 0;
  double mean_rel_error = 0, max_rel_error = 0;  // ||w - dq(w)|| / ||w|| per layer
  std::string worst_layer;
  std::vector<std::string> not_quantized;       // "name: reason", kept dense
  std::vector<std::string> files_copied;  // paths relative to the folder, subfolders' files too
  std::vector<std::string> not_copied;    // "path: reason" (hidden entries, the output folder)
};
// Reads a dense fp16/bf16/f32 model (file or folder), quantizes every Linear
// weight with round-to-nearest (compressed-tensors' rule), keeps the other
// tensors, copies the folder's other files and subfolders (list_model_tree in
// src/io/model_tree.h: links to files inside the folder are resolved, links
// to folders or outside it are an error), and writes config.json with the
// matching quantization_config. Tensor by tensor: memory stays bounded by the largest
// tensor. `progress` (optional) is called after each tensor.
Result<QuantizeSummary> quantize_model(const std::string& in, const std::string& out,
                                       const QuantizeModelOptions& options,
                                       const std::function<void(const QuantizeProgress&)>& progress = {});

}  // namespace w4a8::io
