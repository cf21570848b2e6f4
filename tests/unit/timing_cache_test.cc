// The timing cache file: round trip, what makes a file unusable (and that it
// is then ignored with a warning naming it), keys that must not match, and the
// layer signature keys are built from. No device needed.
#include "build/timing_cache.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "kiln/plan.h"

namespace kiln {
namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("kiln_timing_cache_test_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// A file body followed by its correct checksum line.
std::string with_checksum(const std::string& body) {
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(plan_checksum(body.data(), body.size())));
  return body + "checksum " + hex + "\n";
}

const std::string kDevice = "NVIDIA H100 80GB HBM3 sm_90 cudnn 91000 cublaslt 120900";

TimingCache sample_cache() {
  TimingCache cache;
  cache.insert(kDevice + " | Conv in=float32[8x3x224x224],float32[64x3x7x7] out=float32[8x64x112x112] | tf32",
               TimingCacheEntry{"cudnn:1,1", 0.125, "cudnn IMPLICIT_PRECOMP_GEMM tensor-op"});
  cache.insert(kDevice + " | kiln.FusedGemm in=float16[8x2048],float16[1000x2048] out=float16[8x1000] | fp16",
               TimingCacheEntry{"cublaslt:1:0000000000000015.0000000000000000.0000000000000000.0000000000000000."
                                "0000000000000000.0000000000000000.0000000000000000.0000000000000000",
                                0.0123456789, "cublaslt algo 21 tile 20 stages 12 splitk 1 swizzle 0 +bias"});
  return cache;
}

TEST(TimingCache, RoundTripsThroughAFile) {
  const std::string path = temp_path("round_trip");
  TimingCache cache = sample_cache();
  ASSERT_TRUE(cache.modified());
  ASSERT_TRUE(cache.save(path).ok());
  std::string warning;
  TimingCache loaded = TimingCache::load(path, &warning);
  EXPECT_EQ(warning, "");
  EXPECT_FALSE(loaded.modified());
  EXPECT_EQ(loaded.entries(), cache.entries());
  EXPECT_EQ(loaded.serialize(), cache.serialize());
  // The write went through a temporary file that is gone now.
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::temp_directory_path())) {
    EXPECT_EQ(entry.path().string().find(path + ".partial"), std::string::npos) << entry.path();
  }
  std::filesystem::remove(path);
}

TEST(TimingCache, MissingFileIsAnEmptyCacheWithoutWarning) {
  std::string warning;
  TimingCache cache = TimingCache::load(temp_path("does_not_exist"), &warning);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(warning, "");
}

TEST(TimingCache, KeysOfAnotherDeviceOrModeDoNotMatch) {
  TimingCache cache = sample_cache();
  const std::string layer = " | Conv in=float32[8x3x224x224],float32[64x3x7x7] out=float32[8x64x112x112] | ";
  ASSERT_NE(cache.find(kDevice + layer + "tf32"), nullptr);
  EXPECT_EQ(cache.find(kDevice + layer + "fp32"), nullptr);
  EXPECT_EQ(cache.find("NVIDIA A100-SXM4-40GB sm_80 cudnn 91000 cublaslt 120900" + layer + "tf32"), nullptr);
  EXPECT_EQ(cache.find("NVIDIA H100 80GB HBM3 sm_90 cudnn 90100 cublaslt 120900" + layer + "tf32"), nullptr);
}

TEST(TimingCache, UnusableFilesWarnWithTheirNameAndAreIgnored) {
  const std::string good = sample_cache().serialize();
  std::string flipped = good;
  flipped[good.find("cudnn:1,1") + 6] = '7';  // an edited entry
  struct Case {
    std::string name, bytes, reason;
  };
  const std::vector<Case> cases = {
      {"flipped", flipped, "checksum mismatch"},
      {"truncated", good.substr(0, good.size() / 2), "no checksum line"},
      {"empty", "", "no checksum line"},
      {"not_a_cache", "KILNPLAN\0\0\0binary", "no checksum line"},
      {"checksum_only", "checksum 0000000000000000\n", "no checksum line"},
      {"other_magic", with_checksum("SOME-OTHER-CACHE 1\n0\n"), "not a Kiln timing cache"},
      {"short", with_checksum(std::string(kTimingCacheMagic) + " 1\n2\nkey\tcudnn:1,1\t0.5\tlabel\n"),
       "holds 1 entries, its header says 2"},
      {"bad_time", with_checksum(std::string(kTimingCacheMagic) + " 1\n1\nkey\tcudnn:1,1\tfast\tlabel\n"),
       "is not a number"},
  };
  for (const Case& c : cases) {
    const std::string path = temp_path(c.name);
    write_file(path, c.bytes);
    std::string warning;
    TimingCache cache = TimingCache::load(path, &warning);
    EXPECT_EQ(cache.size(), 0u) << c.name;
    EXPECT_NE(warning.find(path), std::string::npos) << c.name << ": " << warning;
    EXPECT_NE(warning.find(c.reason), std::string::npos) << c.name << ": " << warning;
    std::filesystem::remove(path);
  }
}

TEST(TimingCache, OtherFormatVersionIsNamed) {
  auto parsed = TimingCache::parse(with_checksum(std::string(kTimingCacheMagic) + " 99\n0\n"));
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("version 99"), std::string::npos) << parsed.status().message();
  EXPECT_TRUE(TimingCache::parse(with_checksum(std::string(kTimingCacheMagic) + " 1\n0\n")).ok());
}

TEST(TimingCache, FieldsWithTabsOrNewlinesStayOneRecord) {
  TimingCache cache;
  cache.insert("device\tname | layer\n | fp16", TimingCacheEntry{"cudnn:0,1", 1.5, "label\twith\ntabs"});
  auto parsed = TimingCache::parse(cache.serialize());
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  ASSERT_EQ(parsed->size(), 1u);
  const TimingCacheEntry* entry = parsed->find("device name | layer  | fp16");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->label, "label with tabs");
  EXPECT_EQ(entry->time_ms, 1.5);
}

TEST(LayerSignature, NamesShapesAndAttributesButNotAnnotations) {
  Node node;
  node.name = "conv";
  node.op_type = "Conv";
  node.attributes["pads"] = Attribute::of_ints({1, 1, 1, 1});
  const std::vector<TensorInfo> inputs = {{DataType::kFloat32, {8, 3, 32, 32}, true},
                                          {DataType::kFloat32, {16, 3, 3, 3}, true},
                                          {}};
  const std::vector<TensorInfo> outputs = {{DataType::kFloat32, {8, 16, 32, 32}, true}};
  const std::string base = layer_signature(node, inputs, outputs);
  EXPECT_NE(base.find("Conv in=float32[8x3x32x32],float32[16x3x3x3],- out=float32[8x16x32x32]"), std::string::npos)
      << base;

  Node annotated = node;
  annotated.attributes["kiln.tactics"] = Attribute::of_strings({"profile=0;..."});
  EXPECT_EQ(layer_signature(annotated, inputs, outputs), base);

  Node strided = node;
  strided.attributes["strides"] = Attribute::of_ints({2, 2});
  EXPECT_NE(layer_signature(strided, inputs, outputs), base);

  std::vector<TensorInfo> batch16 = inputs;
  batch16[0].dims[0] = 16;
  EXPECT_NE(layer_signature(node, batch16, outputs), base);

  std::vector<TensorInfo> half = inputs;
  half[0].dtype = half[1].dtype = DataType::kFloat16;
  EXPECT_NE(layer_signature(node, half, outputs), base);
}

}  // namespace
}  // namespace kiln
