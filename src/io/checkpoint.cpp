// Checkpoint: finds the linear layers of a (compressed-tensors) checkpoint,
// says for each whether w4a8 can run it and why not, and loads one layer into
// the canonical form: int8 values in -8..7, scales as stored, zero points
// unpacked, g_idx as group numbers.
#include <algorithm>
#include <cstring>
#include <set>

#include "core/int4.h"
#include "io/module_kind.h"
#include "io/file_util.h"
#include "w4a8/io.h"
#include "w4a8/ops.h"

namespace w4a8::io {

namespace {
bool is_float(StDType t) { return t == StDType::F16 || t == StDType::BF16 || t == StDType::F32; }

// Reads a small integer tensor (I32/I64) of any shape as int64 values.
Result<std::vector<int64_t>> read_ints(const ModelFiles::Located& at) {
  const TensorInfo& t = *at.info;
  std::vector<int64_t> out(static_cast<size_t>(t.numel()));
  const std::byte* p = at.file->bytes(t);
  for (size_t i = 0; i < out.size(); ++i) {
    if (t.dtype == StDType::I32) {
      int32_t v;
      std::memcpy(&v, p + 4 * i, 4);
      out[i] = v;
    } else if (t.dtype == StDType::I64) {
      int64_t v;
      std::memcpy(&v, p + 8 * i, 8);
      out[i] = v;
    } else if (t.dtype == StDType::I8) {
      out[i] = static_cast<int8_t>(p[i]);
    } else {
      return invalid_argument(at.file->path() + ": tensor '" + t.name + "': dtype " + st_dtype_name(t.dtype) +
                              " where an integer tensor (I8/I32/I64) is expected");
    }
  }
  return out;
}

struct LayerTensors {
  ModelFiles::Located weight, packed, shape, scale, zero_point, g_idx, bias, input_scale, input_zero_point;
};

LayerTensors locate(const ModelFiles& f, const std::string& m) {
  return {f.find(m + ".weight"),      f.find(m + ".weight_packed"),     f.find(m + ".weight_shape"),
          f.find(m + ".weight_scale"), f.find(m + ".weight_zero_point"), f.find(m + ".weight_g_idx"),
          f.find(m + ".bias"),        f.find(m + ".input_scale"),       f.find(m + ".input_zero_point")};
}

std::string where(const ModelFiles::Located& at) { return at.file->path() + ": tensor '" + at.info->name + "'"; }

// Fills `info` from the tensors and the config; returns whether the layer can
// be decoded into a LoadedLayer (runnable adds the activation scheme).
Status describe(const ModelFiles& files, const QuantizationConfig& config, const std::string& module, LayerInfo& info) {
  const LayerTensors t = locate(files, module);
  info.name = module;
  info.bias = t.bias.info != nullptr;
  info.zero_points = t.zero_point.info != nullptr;
  info.g_idx = t.g_idx.info != nullptr;
  if (!t.packed.info && t.weight.info && !t.scale.info) {
    info.format = "dense";
    info.out_features = t.weight.info->shape[0];
    info.in_features = t.weight.info->shape[1];
    info.bits = static_cast<int>(8 * st_dtype_size(t.weight.info->dtype));
    const std::string kind = detail::not_linear_reason(module);
    if (!kind.empty()) return unsupported(kind + ", not a linear layer");
    if (matches_any(module, config.ignore)) return unsupported("kept dense: quantization_config's ignore list names it");
    return unsupported("a dense " + std::string(st_dtype_name(t.weight.info->dtype)) +
                       " layer, not quantized (w4a8 quantize turns it into W4A8)");
  }
  if (!t.scale.info) return invalid_argument(files.dir() + ": layer '" + module + "' has no weight_scale");
  const TensorInfo& scale = *t.scale.info;
  info.scale_dtype = st_dtype_name(scale.dtype);
  if (t.packed.info) {
    info.format = "pack-quantized";
    if (!t.shape.info) return invalid_argument(where(t.packed) + ": weight_shape is missing");
    auto shape = read_ints(t.shape);
    if (!shape) return shape.status();
    if (shape->size() != 2 || (*shape)[0] <= 0 || (*shape)[1] <= 0)
      return invalid_argument(where(t.shape) + ": must hold [out_features, in_features]");
    info.out_features = (*shape)[0];
    info.in_features = (*shape)[1];
  } else {
    info.format = "int-quantized";
    info.out_features = t.weight.info->shape[0];
    info.in_features = t.weight.info->shape[1];
  }
  const ConfigGroup* group = config.group_for(module);
  if (!group || !group->has_weights) {
    info.bits = info.format == "int-quantized" ? 8 * static_cast<int>(st_dtype_size(t.weight.info->dtype)) : 0;
    return unsupported("no config group of quantization_config covers this layer");
  }
  const QuantArgs& w = group->weights;
  info.bits = w.num_bits;
  info.group_size = w.strategy == "group" ? w.group_size : -1;
  const int64_t n = info.out_features, k = info.in_features;
  if (w.type != "int" || w.num_bits != 4)
    return unsupported(std::to_string(w.num_bits) + "-bit " + w.type + " weights; w4a8 runs 4-bit int weights");
  if (w.strategy != "group" && w.strategy != "channel")
    return unsupported("weight strategy '" + w.strategy + "'; w4a8 runs group and channel scales");
  if (k % 8 != 0) return unsupported("in_features=" + std::to_string(k) + " is not a multiple of 8");
  if (info.format == "pack-quantized") {
    const TensorInfo& p = *t.packed.info;
    if (p.dtype != StDType::I32 || p.shape != std::vector<int64_t>{n, k / 8})
      return invalid_argument(where(t.packed) + ": " + st_dtype_name(p.dtype) + " " + p.shape_string() +
                              ", expected I32 [" + std::to_string(n) + ", " + std::to_string(k / 8) + "]");
  } else if (t.weight.info->dtype != StDType::I8) {
    return unsupported(where(t.weight) + ": dtype " + st_dtype_name(t.weight.info->dtype) +
                       "; int-quantized 4-bit weights are stored as I8");
  }
  const int64_t groups = w.strategy == "channel" ? 1 : (w.group_size > 0 && k % w.group_size == 0 ? k / w.group_size : -1);
  if (groups < 0)
    return unsupported("group_size=" + std::to_string(w.group_size) + " does not divide in_features=" + std::to_string(k));
  if (!is_float(scale.dtype) || scale.shape != std::vector<int64_t>{n, groups})
    return invalid_argument(where(t.scale) + ": " + st_dtype_name(scale.dtype) + " " + scale.shape_string() +
                            ", expected a float [" + std::to_string(n) + ", " + std::to_string(groups) + "]");
  if (!w.symmetric && !t.zero_point.info)
    return invalid_argument(files.dir() + ": layer '" + module + "' is asymmetric but has no weight_zero_point");
  if (t.zero_point.info) {
    const TensorInfo& z = *t.zero_point.info;
    const std::vector<int64_t> want =
        info.format == "pack-quantized" ? std::vector<int64_t>{(n + 7) / 8, groups} : std::vector<int64_t>{n, groups};
    if (z.shape != want)
      return invalid_argument(where(t.zero_point) + ": shape " + z.shape_string() + ", expected " +
                              TensorInfo{"", z.dtype, want, 0, 0}.shape_string());
  }
  if (t.g_idx.info && t.g_idx.info->shape != std::vector<int64_t>{k})
    return invalid_argument(where(t.g_idx) + ": shape " + t.g_idx.info->shape_string() + ", expected [" +
                            std::to_string(k) + "]");
  if (t.bias.info && (!is_float(t.bias.info->dtype) || t.bias.info->shape != std::vector<int64_t>{n}))
    return invalid_argument(where(t.bias) + ": " + st_dtype_name(t.bias.info->dtype) + " " +
                            t.bias.info->shape_string() + ", expected a float [" + std::to_string(n) + "]");
  // Static activations: one scale (and zero point) per tensor, as compressed-tensors stores them.
  if (group->has_input_activations) {
    const QuantArgs& a = group->input_activations;
    info.act_static = !a.dynamic;
    info.act_asymmetric = !a.symmetric;
    if (info.act_static && a.strategy == "tensor" && !t.input_scale.info)
      return invalid_argument(files.dir() + ": layer '" + module + "' has static activations but no input_scale");
  }
  if (t.input_scale.info && (!is_float(t.input_scale.info->dtype) || t.input_scale.info->numel() != 1))
    return invalid_argument(where(t.input_scale) + ": " + st_dtype_name(t.input_scale.info->dtype) + " " +
                            t.input_scale.info->shape_string() + ", expected one float (a per-tensor scale)");
  if (t.input_zero_point.info && t.input_zero_point.info->numel() != 1)
    return invalid_argument(where(t.input_zero_point) + ": shape " + t.input_zero_point.info->shape_string() +
                            ", expected one value (a per-tensor zero point)");
  return Status::ok();
}

Status runnable(const QuantizationConfig& config, const LayerInfo& info) {
  const ConfigGroup* group = config.group_for(info.name);
  if (!group->has_input_activations)
    return unsupported("a weight-only scheme (no input_activations): w4a8 quantizes activations to int8, "
                       "which this checkpoint does not ask for");
  const QuantArgs& a = group->input_activations;
  if (a.type != "int" || a.num_bits != 8)
    return unsupported(std::to_string(a.num_bits) + "-bit " + a.type + " activations; w4a8 runs int8 activations");
  const bool dynamic_token = a.strategy == "token" && a.dynamic;
  const bool static_tensor = a.strategy == "tensor" && !a.dynamic;
  if (!dynamic_token && !static_tensor)
    return unsupported("activation strategy '" + a.strategy + "'" + (a.dynamic ? " (dynamic)" : " with static scales") +
                       "; w4a8 runs dynamic per-token or static per-tensor activation scales");
  LinearConfig lc;
  lc.act_static = static_tensor;
  lc.act_asymmetric = !a.symmetric;
  lc.in_features = info.in_features;
  lc.out_features = info.out_features;
  lc.group_size = info.group_size;
  lc.zero_points = info.zero_points;
  lc.has_g_idx = info.g_idx;
  return can_implement(lc);
}

Status copy_ints_to_i8(const ModelFiles::Located& at, Tensor& out, std::vector<int64_t> shape) {
  auto v = read_ints(at);
  if (!v) return v.status();
  out = Tensor(DType::i8, std::move(shape));
  for (size_t i = 0; i < v->size(); ++i) {
    if ((*v)[i] < -8 || (*v)[i] > 7)
      return invalid_argument(where(at) + ": element " + std::to_string(i) + " = " + std::to_string((*v)[i]) +
                              " is outside the int4 range -8..7");
    out.data_as<int8_t>()[i] = static_cast<int8_t>((*v)[i]);
  }
  return Status::ok();
}
}  // namespace

LinearWeights LoadedLayer::weights() const {
  LinearWeights w;
  w.values = values.view();
  w.scales = scales.view();
  w.group_size = group_size;
  if (zero_points.defined()) w.zero_points = zero_points.view();
  if (g_idx.defined()) w.g_idx = g_idx.view();
  if (bias.defined()) w.bias = bias.view();
  w.act_symmetric = act_symmetric;
  if (input_scale.defined()) w.input_scale = input_scale.view();
  if (input_zero_point.defined()) w.input_zero_point = input_zero_point.view();
  return w;
}

Result<Checkpoint> Checkpoint::open(const std::string& path) {
  Checkpoint c;
  auto files = ModelFiles::open(path);
  if (!files) return files.status();
  c.files_ = std::move(*files);
  if (!c.files_.config_json().empty()) {
    auto cfg = parse_quantization_config(c.files_.config_json(), c.files_.dir() + "/config.json");
    if (!cfg) return cfg.status();
    c.config_ = std::move(*cfg);
  }
  std::set<std::string> modules;
  for (const std::string& name : c.files_.tensor_names()) {
    if (detail::ends_with(name, ".weight_packed")) {
      modules.insert(name.substr(0, name.size() - 14));
    } else if (detail::ends_with(name, ".weight") && c.files_.find(name).info->shape.size() == 2) {
      modules.insert(name.substr(0, name.size() - 7));
    }
  }
  for (const std::string& m : modules) {
    LayerInfo info;
    info.runnable = describe(c.files_, c.config_, m, info);
    if (info.runnable.code() == StatusCode::invalid_argument) return info.runnable;  // a broken file, not a choice
    if (info.runnable.is_ok()) info.runnable = runnable(c.config_, info);
    c.layers_.push_back(std::move(info));
  }
  return c;
}

const LayerInfo* Checkpoint::find_layer(const std::string& name) const {
  for (const LayerInfo& l : layers_)
    if (l.name == name) return &l;
  return nullptr;
}

Result<LoadedLayer> Checkpoint::load_layer(const std::string& name) const {
  const LayerInfo* info = find_layer(name);
  if (!info) return invalid_argument(files_.dir() + ": no linear layer named '" + name + "'");
  LayerInfo check;
  W4A8_RETURN_IF_ERROR(describe(files_, config_, name, check));
  const LayerTensors t = locate(files_, name);
  const int64_t n = info->out_features, k = info->in_features;
  const int64_t groups = t.scale.info->shape[1];
  LoadedLayer out;
  out.name = name;
  out.group_size = info->group_size;
  if (info->format == "pack-quantized") {
    auto packed = t.packed.file->read(t.packed.info->name);
    if (!packed) return packed.status();
    out.values = Tensor(DType::i8, {n, k});
    W4A8_RETURN_IF_ERROR(unpack_int4(packed->view(), out.values.view()));
  } else {
    auto values = t.weight.file->read(t.weight.info->name);
    if (!values) return values.status();
    const int8_t* v = values->data_as<int8_t>();
    for (int64_t i = 0; i < n * k; ++i) {
      if (v[i] < -8 || v[i] > 7)
        return invalid_argument(where(t.weight) + ": element [" + std::to_string(i / k) + ", " + std::to_string(i % k) +
                                "] = " + std::to_string(v[i]) + " is outside the int4 range -8..7");
    }
    out.values = std::move(*values);
  }
  auto scales = t.scale.file->read(t.scale.info->name);
  if (!scales) return scales.status();
  out.scales = std::move(*scales);

  const bool symmetric = config_.group_for(name)->weights.symmetric;
  if (t.zero_point.info) {
    if (info->format == "pack-quantized") {
      // Packed along N: word [n/8, g] holds the zero points of rows 8(n/8)..+7.
      auto words = read_ints(t.zero_point);
      if (!words) return words.status();
      out.zero_points = Tensor(DType::i8, {n, groups});
      for (int64_t r = 0; r < n; ++r)
        for (int64_t g = 0; g < groups; ++g)
          out.zero_points.data_as<int8_t>()[r * groups + g] = static_cast<int8_t>(
              w4a8::detail::nibble(static_cast<int32_t>((*words)[(r / 8) * groups + g]), static_cast<int>(r % 8)) -
              w4a8::detail::kInt4Offset);
    } else {
      W4A8_RETURN_IF_ERROR(copy_ints_to_i8(t.zero_point, out.zero_points, {n, groups}));
    }
    if (symmetric) {
      // Symmetric checkpoints may carry all-zero zero points; anything else contradicts the config.
      const int8_t* z = out.zero_points.data_as<int8_t>();
      if (std::any_of(z, z + n * groups, [](int8_t v) { return v != 0; }))
        return invalid_argument(where(t.zero_point) + ": non-zero zero points in a layer the config calls symmetric");
      out.zero_points = Tensor();
    }
  }
  if (t.g_idx.info) {
    auto g = read_ints(t.g_idx);
    if (!g) return g.status();
    // compressed-tensors fills g_idx with -1 when a layer was quantized without act-order.
    if (!std::all_of(g->begin(), g->end(), [](int64_t v) { return v == -1; })) {
      out.g_idx = Tensor(DType::i32, {k});
      for (int64_t i = 0; i < k; ++i) {
        if ((*g)[i] < 0 || (*g)[i] >= groups)
          return invalid_argument(where(t.g_idx) + ": element " + std::to_string(i) + " = " + std::to_string((*g)[i]) +
                                  " is not a group in 0.." + std::to_string(groups - 1));
        out.g_idx.data_as<int32_t>()[i] = static_cast<int32_t>((*g)[i]);
      }
    }
  }
  if (t.bias.info) {
    auto b = t.bias.file->read(t.bias.info->name);
    if (!b) return b.status();
    out.bias = std::move(*b);
  }
  const ConfigGroup* group = config_.group_for(name);
  const QuantArgs& acts = group->input_activations;
  out.act_symmetric = !group->has_input_activations || acts.symmetric;
  if (group->has_input_activations && !acts.dynamic && t.input_scale.info) {
    auto s = t.input_scale.file->read(t.input_scale.info->name);
    if (!s) return s.status();
    out.input_scale = Tensor(s->dtype(), {1});
    std::memcpy(out.input_scale.data(), s->data(), s->nbytes());
    if (t.input_zero_point.info) {
      auto z = read_ints(t.input_zero_point);
      if (!z) return z.status();
      if ((*z)[0] < -128 || (*z)[0] > 127)
        return invalid_argument(where(t.input_zero_point) + ": " + std::to_string((*z)[0]) +
                                " is outside the int8 range -128..127");
      if ((*z)[0] != 0 && acts.symmetric)
        return invalid_argument(where(t.input_zero_point) + ": a non-zero zero point in a layer the config calls symmetric");
      if ((*z)[0] != 0) {  // compressed-tensors stores zeros for symmetric layers: nothing to keep
        out.input_zero_point = Tensor(DType::i32, {1});
        out.input_zero_point.data_as<int32_t>()[0] = static_cast<int32_t>((*z)[0]);
      }
    }
  }
  return out;
}

}  // namespace w4a8::io
