// Every rule of SPEC.md's capability check, with the seed's wording.
#include <gtest/gtest.h>

#include "w4a8/linear.h"

using namespace w4a8;

namespace {
LinearConfig good() {
  LinearConfig c;
  c.in_features = 4096;
  c.out_features = 11008;
  c.group_size = 128;
  c.act_type = DType::f16;
  return c;
}
void expect_refused(const LinearConfig& c, const std::string& message) {
  const Status s = can_implement(c);
  EXPECT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), StatusCode::unsupported);
  EXPECT_EQ(s.message(), message);
}
}  // namespace

TEST(CanImplement, AcceptsTheW4A8Preset) {
  EXPECT_TRUE(can_implement(good()).is_ok());
  LinearConfig c = good();
  c.act_type = DType::bf16;  // accepted without the seed's fp16-output warning
  EXPECT_TRUE(can_implement(c).is_ok());
  c.group_size = -1;
  EXPECT_TRUE(can_implement(c).is_ok());
  c.group_size = 32;
  EXPECT_TRUE(can_implement(c).is_ok());
  c.act_type = DType::f32;  // this project's extension
  EXPECT_TRUE(can_implement(c).is_ok());
}

TEST(CanImplement, RefusesOtherActivationTypes) {
  LinearConfig c = good();
  c.act_type = DType::i8;
  expect_refused(c, "W4A8Int requires BF16/FP16/FP32 activations, got i8");
  c.act_type = DType::f32;
  c.seed_rules = true;
  expect_refused(c, "W4A8Int requires BF16/FP16 activations");
}

TEST(CanImplement, RefusesOtherWeightTypes) {
  LinearConfig c = good();
  c.weight_type = WeightType::int8;
  expect_refused(c, "W4A8Int requires int4 weights, got int8");
  c.weight_type = WeightType::uint4b8;
  expect_refused(c, "W4A8Int requires int4 weights, got uint4b8");
}

TEST(CanImplement, ZeroPointsAndGIdxAreExtensions) {
  LinearConfig c = good();
  c.zero_points = true;
  c.has_g_idx = true;
  EXPECT_TRUE(can_implement(c).is_ok());
  c.seed_rules = true;
  expect_refused(c, "W4A8Int only supports symmetric weight quantization");
  c.zero_points = false;
  expect_refused(c, "W4A8Int does not support act-order (g_idx) weights");
}

TEST(CanImplement, RefusesGroupSizesThatAreNotMultiplesOf32) {
  LinearConfig c = good();
  for (int64_t g : {48, 16, 100, 0, -2}) {
    c.group_size = g;
    expect_refused(c, "Group size (" + std::to_string(g) + ") not supported by W4A8Int, must be a multiple of 32");
  }
  c.group_size = 96;  // multiple of 32 that does not divide 4096
  expect_refused(c, "Group size (96) must divide the in size (4096)");
}

TEST(CanImplement, RefusesSizesThatAreNotMultiplesOf8) {
  LinearConfig c = good();
  c.group_size = -1;
  c.in_features = 4100;
  expect_refused(c, "in/out sizes (4100, 11008) must be multiples of 8");
  c.in_features = 4096;
  c.out_features = 11001;
  expect_refused(c, "in/out sizes (4096, 11001) must be multiples of 8");
  c.out_features = 0;
  expect_refused(c, "in/out sizes (4096, 0) must be positive multiples of 8");
}
