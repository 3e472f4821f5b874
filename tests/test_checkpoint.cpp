// compressed-tensors checkpoints: hand-made files in both formats load into
// the exact int4 values and scales, write back bit-identically, run through
// W4A8Linear, and every unsupported layer says why.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "io_test_util.h"
#include "test_util.h"
#include "w4a8/io.h"

namespace w4a8::test {
namespace {

using io::StDType;

std::string config_text(const std::string& format, const std::string& weights, const std::string& acts = "",
                        const std::string& ignore = R"(["lm_head"])") {
  std::string groups = R"({"group_0":{"targets":["Linear"],"weights":)" + weights;
  if (!acts.empty()) groups += R"(,"input_activations":)" + acts;
  groups += "}}";
  return R"({"architectures":["Test"],"quantization_config":{"quant_method":"compressed-tensors","format":")" + format +
         R"(","config_groups":)" + groups + R"(,"ignore":)" + ignore + "}}";
}
const std::string kW4G128 = R"({"num_bits":4,"type":"int","symmetric":true,"strategy":"group","group_size":128})";
const std::string kW4G32Asym = R"({"num_bits":4,"type":"int","symmetric":false,"strategy":"group","group_size":32})";
const std::string kA8Token = R"({"num_bits":8,"type":"int","symmetric":true,"strategy":"token","dynamic":true})";
const std::string kA8TokenAsym = R"({"num_bits":8,"type":"int","symmetric":false,"strategy":"token","dynamic":true})";
const std::string kA8Static = R"({"num_bits":8,"type":"int","symmetric":true,"strategy":"tensor","dynamic":false})";
const std::string kA8StaticAsym = R"({"num_bits":8,"type":"int","symmetric":false,"strategy":"tensor","dynamic":false})";

// How a test layer's activations are quantized, and the config text for it.
enum class Acts { dynamic, dynamic_asym, static_sym, static_asym };
const std::string& acts_config(Acts a) {
  switch (a) {
    case Acts::dynamic: return kA8Token;
    case Acts::dynamic_asym: return kA8TokenAsym;
    case Acts::static_sym: return kA8Static;
    default: return kA8StaticAsym;
  }
}

template <typename T>
io::NamedBytes named(const std::string& name, StDType dt, std::vector<int64_t> shape, const std::vector<T>& v) {
  return {{name, dt, std::move(shape)}, v.data(), v.size() * sizeof(T)};
}

struct HandMadeLayer {
  int64_t n = 16, k = 256, group = 128;
  std::vector<int8_t> values, zp;
  std::vector<uint16_t> scales_f16, bias_f16;
  std::vector<int32_t> g_idx;
  // Static activations, stored as compressed-tensors does: the scale in the
  // weight dtype, the zero point as I8 (zeros for a symmetric scheme).
  std::vector<uint16_t> input_scale_f16;
  std::vector<int8_t> input_zero_point;
  explicit HandMadeLayer(int64_t n_, int64_t k_, int64_t group_, bool asym, bool act_order) : n(n_), k(k_), group(group_) {
    std::mt19937 rng(7);
    values = random_int4(n * k, rng);
    const int64_t groups = k / group;
    for (float f : random_floats(n * groups, rng, 0.01f, 0.1f)) scales_f16.push_back(float_to_half_bits(f));
    for (float f : random_floats(n, rng)) bias_f16.push_back(float_to_half_bits(f));
    if (asym) zp = random_int4(n * groups, rng);
    if (act_order) {
      // Column c joins group (7c+3) mod G: every group gets K/G columns, none contiguous.
      for (int64_t c = 0; c < k; ++c) g_idx.push_back(static_cast<int32_t>((c * 7 + 3) % groups));
    }
  }
  int64_t groups() const { return k / group; }
  std::vector<int32_t> packed_zero_points() const {  // [N/8, G], packed along N
    std::vector<int32_t> p(static_cast<size_t>(n / 8 * groups()));
    for (int64_t w = 0; w < n / 8; ++w)
      for (int64_t g = 0; g < groups(); ++g) {
        uint32_t word = 0;
        for (int i = 0; i < 8; ++i) word += static_cast<uint32_t>(zp[(8 * w + i) * groups() + g] + 8) << (4 * i);
        p[w * groups() + g] = static_cast<int32_t>(word);
      }
    return p;
  }
};

// Writes `layer` as compressed-tensors would, plus a dense embedding and lm_head.
void write_checkpoint(const TempDir& dir, const HandMadeLayer& l, const std::string& format, const std::string& config) {
  const std::string p = "model.layers.0.mlp.up_proj.";
  const std::vector<int32_t> packed = spec_pack(l.values, l.n, l.k);
  const std::vector<int64_t> shape = {l.n, l.k};
  const std::vector<uint16_t> dense(static_cast<size_t>(32 * 64), float_to_half_bits(0.5f));
  const std::vector<int32_t> zp_packed = l.zp.empty() ? std::vector<int32_t>{} : l.packed_zero_points();
  std::vector<io::NamedBytes> t = {named(p + "weight_scale", StDType::F16, {l.n, l.groups()}, l.scales_f16),
                                   named(p + "bias", StDType::F16, {l.n}, l.bias_f16),
                                   named("model.embed_tokens.weight", StDType::F16, {32, 64}, dense),
                                   named("lm_head.weight", StDType::F16, {32, 64}, dense)};
  if (format == "pack-quantized") {
    t.push_back(named(p + "weight_packed", StDType::I32, {l.n, l.k / 8}, packed));
    t.push_back(named(p + "weight_shape", StDType::I64, {2}, shape));
    if (!l.zp.empty()) t.push_back(named(p + "weight_zero_point", StDType::I32, {l.n / 8, l.groups()}, zp_packed));
  } else {
    t.push_back(named(p + "weight", StDType::I8, {l.n, l.k}, l.values));
    if (!l.zp.empty()) t.push_back(named(p + "weight_zero_point", StDType::I8, {l.n, l.groups()}, l.zp));
  }
  if (!l.g_idx.empty()) t.push_back(named(p + "weight_g_idx", StDType::I32, {l.k}, l.g_idx));
  if (!l.input_scale_f16.empty())
    t.push_back(named(p + "input_scale", StDType::F16, {static_cast<int64_t>(l.input_scale_f16.size())}, l.input_scale_f16));
  if (!l.input_zero_point.empty()) t.push_back(named(p + "input_zero_point", StDType::I8, {1}, l.input_zero_point));
  ASSERT_TRUE(io::write_safetensors(dir.file("model.safetensors"), t, {{"format", "pt"}}).is_ok());
  write_text(dir.file("config.json"), config);
}

void expect_loads_exactly(const std::string& format, bool asym, bool act_order, Acts acts = Acts::dynamic) {
  SCOPED_TRACE(format + (asym ? " asym" : " sym") + (act_order ? " g_idx" : "") + " acts " +
               std::to_string(static_cast<int>(acts)));
  TempDir dir;
  HandMadeLayer l(16, 256, asym ? 32 : 128, asym, act_order);
  const bool is_static = acts == Acts::static_sym || acts == Acts::static_asym;
  if (is_static) {
    l.input_scale_f16 = {float_to_half_bits(0.0125f)};
    l.input_zero_point = {static_cast<int8_t>(acts == Acts::static_asym ? -23 : 0)};
  }
  write_checkpoint(dir, l, format, config_text(format, asym ? kW4G32Asym : kW4G128, acts_config(acts)));
  auto ck = io::Checkpoint::open(dir.path());
  ASSERT_TRUE(ck.is_ok()) << ck.status().to_string();
  ASSERT_EQ(ck->layers().size(), 3u);
  const io::LayerInfo* info = ck->find_layer("model.layers.0.mlp.up_proj");
  ASSERT_NE(info, nullptr);
  EXPECT_TRUE(info->runnable.is_ok()) << info->runnable.to_string();
  EXPECT_EQ(info->format, format);
  EXPECT_EQ(info->bits, 4);
  EXPECT_EQ(info->group_size, l.group);
  EXPECT_EQ(info->out_features, l.n);
  EXPECT_EQ(info->in_features, l.k);
  EXPECT_EQ(info->zero_points, asym);
  EXPECT_EQ(info->act_static, is_static);
  EXPECT_EQ(info->act_asymmetric, acts == Acts::dynamic_asym || acts == Acts::static_asym);
  EXPECT_FALSE(ck->find_layer("model.embed_tokens")->runnable.is_ok());
  EXPECT_NE(ck->find_layer("model.embed_tokens")->runnable.message().find("embedding"), std::string::npos);

  auto layer = ck->load_layer("model.layers.0.mlp.up_proj");
  ASSERT_TRUE(layer.is_ok()) << layer.status().to_string();
  ASSERT_EQ(layer->values.numel(), l.n * l.k);
  EXPECT_EQ(std::memcmp(layer->values.data(), l.values.data(), l.values.size()), 0);
  EXPECT_EQ(std::memcmp(layer->scales.data(), l.scales_f16.data(), l.scales_f16.size() * 2), 0);
  EXPECT_EQ(std::memcmp(layer->bias.data(), l.bias_f16.data(), l.bias_f16.size() * 2), 0);
  ASSERT_EQ(layer->zero_points.defined(), asym);
  if (asym) {
    EXPECT_EQ(std::memcmp(layer->zero_points.data(), l.zp.data(), l.zp.size()), 0);
  }
  ASSERT_EQ(layer->g_idx.defined(), act_order);
  if (act_order) {
    EXPECT_EQ(std::memcmp(layer->g_idx.data(), l.g_idx.data(), l.g_idx.size() * 4), 0);
  }
  EXPECT_EQ(layer->act_symmetric, acts == Acts::dynamic || acts == Acts::static_sym);
  ASSERT_EQ(layer->input_scale.defined(), is_static);
  if (is_static) {
    EXPECT_EQ(std::memcmp(layer->input_scale.data(), l.input_scale_f16.data(), 2), 0);
  }
  // A symmetric scheme's stored zero point (0) is dropped; an asymmetric one is kept.
  ASSERT_EQ(layer->input_zero_point.defined(), acts == Acts::static_asym);
  if (acts == Acts::static_asym) {
    EXPECT_EQ(layer->input_zero_point.data_as<int32_t>()[0], -23);
  }

  // Written back in the same format: every tensor identical, byte for byte.
  auto enc = io::encode_layer(*layer, format);
  ASSERT_TRUE(enc.is_ok()) << enc.status().to_string();
  for (size_t i = 0; i < enc->specs.size(); ++i) {
    SCOPED_TRACE(enc->specs[i].name);
    auto at = ck->files().find(enc->specs[i].name);
    ASSERT_NE(at.info, nullptr);
    EXPECT_EQ(at.info->dtype, enc->specs[i].dtype);
    EXPECT_EQ(at.info->shape, enc->specs[i].shape);
    ASSERT_EQ(at.info->nbytes(), enc->data[i].size());
    EXPECT_EQ(std::memcmp(at.file->bytes(*at.info), enc->data[i].data(), enc->data[i].size()), 0);
  }

  // And it runs: same output as the layer built from the original arrays.
  LinearWeights direct;
  direct.values = TensorView(l.values.data(), DType::i8, {l.n, l.k});
  direct.scales = TensorView(l.scales_f16.data(), DType::f16, {l.n, l.groups()});
  direct.bias = TensorView(l.bias_f16.data(), DType::f16, {l.n});
  direct.group_size = l.group;
  if (asym) direct.zero_points = TensorView(l.zp.data(), DType::i8, {l.n, l.groups()});
  if (act_order) direct.g_idx = TensorView(l.g_idx.data(), DType::i32, {l.k});
  direct.act_symmetric = acts == Acts::dynamic || acts == Acts::static_sym;
  const float stored_scale = half_bits_to_float(float_to_half_bits(0.0125f));  // the value the file holds
  const int32_t in_zp = -23;
  if (is_static) direct.input_scale = TensorView(const_cast<float*>(&stored_scale), DType::f32, {1});
  if (acts == Acts::static_asym) direct.input_zero_point = TensorView(const_cast<int32_t*>(&in_zp), DType::i32, {1});
  LinearOptions opt;
  opt.backend = "reference";
  auto a = W4A8Linear::create(layer->weights(), opt);
  auto b = W4A8Linear::create(direct, opt);
  ASSERT_TRUE(a.is_ok()) << a.status().to_string();
  ASSERT_TRUE(b.is_ok());
  std::mt19937 rng(3);
  const Tensor x = to_tensor(random_floats(3 * l.k, rng), DType::f16, {3, l.k});
  auto ya = a->forward(x.view());
  auto yb = b->forward(x.view());
  ASSERT_TRUE(ya.is_ok() && yb.is_ok());
  EXPECT_EQ(std::memcmp(ya->data(), yb->data(), ya->nbytes()), 0);
  expect_every_backend_runs(layer->weights(), DType::f16, 7, 12);
}

TEST(Checkpoint, PackQuantizedSymmetric) { expect_loads_exactly("pack-quantized", false, false); }
TEST(Checkpoint, IntQuantizedSymmetric) { expect_loads_exactly("int-quantized", false, false); }
TEST(Checkpoint, PackQuantizedAsymmetricWithActOrder) { expect_loads_exactly("pack-quantized", true, true); }
TEST(Checkpoint, IntQuantizedAsymmetricWithActOrder) { expect_loads_exactly("int-quantized", true, true); }
TEST(Checkpoint, AsymmetricDynamicActivations) { expect_loads_exactly("pack-quantized", false, false, Acts::dynamic_asym); }
TEST(Checkpoint, StaticActivations) {
  expect_loads_exactly("pack-quantized", false, false, Acts::static_sym);
  expect_loads_exactly("int-quantized", true, true, Acts::static_sym);
}
TEST(Checkpoint, StaticAsymmetricActivations) {
  expect_loads_exactly("pack-quantized", true, true, Acts::static_asym);
  expect_loads_exactly("int-quantized", false, false, Acts::static_asym);
}

TEST(Checkpoint, SaysWhyALayerCannotRun) {
  HandMadeLayer l(16, 256, 128, false, false);
  struct Case {
    std::string config, reason;
  };
  const std::vector<Case> cases = {
      {config_text("pack-quantized", R"({"num_bits":8,"type":"int","symmetric":true,"strategy":"channel"})", kA8Token),
       "8-bit int weights"},
      {config_text("pack-quantized", kW4G128), "weight-only scheme"},
      {config_text("pack-quantized", kW4G128, R"({"num_bits":8,"type":"int","symmetric":true,"strategy":"tensor","dynamic":true})"),
       "activation strategy 'tensor' (dynamic)"},
      {config_text("pack-quantized", kW4G128, R"({"num_bits":8,"type":"int","symmetric":true,"strategy":"channel","dynamic":false})"),
       "activation strategy 'channel' with static scales"},
      {config_text("pack-quantized", kW4G128, kA8Token, R"(["re:.*up_proj$"])"), "no config group"},
      {R"({"architectures":["Test"]})", "no config group"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.reason);
    TempDir dir;
    write_checkpoint(dir, l, "pack-quantized", c.config);
    auto ck = io::Checkpoint::open(dir.path());
    ASSERT_TRUE(ck.is_ok()) << ck.status().to_string();
    const io::LayerInfo* info = ck->find_layer("model.layers.0.mlp.up_proj");
    ASSERT_NE(info, nullptr);
    ASSERT_FALSE(info->runnable.is_ok());
    EXPECT_NE(info->runnable.message().find(c.reason), std::string::npos) << info->runnable.message();
  }
}

TEST(Checkpoint, RejectsBrokenLayers) {
  HandMadeLayer l(16, 256, 128, false, false);
  {  // int4 values out of range in an int-quantized file
    TempDir dir;
    l.values[5] = 9;
    write_checkpoint(dir, l, "int-quantized", config_text("int-quantized", kW4G128, kA8Token));
    l.values[5] = 0;
    auto ck = io::Checkpoint::open(dir.path());
    ASSERT_TRUE(ck.is_ok());
    auto layer = ck->load_layer("model.layers.0.mlp.up_proj");
    ASSERT_FALSE(layer.is_ok());
    EXPECT_NE(layer.status().message().find("[0, 5] = 9 is outside the int4 range"), std::string::npos)
        << layer.status().message();
  }
  {  // scale shape that disagrees with the group size
    TempDir dir;
    write_checkpoint(dir, l, "pack-quantized",
                     config_text("pack-quantized", R"({"num_bits":4,"type":"int","symmetric":true,"strategy":"group","group_size":64})", kA8Token));
    auto ck = io::Checkpoint::open(dir.path());
    ASSERT_FALSE(ck.is_ok());
    EXPECT_NE(ck.status().message().find("weight_scale"), std::string::npos) << ck.status().message();
  }
  {  // static activations without their scale
    TempDir dir;
    write_checkpoint(dir, l, "pack-quantized", config_text("pack-quantized", kW4G128, kA8Static));
    auto ck = io::Checkpoint::open(dir.path());
    ASSERT_FALSE(ck.is_ok());
    EXPECT_NE(ck.status().message().find("has static activations but no input_scale"), std::string::npos)
        << ck.status().message();
  }
  {  // a static scale that is not one value, and a zero point that contradicts a symmetric config
    HandMadeLayer bad = l;
    bad.input_scale_f16 = {float_to_half_bits(0.1f), float_to_half_bits(0.2f)};
    TempDir dir;
    write_checkpoint(dir, bad, "pack-quantized", config_text("pack-quantized", kW4G128, kA8Static));
    auto ck = io::Checkpoint::open(dir.path());
    ASSERT_FALSE(ck.is_ok());
    EXPECT_NE(ck.status().message().find("expected one float"), std::string::npos) << ck.status().message();
    bad.input_scale_f16.resize(1);
    bad.input_zero_point = {4};
    TempDir dir2;
    write_checkpoint(dir2, bad, "pack-quantized", config_text("pack-quantized", kW4G128, kA8Static));
    auto ck2 = io::Checkpoint::open(dir2.path());
    ASSERT_TRUE(ck2.is_ok()) << ck2.status().to_string();
    auto layer = ck2->load_layer("model.layers.0.mlp.up_proj");
    ASSERT_FALSE(layer.is_ok());
    EXPECT_NE(layer.status().message().find("non-zero zero point in a layer the config calls symmetric"),
              std::string::npos)
        << layer.status().message();
  }
  {  // g_idx entries just outside 0..G-1 (G = 2 here): one past the last group, and -1 among real groups
    for (int32_t bad_group : {2, -1}) {
      HandMadeLayer bad(16, 256, 128, false, true);
      bad.g_idx[17] = bad_group;
      TempDir dir;
      write_checkpoint(dir, bad, "pack-quantized", config_text("pack-quantized", kW4G128, kA8Token));
      auto ck = io::Checkpoint::open(dir.path());
      ASSERT_TRUE(ck.is_ok()) << ck.status().to_string();
      auto layer = ck->load_layer("model.layers.0.mlp.up_proj");
      ASSERT_FALSE(layer.is_ok()) << bad_group;
      EXPECT_NE(layer.status().message().find("element 17 = " + std::to_string(bad_group) + " is not a group in 0..1"),
                std::string::npos)
          << layer.status().message();
    }
  }
  {  // a config that is not JSON
    TempDir dir;
    write_checkpoint(dir, l, "pack-quantized", "{oops");
    EXPECT_FALSE(io::Checkpoint::open(dir.path()).is_ok());
  }
  {  // a bad regex in ignore
    TempDir dir;
    write_checkpoint(dir, l, "pack-quantized", config_text("pack-quantized", kW4G128, kA8Token, R"(["re:(("])"));
    auto ck = io::Checkpoint::open(dir.path());
    ASSERT_FALSE(ck.is_ok());
    EXPECT_NE(ck.status().message().find("not a valid regular expression"), std::string::npos);
  }
}

TEST(ModelFiles, ReadsShardsThroughTheIndexAndChecksIt) {
  TempDir dir;
  const std::vector<float> a = {1, 2}, b = {3, 4, 5};
  ASSERT_TRUE(io::write_safetensors(dir.file("s1.safetensors"), {named("a", StDType::F32, {2}, a)}).is_ok());
  ASSERT_TRUE(io::write_safetensors(dir.file("s2.safetensors"), {named("b", StDType::F32, {3}, b)}).is_ok());
  ASSERT_TRUE(io::write_index_json(dir.file("model.safetensors.index.json"), 20,
                                   {{"a", "s1.safetensors"}, {"b", "s2.safetensors"}})
                  .is_ok());
  auto m = io::ModelFiles::open(dir.path());
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  EXPECT_TRUE(m->sharded());
  EXPECT_EQ(m->tensor_names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(m->find("b").file->path(), dir.file("s2.safetensors"));

  ASSERT_TRUE(io::write_index_json(dir.file("model.safetensors.index.json"), 20,
                                   {{"a", "s2.safetensors"}, {"b", "s2.safetensors"}})
                  .is_ok());
  auto bad = io::ModelFiles::open(dir.path());
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("weight_map"), std::string::npos) << bad.status().message();

  write_text(dir.file("model.safetensors.index.json"), R"({"weight_map":{"a":"../s1.safetensors"}})");
  EXPECT_FALSE(io::ModelFiles::open(dir.path()).is_ok());
  EXPECT_FALSE(io::ModelFiles::open(dir.file("missing")).is_ok());
}

}  // namespace
}  // namespace w4a8::test
