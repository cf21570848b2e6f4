#include "kiln/profile.h"

#include <gtest/gtest.h>

namespace kiln {
namespace {

Shape shape_of(std::vector<Dim> dims) { return Shape(std::move(dims)); }

// input: batch x 3 x H x W ; mask: batch x 16
std::vector<IoDesc> image_inputs() {
  return {
      {"input", DataType::kFloat32,
       shape_of({Dim::symbolic("batch"), Dim::known(3), Dim::symbolic("height"), Dim::symbolic("width")})},
      {"mask", DataType::kFloat32, shape_of({Dim::symbolic("batch"), Dim::known(16)})},
  };
}

OptimizationProfile parse(const std::string& spec) {
  auto profile = parse_profile_spec(spec);
  EXPECT_TRUE(profile.ok()) << profile.status().to_string();
  return profile.ok() ? *profile : OptimizationProfile{};
}

TEST(ProfileSpec, ParsesMinOptMax) {
  OptimizationProfile p = parse("input:1x3x224x224,8x3x224x224,32x3x224x224; mask:1x16,8x16,32x16");
  ASSERT_EQ(p.inputs.size(), 2u);
  EXPECT_EQ(p.inputs["input"].min, (Dims{1, 3, 224, 224}));
  EXPECT_EQ(p.inputs["input"].opt, (Dims{8, 3, 224, 224}));
  EXPECT_EQ(p.inputs["input"].max, (Dims{32, 3, 224, 224}));
  EXPECT_EQ(p.inputs["mask"].max, (Dims{32, 16}));
  EXPECT_EQ(profile_to_string(p), "input:1x3x224x224,8x3x224x224,32x3x224x224;mask:1x16,8x16,32x16");
  EXPECT_EQ(parse(profile_to_string(p)), p);
}

TEST(ProfileSpec, SingleShapeAndColonInName) {
  OptimizationProfile p = parse("input:0:4x3");
  ASSERT_EQ(p.inputs.count("input:0"), 1u);
  EXPECT_EQ(p.inputs["input:0"].min, (Dims{4, 3}));
  EXPECT_EQ(p.inputs["input:0"].max, (Dims{4, 3}));
}

TEST(ProfileSpec, RejectsMalformed) {
  for (const char* bad : {"", "input", "input:1x3,2x3", "input:1xax3", "input:1x3,,4x3", ":1x3", "input:1x3;input:1x3",
                          "input:99999999999999999999x3", "input:1x3,2x3,3x3,4x3"}) {
    auto p = parse_profile_spec(bad);
    EXPECT_FALSE(p.ok()) << bad;
  }
  auto p = parse_profile_spec("input:1xax3");
  EXPECT_NE(p.status().message().find("'a'"), std::string::npos) << p.status().message();
}

TEST(ProfileSpec, TrtexecTriple) {
  auto p = parse_trtexec_shapes("input:1x3x224x224,mask:1x16", "input:8x3x224x224,mask:8x16",
                                "input:32x3x224x224,mask:32x16");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->inputs.at("input").opt, (Dims{8, 3, 224, 224}));
  EXPECT_EQ(p->inputs.at("mask").max, (Dims{32, 16}));
  auto missing = parse_trtexec_shapes("input:1x3,mask:1x16", "input:2x3", "input:4x3,mask:4x16");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("'mask'"), std::string::npos) << missing.status().message();
  EXPECT_NE(missing.status().message().find("--optShapes"), std::string::npos);
}

TEST(ValidateProfile, AcceptsGoodProfile) {
  OptimizationProfile p = parse("input:1x3x224x224,8x3x224x224,32x3x320x320;mask:1x16,8x16,32x16");
  Status s = validate_profile(p, image_inputs());
  EXPECT_TRUE(s.ok()) << s.to_string();
}

void expect_invalid(const std::string& spec, std::vector<std::string> fragments) {
  Status s = validate_profile(parse(spec), image_inputs());
  ASSERT_FALSE(s.ok()) << spec;
  for (const std::string& f : fragments) {
    EXPECT_NE(s.message().find(f), std::string::npos) << "'" << f << "' not in: " << s.message();
  }
}

TEST(ValidateProfile, NamesInputAxisAndValues) {
  // min > opt on axis 0
  expect_invalid("input:9x3x224x224,8x3x224x224,32x3x224x224;mask:1x16,8x16,32x16",
                 {"'input'", "axis 0", "min 9", "opt 8"});
  // opt > max on axis 2
  expect_invalid("input:1x3x224x224,8x3x300x224,32x3x256x224;mask:1x16,8x16,32x16",
                 {"'input'", "axis 2", "opt 300", "max 256"});
  // static axis changed
  expect_invalid("input:1x4x224x224,8x3x224x224,32x3x224x224;mask:1x16,8x16,32x16", {"'input'", "axis 1", "3"});
  // rank mismatch with the model
  expect_invalid("input:1x3x224,8x3x224,32x3x224;mask:1x16,8x16,32x16", {"'input'", "rank 3", "rank 4"});
  // rank mismatch inside the range
  OptimizationProfile ragged = parse("mask:1x16,8x16,32x16");
  ragged.inputs["input"] = ProfileRange{{1, 3, 224, 224}, {8, 3, 224}, {32, 3, 224, 224}};
  Status s = validate_profile(ragged, image_inputs());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("same rank"), std::string::npos) << s.message();
  EXPECT_FALSE(parse_profile_spec("input:1x3x224x224,8x3x224,32x3x224x224").ok());
  // dynamic input not covered
  expect_invalid("input:1x3x224x224,8x3x224x224,32x3x224x224", {"'mask'", "axis 0", "batch"});
  // unknown input
  expect_invalid("input:1x3x224x224,8x3x224x224,32x3x224x224;mask:1x16,8x16,32x16;other:1,1,1", {"'other'"});
  // shared symbol with different ranges
  expect_invalid("input:1x3x224x224,8x3x224x224,32x3x224x224;mask:1x16,4x16,32x16", {"'batch'", "'input'", "'mask'"});
}

TEST(ValidateProfile, StaticInputsNeedNoEntry) {
  std::vector<IoDesc> inputs = {{"x", DataType::kFloat32, Shape::from_dims({2, 3})}};
  EXPECT_TRUE(validate_profile(OptimizationProfile{}, inputs).ok());
  std::vector<IoDesc> unranked = {{"x", DataType::kFloat32, Shape::unranked()}};
  EXPECT_FALSE(validate_profile(OptimizationProfile{}, unranked).ok());
  EXPECT_TRUE(validate_profile(parse("x:1x2,2x2,3x2"), unranked).ok());
}

TEST(SelectProfile, ChoosesTightestCovering) {
  std::vector<OptimizationProfile> profiles = {
      parse("x:1x3,64x3,64x3"),
      parse("x:1x3,8x3,8x3"),
      parse("x:9x3,32x3,32x3"),
  };
  auto pick = [&](int64_t batch) { return select_profile(profiles, {{"x", {batch, 3}}}); };
  ASSERT_TRUE(pick(4).ok());
  EXPECT_EQ(*pick(4), 1u);
  EXPECT_EQ(*pick(8), 1u);
  EXPECT_EQ(*pick(9), 2u);
  EXPECT_EQ(*pick(33), 0u);
  EXPECT_TRUE(profile_covers(profiles[0], {{"x", {64, 3}}}));
  EXPECT_FALSE(profile_covers(profiles[0], {{"x", {65, 3}}}));
  EXPECT_FALSE(profile_covers(profiles[0], {{"x", {4, 3, 1}}}));
  EXPECT_FALSE(profile_covers(profiles[0], {{"y", {4, 3}}}));

  auto none = pick(65);
  ASSERT_FALSE(none.ok());
  const std::string& m = none.status().message();
  EXPECT_EQ(none.status().code(), StatusCode::kOutOfRange);
  for (const char* fragment :
       {"'x'", "65x3", "profile 0", "[1x3, 64x3]", "profile 1", "[1x3, 8x3]", "profile 2", "[9x3, 32x3]"}) {
    EXPECT_NE(m.find(fragment), std::string::npos) << fragment << " not in: " << m;
  }
  EXPECT_FALSE(select_profile({}, {{"x", {1, 3}}}).ok());
}

TEST(SelectProfile, InputShapesOfTensors) {
  TensorMap request{{"x", Tensor::zeros(DataType::kFloat32, {5, 3})}};
  InputShapes shapes = input_shapes_of(request);
  EXPECT_EQ(shapes.at("x"), (Dims{5, 3}));
}

TEST(BatchBuckets, OneProfilePerBucket) {
  std::vector<IoDesc> inputs = {
      {"input", DataType::kFloat32, shape_of({Dim::symbolic("N"), Dim::known(3), Dim::known(8)})},
      {"scale", DataType::kFloat32, Shape::from_dims({1})},
  };
  auto profiles = profiles_for_batch_buckets(inputs, {1, 8, 32, 128});
  ASSERT_TRUE(profiles.ok()) << profiles.status().to_string();
  ASSERT_EQ(profiles->size(), 4u);
  const int64_t expected_min[] = {1, 2, 9, 33};
  const int64_t expected_max[] = {1, 8, 32, 128};
  for (size_t i = 0; i < 4; ++i) {
    const OptimizationProfile& p = (*profiles)[i];
    EXPECT_EQ(p.inputs.count("scale"), 0u);
    const ProfileRange& r = p.inputs.at("input");
    EXPECT_EQ(r.min, (Dims{expected_min[i], 3, 8}));
    EXPECT_EQ(r.opt, (Dims{expected_max[i], 3, 8}));
    EXPECT_EQ(r.max, (Dims{expected_max[i], 3, 8}));
    EXPECT_TRUE(validate_profile(p, inputs).ok());
  }
  // Every batch size up to 128 lands in exactly the smallest bucket that holds it.
  for (int64_t batch = 1; batch <= 128; ++batch) {
    auto chosen = select_profile(*profiles, {{"input", {batch, 3, 8}}, {"scale", {1}}});
    ASSERT_TRUE(chosen.ok());
    EXPECT_GE(expected_max[*chosen], batch);
    if (*chosen > 0) EXPECT_LT(expected_max[*chosen - 1], batch);
  }
  EXPECT_FALSE(profiles_for_batch_buckets(inputs, {8, 4}).ok());
  EXPECT_FALSE(profiles_for_batch_buckets(inputs, {0, 4}).ok());
  std::vector<IoDesc> two_dynamic = {{"x", DataType::kFloat32, shape_of({Dim::symbolic("N"), Dim()})}};
  auto bad = profiles_for_batch_buckets(two_dynamic, {1, 2});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("axis 1"), std::string::npos);
}

}  // namespace
}  // namespace kiln
