#include "kiln/npy.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <random>

#include "core/dispatch.h"

namespace kiln {
namespace {

Tensor random_of(DataType dtype, const Dims& dims, uint32_t seed) {
  Tensor t = Tensor::empty(dtype, dims);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> value(-100, 100);
  dispatch_all_numeric(dtype, [&]<typename T>() {
    for (T& v : t.span<T>()) v = from_double<T>(dtype == DataType::kBool ? value(rng) > 0 : value(rng) * 0.37);
  });
  return t;
}

void expect_same_bytes(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.dtype(), b.dtype());
  ASSERT_EQ(a.dims(), b.dims());
  ASSERT_EQ(a.byte_size(), b.byte_size());
  EXPECT_EQ(std::memcmp(a.raw_data(), b.raw_data(), a.byte_size()), 0);
}

class NpyRoundTrip : public ::testing::TestWithParam<DataType> {};

TEST_P(NpyRoundTrip, EncodeThenDecodeKeepsTypeShapeAndBytes) {
  for (const Dims& dims : {Dims{2, 3, 5}, Dims{7}, Dims{}, Dims{0, 4}}) {
    Tensor original = random_of(GetParam(), dims, 42);
    auto bytes = encode_npy(original);
    ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
    // numpy aligns the start of the data to 64 bytes.
    size_t header_length = static_cast<unsigned char>((*bytes)[8]) | (static_cast<unsigned char>((*bytes)[9]) << 8);
    EXPECT_EQ((10 + header_length) % 64, 0u);
    auto decoded = decode_npy(*bytes, "memory");
    ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
    expect_same_bytes(original, *decoded);
  }
}

INSTANTIATE_TEST_SUITE_P(AllNpyTypes, NpyRoundTrip,
                         ::testing::Values(DataType::kFloat16, DataType::kFloat32, DataType::kFloat64, DataType::kInt8,
                                           DataType::kInt16, DataType::kInt32, DataType::kInt64, DataType::kUint8,
                                           DataType::kUint16, DataType::kUint32, DataType::kUint64, DataType::kBool),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(Npy, HeaderMatchesWhatNumpyWrites) {
  Tensor t = Tensor::from_vector<float>(DataType::kFloat32, {3}, {1.f, 2.f, 3.f});
  auto bytes = encode_npy(t);
  ASSERT_TRUE(bytes.ok());
  std::string header = bytes->substr(10, 60);
  EXPECT_NE(header.find("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"), std::string::npos) << header;
  EXPECT_EQ((*bytes)[6], 1);             // version 1.0
  EXPECT_EQ(bytes->size(), 128u + 12u);  // same size as numpy.save
}

// Bytes as numpy 1.x writes them for np.save(f, np.array([[1, 2], [3, 4]], dtype=np.int16)),
// written out by hand here so that the test does not depend on the writer.
std::string numpy_int16_file(int version) {
  std::string header = "{'descr': '<i2', 'fortran_order': False, 'shape': (2, 2), }";
  size_t preamble = version == 1 ? 10 : 12;
  while ((preamble + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(version);
  out += '\0';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  if (version != 1) out += std::string(2, '\0');
  out += header;
  for (int16_t v : {1, 2, 3, 4}) out.append(reinterpret_cast<const char*>(&v), 2);
  return out;
}

TEST(Npy, ReadsVersion1And2Headers) {
  for (int version : {1, 2}) {
    auto t = decode_npy(numpy_int16_file(version), "v" + std::to_string(version));
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    EXPECT_EQ(t->dtype(), DataType::kInt16);
    EXPECT_EQ(t->dims(), (Dims{2, 2}));
    EXPECT_EQ(t->data<int16_t>()[3], 4);
  }
}

std::string with_header(const std::string& dict) {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY\x01";
  out += '\0';
  out += static_cast<char>(header.size());
  out += '\0';
  return out + header + std::string(64, '\0');
}

TEST(Npy, RejectsFortranOrderWithClearMessage) {
  auto t = decode_npy(with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }"), "f.npy");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("Fortran"), std::string::npos) << t.status().message();
  EXPECT_NE(t.status().message().find("f.npy"), std::string::npos);
}

TEST(Npy, RejectsUnknownAndBigEndianTypes) {
  for (const char* descr : {"<c8", ">f4", "<U3", "|O", "<f16"}) {
    auto t = decode_npy(with_header(std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (2,), }"),
                        "t.npy");
    ASSERT_FALSE(t.ok()) << descr;
    EXPECT_NE(t.status().message().find(descr), std::string::npos) << t.status().message();
  }
}

TEST(Npy, RejectsTruncatedAndForeignFiles) {
  std::string good = numpy_int16_file(1);
  auto truncated = decode_npy(good.substr(0, good.size() - 3), "cut.npy");
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.status().message().find("truncated"), std::string::npos) << truncated.status().message();
  EXPECT_FALSE(decode_npy("", "empty.npy").ok());
  EXPECT_FALSE(decode_npy("hello world, not numpy", "text.npy").ok());
  EXPECT_FALSE(decode_npy(good.substr(0, 30), "header.npy").ok());
  EXPECT_FALSE(decode_npy(with_header("{'descr': '<f4', 'shape': (2,), }"), "nofortran.npy").ok());
  EXPECT_FALSE(
      decode_npy(with_header("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }"), "struct.npy").ok());
}

TEST(Npy, RejectsTypesWithoutNpyEquivalent) {
  EXPECT_FALSE(encode_npy(Tensor::zeros(DataType::kBFloat16, {2})).ok());
  EXPECT_FALSE(encode_npy(Tensor::strings({1}, {"a"})).ok());
}

TEST(Npy, FileRoundTripAndMissingFile) {
  std::string path = (std::filesystem::temp_directory_path() / "kiln_npy_test.npy").string();
  Tensor original = random_of(DataType::kFloat32, {4, 4}, 3);
  ASSERT_TRUE(write_npy_file(path, original).ok());
  auto read = read_npy_file(path);
  ASSERT_TRUE(read.ok()) << read.status().to_string();
  expect_same_bytes(original, *read);
  std::filesystem::remove(path);
  auto missing = read_npy_file(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace kiln
