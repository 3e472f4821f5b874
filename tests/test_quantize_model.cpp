// quantize_model: a dense sharded model in, a compressed-tensors W4A8
// checkpoint out that loads back into exactly what quantize_weights_int4 gives.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "io_test_util.h"
#include "test_util.h"
#include "w4a8/io.h"

namespace w4a8::test {
namespace {

using io::StDType;

struct DenseModel {
  TempDir dir;
  std::map<std::string, Tensor> weights;  // bf16 2-D weights by tensor name
  DenseModel() {
    std::mt19937 rng(11);
    auto w = [&](const std::string& name, int64_t n, int64_t k) {
      weights[name] = to_tensor(random_floats(n * k, rng, -0.2f, 0.2f), DType::bf16, {n, k});
    };
    w("model.embed_tokens.weight", 64, 256);
    w("model.layers.0.self_attn.q_proj.weight", 256, 256);
    w("model.layers.0.mlp.up_proj.weight", 128, 256);
    w("model.layers.0.mlp.down_proj.weight", 256, 128);
    w("model.layers.0.odd_proj.weight", 24, 196);  // K=196: not a multiple of 8, no int4 packing
    w("lm_head.weight", 64, 256);
    const Tensor norm = to_tensor(std::vector<float>(256, 1.0f), DType::bf16, {256});
    const Tensor bias = to_tensor(std::vector<float>(128, 0.25f), DType::bf16, {128});
    auto nb = [](const std::string& n, const Tensor& t) {
      return io::NamedBytes{{n, StDType::BF16, t.shape()}, t.data(), t.nbytes()};
    };
    std::vector<io::NamedBytes> s1 = {nb("model.embed_tokens.weight", weights["model.embed_tokens.weight"]),
                                      nb("model.layers.0.self_attn.q_proj.weight", weights["model.layers.0.self_attn.q_proj.weight"]),
                                      nb("model.norm.weight", norm)};
    std::vector<io::NamedBytes> s2 = {nb("model.layers.0.mlp.up_proj.weight", weights["model.layers.0.mlp.up_proj.weight"]),
                                      nb("model.layers.0.mlp.up_proj.bias", bias),
                                      nb("model.layers.0.mlp.down_proj.weight", weights["model.layers.0.mlp.down_proj.weight"]),
                                      nb("model.layers.0.odd_proj.weight", weights["model.layers.0.odd_proj.weight"]),
                                      nb("lm_head.weight", weights["lm_head.weight"])};
    EXPECT_TRUE(io::write_safetensors(dir.file("model-00001-of-00002.safetensors"), s1, {{"format", "pt"}}).is_ok());
    EXPECT_TRUE(io::write_safetensors(dir.file("model-00002-of-00002.safetensors"), s2, {{"format", "pt"}}).is_ok());
    std::map<std::string, std::string> map;
    for (const auto& t : s1) map[t.spec.name] = "model-00001-of-00002.safetensors";
    for (const auto& t : s2) map[t.spec.name] = "model-00002-of-00002.safetensors";
    EXPECT_TRUE(io::write_index_json(dir.file("model.safetensors.index.json"), 0, map).is_ok());
    write_text(dir.file("config.json"), R"({"architectures":["LlamaForCausalLM"],"hidden_size":256})");
    write_text(dir.file("tokenizer.json"), R"({"version":"1.0"})");
  }
};

void expect_quantizes(const std::string& format, int64_t group, bool symmetric) {
  SCOPED_TRACE(format + " group " + std::to_string(group) + (symmetric ? " sym" : " asym"));
  DenseModel in;
  TempDir out;
  io::QuantizeModelOptions opt;
  opt.format = format;
  opt.group_size = group;
  opt.symmetric = symmetric;
  std::vector<io::QuantizeProgress> seen;
  auto summary = io::quantize_model(in.dir.path(), out.path(), opt, [&](const io::QuantizeProgress& p) { seen.push_back(p); });
  ASSERT_TRUE(summary.is_ok()) << summary.status().to_string();
  EXPECT_EQ(summary->layers_quantized, 3u);
  ASSERT_EQ(seen.size(), 8u);  // one call per input tensor
  EXPECT_EQ(seen.back().tensors_done, seen.back().tensors_total);
  EXPECT_EQ(seen.back().bytes_done, seen.back().bytes_total);
  EXPECT_GT(summary->mean_rel_error, 0.0);
  EXPECT_LT(summary->max_rel_error, 0.2);
  EXPECT_LT(summary->bytes_out, summary->bytes_in);
  EXPECT_EQ(summary->files_copied, std::vector<std::string>{"tokenizer.json"});
  std::string reasons;
  for (const auto& r : summary->not_quantized) reasons += r + "\n";
  EXPECT_NE(reasons.find("model.embed_tokens: an embedding table"), std::string::npos) << reasons;
  EXPECT_NE(reasons.find("lm_head: ignored"), std::string::npos) << reasons;
  EXPECT_NE(reasons.find("model.layers.0.odd_proj: shape [24, 196]"), std::string::npos) << reasons;
  for (const auto& name : std::filesystem::directory_iterator(out.path()))
    EXPECT_EQ(name.path().string().find(".partial"), std::string::npos) << name.path();

  auto cfg = nlohmann::json::parse(read_bytes(out.file("config.json")));
  EXPECT_EQ(cfg["architectures"][0], "LlamaForCausalLM");  // the rest of the config is kept
  EXPECT_EQ(cfg["quantization_config"]["format"], format);
  const auto ignore = cfg["quantization_config"]["ignore"].get<std::vector<std::string>>();
  EXPECT_EQ(ignore, (std::vector<std::string>{"lm_head", "model.layers.0.odd_proj"}));

  auto ck = io::Checkpoint::open(out.path());
  ASSERT_TRUE(ck.is_ok()) << ck.status().to_string();
  EXPECT_TRUE(ck->files().sharded());
  for (const char* m : {"model.layers.0.self_attn.q_proj", "model.layers.0.mlp.up_proj", "model.layers.0.mlp.down_proj"}) {
    SCOPED_TRACE(m);
    const io::LayerInfo* info = ck->find_layer(m);
    ASSERT_NE(info, nullptr);
    EXPECT_TRUE(info->runnable.is_ok()) << info->runnable.to_string();
    EXPECT_EQ(info->format, format);
    EXPECT_EQ(info->scale_dtype, "BF16");
    auto layer = ck->load_layer(m);
    ASSERT_TRUE(layer.is_ok()) << layer.status().to_string();
    const Tensor& w = in.weights[std::string(m) + ".weight"];
    const int64_t n = w.shape()[0], k = w.shape()[1], groups = group > 0 ? k / group : 1;
    Tensor values(DType::i8, {n, k}), scales(DType::bf16, {n, groups}), zp;
    if (!symmetric) zp = Tensor(DType::i8, {n, groups});
    WeightQuantOptions wq;
    wq.group_size = group;
    wq.symmetric = symmetric;
    ASSERT_TRUE(quantize_weights_int4(w.view(), values.view(), scales.view(), zp.defined() ? zp.view() : TensorView(), wq).is_ok());
    EXPECT_EQ(std::memcmp(layer->values.data(), values.data(), values.nbytes()), 0);
    EXPECT_EQ(std::memcmp(layer->scales.data(), scales.data(), scales.nbytes()), 0);
    ASSERT_EQ(layer->zero_points.defined(), !symmetric);
    if (!symmetric) {
      EXPECT_EQ(std::memcmp(layer->zero_points.data(), zp.data(), zp.nbytes()), 0);
    }
    expect_every_backend_runs(layer->weights(), DType::bf16, 5, 11);
  }
  EXPECT_TRUE(ck->load_layer("model.layers.0.mlp.up_proj")->bias.defined());
  // Untouched tensors are copied bit for bit.
  auto emb = ck->files().find("model.embed_tokens.weight");
  ASSERT_NE(emb.info, nullptr);
  const Tensor& e = in.weights["model.embed_tokens.weight"];
  EXPECT_EQ(std::memcmp(emb.file->bytes(*emb.info), e.data(), e.nbytes()), 0);
}

TEST(QuantizeModel, PackQuantizedGroup128) { expect_quantizes("pack-quantized", 128, true); }
TEST(QuantizeModel, IntQuantizedPerChannel) { expect_quantizes("int-quantized", -1, true); }
TEST(QuantizeModel, PackQuantizedAsymmetricGroup64) { expect_quantizes("pack-quantized", 64, false); }

TEST(QuantizeModel, RefusesWhatWouldLoseData) {
  DenseModel in;
  TempDir out;
  write_text(out.file("keep.txt"), "mine");
  io::QuantizeModelOptions opt;
  auto r = io::quantize_model(in.dir.path(), out.path(), opt);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("not empty"), std::string::npos) << r.status().message();
  EXPECT_FALSE(io::quantize_model(in.dir.path(), in.dir.path(), opt).is_ok());  // in place
  opt.group_size = 48;
  EXPECT_FALSE(io::quantize_model(in.dir.path(), out.file("sub"), opt).is_ok());
  opt.group_size = 128;
  opt.format = "gguf";
  EXPECT_FALSE(io::quantize_model(in.dir.path(), out.file("sub"), opt).is_ok());
  opt.format = "pack-quantized";
  opt.ignore = {"lm_head", "re:.**_proj"};  // Python says "multiple repeat" too
  auto bad_ignore = io::quantize_model(in.dir.path(), out.file("sub"), opt);
  ASSERT_FALSE(bad_ignore.is_ok());
  EXPECT_NE(bad_ignore.status().message().find("ignore pattern 're:.**_proj' is not a valid regular expression: "
                                                "multiple repeat at position 2"),
            std::string::npos)
      << bad_ignore.status().message();
  opt.ignore = {"lm_head"};

  // A quantized model is not quantized twice.
  opt.format = "pack-quantized";
  ASSERT_TRUE(io::quantize_model(in.dir.path(), out.file("q"), opt).is_ok());
  auto again = io::quantize_model(out.file("q"), out.file("qq"), opt);
  ASSERT_FALSE(again.is_ok());
  EXPECT_NE(again.status().message().find("already quantized"), std::string::npos);
}

// A model folder as real producers lay it out (sentence-transformers'
// 1_Pooling/, nested folders, a link between two of its files, a .git): the
// output is the same tree with only the top level's weights converted.
TEST(QuantizeModel, CopiesTheWholeFolderTree) {
  namespace fs = std::filesystem;
  DenseModel in;
  fs::create_directories(in.dir.file("1_Pooling"));
  fs::create_directories(in.dir.file("2_Dense/sub"));
  fs::create_directories(in.dir.file(".git"));
  write_text(in.dir.file("1_Pooling/config.json"), R"({"pooling_mode_mean_tokens": true})");
  write_text(in.dir.file("2_Dense/sub/deep.txt"), "deep");
  write_text(in.dir.file(".git/HEAD"), "ref: refs/heads/main");
  fs::create_symlink("tokenizer.json", in.dir.file("tokenizer_link.json"));
  TempDir out;
  auto summary = io::quantize_model(in.dir.path(), out.file("q"), io::QuantizeModelOptions{});
  ASSERT_TRUE(summary.is_ok()) << summary.status().to_string();
  auto copied = summary->files_copied;
  std::sort(copied.begin(), copied.end());
  EXPECT_EQ(copied, (std::vector<std::string>{"1_Pooling/config.json", "2_Dense/sub/deep.txt", "tokenizer.json",
                                              "tokenizer_link.json"}));
  EXPECT_EQ(read_bytes(out.file("q/1_Pooling/config.json")), read_bytes(in.dir.file("1_Pooling/config.json")));
  EXPECT_EQ(read_bytes(out.file("q/2_Dense/sub/deep.txt")), read_bytes(in.dir.file("2_Dense/sub/deep.txt")));
  EXPECT_FALSE(fs::is_symlink(out.file("q/tokenizer_link.json")));  // the link is resolved into a file
  EXPECT_EQ(read_bytes(out.file("q/tokenizer_link.json")), read_bytes(in.dir.file("tokenizer.json")));
  EXPECT_FALSE(fs::exists(out.file("q/.git")));
  EXPECT_EQ(summary->not_copied, std::vector<std::string>{".git: hidden"});
  // The output folder inside the input is not copied into itself.
  auto inner = io::quantize_model(in.dir.path(), in.dir.file("w4a8"), io::QuantizeModelOptions{});
  ASSERT_TRUE(inner.is_ok()) << inner.status().to_string();
  EXPECT_NE(std::find(inner->not_copied.begin(), inner->not_copied.end(), "w4a8: the output folder"),
            inner->not_copied.end());
  EXPECT_FALSE(fs::exists(in.dir.file("w4a8/w4a8")));
}

// Links to folders, or to anything outside the model folder, are refused with
// the link's name - before any output file is written.
TEST(QuantizeModel, RefusesLinksItWouldHaveToFollowOutOfTheFolder) {
  namespace fs = std::filesystem;
  TempDir elsewhere;
  write_text(elsewhere.file("secret.txt"), "outside");
  for (int kind = 0; kind < 2; ++kind) {
    DenseModel in;
    if (kind == 0) fs::create_symlink(elsewhere.file("secret.txt"), in.dir.file("vocab.txt"));
    if (kind == 1) {
      fs::create_directories(in.dir.file("real"));
      fs::create_directory_symlink(in.dir.file("real"), in.dir.file("linked"));
    }
    TempDir out;
    auto r = io::quantize_model(in.dir.path(), out.file("q"), io::QuantizeModelOptions{});
    ASSERT_FALSE(r.is_ok());
    const std::string msg = r.status().message();
    EXPECT_NE(msg.find(kind == 0 ? "vocab.txt" : "linked"), std::string::npos) << msg;
    EXPECT_NE(msg.find(kind == 0 ? "outside the model folder" : "a symbolic link to a folder"), std::string::npos) << msg;
    EXPECT_TRUE(fs::is_empty(out.file("q"))) << "nothing written";
  }
}

}  // namespace
}  // namespace w4a8::test
