// quantize_model: a dense safetensors model in, a compressed-tensors W4A8
// checkpoint out, one tensor at a time so memory stays bounded by the largest
// tensor. Each output file is written atomically; config.json comes last, so
// an interrupted run never leaves a folder that claims to be complete.
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "io/file_util.h"
#include "io/model_tree.h"
#include "io/module_regex.h"
#include "io/module_kind.h"
#include "w4a8/io.h"
#include "w4a8/ops.h"

namespace w4a8::io {

namespace fs = std::filesystem;

namespace {
enum class Plan { keep, quantize };
struct TensorPlan {
  Plan plan = Plan::keep;
  std::string module;
};

double relative_error(const TensorView& w, const Tensor& values, const Tensor& scales, const Tensor& zp,
                      int64_t group) {
  const int64_t n = w.size(0), k = w.size(1), groups = scales.shape()[1];
  double err = 0, ref = 0;
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t c = 0; c < k; ++c) {
      const int64_t g = group > 0 ? c / group : 0;
      const double s = load_as_float(scales.view(), r * groups + g);
      const double z = zp.defined() ? zp.data_as<int8_t>()[r * groups + g] : 0;
      const double x = load_as_float(w, r * k + c);
      const double d = (values.data_as<int8_t>()[r * k + c] - z) * s;
      err += (x - d) * (x - d);
      ref += x * x;
    }
  }
  return ref > 0 ? std::sqrt(err / ref) : 0.0;
}

Status check_output_dir(const std::string& in_dir, const std::string& out, bool overwrite) {
  std::error_code ec;
  if (fs::exists(out, ec) && !fs::is_directory(out, ec)) return invalid_argument(out + ": exists and is not a folder");
  fs::create_directories(out, ec);
  if (ec) return detail::io_error(out + ": cannot create the folder: " + ec.message());
  if (fs::equivalent(in_dir, out, ec)) return invalid_argument(out + ": is the input folder; write to another one");
  if (!overwrite && fs::directory_iterator(out, ec) != fs::directory_iterator())
    return invalid_argument(out + ": is not empty (pass --overwrite to replace the files in it)");
  return Status::ok();
}
}  // namespace

Result<QuantizeSummary> quantize_model(const std::string& in, const std::string& out,
                                       const QuantizeModelOptions& options,
                                       const std::function<void(const QuantizeProgress&)>& progress) {
  if (options.format != "int-quantized" && options.format != "pack-quantized")
    return invalid_argument("format '" + options.format + "': choose int-quantized or pack-quantized");
  if (options.group_size != -1 && (options.group_size <= 0 || options.group_size % 32 != 0))
    return invalid_argument("group size " + std::to_string(options.group_size) +
                            ": must be -1 (per channel) or a positive multiple of 32");
  if (Status st = check_module_patterns(options.ignore); !st.is_ok()) return invalid_argument("ignore " + st.message());
  auto files = ModelFiles::open(in);
  if (!files) return files.status();
  if (!files->config_json().empty()) {
    auto cfg = parse_quantization_config(files->config_json(), files->dir() + "/config.json");
    if (!cfg) return cfg.status();
    if (!cfg->quant_method.empty())
      return invalid_argument(files->dir() + ": already quantized (config.json has a quantization_config)");
  }
  W4A8_RETURN_IF_ERROR(check_output_dir(files->dir(), out, options.overwrite));
  // A folder's other files and subfolders go along (a single .safetensors
  // file brings nothing else). Checked now, before anything is written.
  detail::ModelTree tree;
  if (detail::is_directory(in)) {
    auto listed = detail::list_model_tree(files->dir(), out);
    if (!listed) return listed.status();
    tree = std::move(*listed);
  }

  // Plan every tensor first, so the output headers can be laid out up front.
  QuantizeSummary summary;
  QuantizeProgress prog;
  std::map<std::string, TensorPlan> plans;
  std::vector<std::string> ignore = options.ignore;
  for (const std::string& name : files->tensor_names()) {
    const TensorInfo& t = *files->find(name).info;
    prog.tensors_total++;
    prog.bytes_total += t.nbytes();
    summary.bytes_in += t.nbytes();
    TensorPlan p;
    const bool float_2d = t.shape.size() == 2 && (t.dtype == StDType::F16 || t.dtype == StDType::BF16 || t.dtype == StDType::F32);
    if (detail::ends_with(name, ".weight") && float_2d) {
      p.module = name.substr(0, name.size() - 7);
      const int64_t n = t.shape[0], k = t.shape[1];
      std::string why = detail::not_linear_reason(p.module);
      if (why.empty() && matches_any(p.module, options.ignore)) why = "ignored (--ignore)";
      if (why.empty() && (k % 8 != 0 || n % 8 != 0 || (options.group_size > 0 && k % options.group_size != 0))) {
        why = "shape " + t.shape_string() + " does not fit int4 packing and group " + std::to_string(options.group_size);
        ignore.push_back(p.module);
      }
      if (why.empty()) {
        p.plan = Plan::quantize;
      } else {
        summary.not_quantized.push_back(p.module + ": " + why);
      }
    }
    plans[name] = p;
  }

  std::map<std::string, std::string> weight_map;
  uint64_t total_tensor_bytes = 0;
  double error_sum = 0;
  for (const std::string& shard : files->shard_names()) {
    const SafetensorsFile& f = files->shard(shard);
    std::vector<TensorSpec> specs;
    for (const TensorInfo& t : f.tensors()) {
      const TensorPlan& p = plans[t.name];
      if (p.plan == Plan::keep) {
        specs.push_back({t.name, t.dtype, t.shape});
        continue;
      }
      const int64_t n = t.shape[0], k = t.shape[1];
      const int64_t groups = options.group_size > 0 ? k / options.group_size : 1;
      const std::string pre = p.module + ".";
      if (options.format == "int-quantized") {
        specs.push_back({pre + "weight", StDType::I8, {n, k}});
      } else {
        specs.push_back({pre + "weight_packed", StDType::I32, {n, k / 8}});
        specs.push_back({pre + "weight_shape", StDType::I64, {2}});
      }
      specs.push_back({pre + "weight_scale", t.dtype, {n, groups}});
      if (!options.symmetric) {
        specs.push_back(options.format == "int-quantized" ? TensorSpec{pre + "weight_zero_point", StDType::I8, {n, groups}}
                                                          : TensorSpec{pre + "weight_zero_point", StDType::I32, {(n + 7) / 8, groups}});
      }
    }
    for (const TensorSpec& s : specs) weight_map[s.name] = shard;
    auto writer = SafetensorsWriter::create(detail::join_path(out, shard), specs, f.metadata());
    if (!writer) return writer.status();
    for (const TensorInfo& t : f.tensors()) {
      const TensorPlan& p = plans[t.name];
      prog.current = t.name;
      if (p.plan == Plan::keep) {
        W4A8_RETURN_IF_ERROR(writer->write(t.name, f.bytes(t), t.nbytes()));
        summary.tensors_kept++;
      } else {
        auto w = f.read(t.name);  // a copy: bounded by one tensor, and aligned whatever the file's layout
        if (!w) return w.status();
        const int64_t n = t.shape[0], k = t.shape[1];
        const int64_t groups = options.group_size > 0 ? k / options.group_size : 1;
        LoadedLayer layer;
        layer.name = p.module;
        layer.group_size = options.group_size;
        layer.values = Tensor(DType::i8, {n, k});
        layer.scales = Tensor(w->dtype(), {n, groups});
        if (!options.symmetric) layer.zero_points = Tensor(DType::i8, {n, groups});
        WeightQuantOptions wq;
        wq.group_size = options.group_size;
        wq.symmetric = options.symmetric;
        Status s = quantize_weights_int4(w->view(), layer.values.view(), layer.scales.view(),
                                         layer.zero_points.defined() ? layer.zero_points.view() : TensorView(), wq);
        if (!s.is_ok()) return Status(s.code(), f.path() + ": tensor '" + t.name + "': " + s.message());
        const double err = relative_error(w->view(), layer.values, layer.scales, layer.zero_points, options.group_size);
        error_sum += err;
        if (err >= summary.max_rel_error) {
          summary.max_rel_error = err;
          summary.worst_layer = p.module;
        }
        auto enc = encode_layer(layer, options.format);
        if (!enc) return enc.status();
        for (size_t i = 0; i < enc->specs.size(); ++i)
          W4A8_RETURN_IF_ERROR(writer->write(enc->specs[i].name, enc->data[i].data(), enc->data[i].size()));
        summary.layers_quantized++;
      }
      prog.tensors_done++;
      prog.bytes_done += t.nbytes();
      if (progress) progress(prog);
    }
    total_tensor_bytes += writer->file_size();
    summary.bytes_out += writer->file_size();
    W4A8_RETURN_IF_ERROR(writer->commit());
  }
  if (summary.layers_quantized) summary.mean_rel_error = error_sum / static_cast<double>(summary.layers_quantized);
  if (files->sharded())
    W4A8_RETURN_IF_ERROR(write_index_json(detail::join_path(out, detail::kIndexFileName), total_tensor_bytes, weight_map));

  // The rest of the model folder, its subfolders too (listed and checked above).
  W4A8_RETURN_IF_ERROR(detail::copy_model_tree(files->dir(), tree, out));
  summary.files_copied = tree.files;
  summary.not_copied = tree.skipped;

  nlohmann::ordered_json config = nlohmann::ordered_json::object();
  if (!files->config_json().empty()) config = nlohmann::ordered_json::parse(files->config_json(), nullptr, false);
  if (config.is_discarded() || !config.is_object())
    return invalid_argument(files->dir() + "/config.json: not a JSON object");
  config["quantization_config"] = nlohmann::ordered_json::parse(
      w4a8_quantization_config_json(options.format, options.group_size, options.symmetric, ignore));
  W4A8_RETURN_IF_ERROR(detail::write_file_atomic(detail::join_path(out, "config.json"), config.dump(2) + "\n"));
  return summary;
}

}  // namespace w4a8::io
