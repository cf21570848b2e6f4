// KServe v2 HTTP/REST bodies: JSON tensors (flat and nested), the binary
// tensor extension, BYTES in both forms, output choices and error messages;
// plus the datatype table and the status mapping shared with gRPC.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "serve/http_infer_codec.h"

namespace kiln::serve {
namespace {

std::string error_of(std::string_view body, std::optional<size_t> json_length = std::nullopt) {
  auto parsed = parse_infer_request(body, json_length);
  return parsed.ok() ? "" : parsed.status().message();
}

std::vector<float> random_floats(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-3.0f, 3.0f);
  std::vector<float> values(count);
  for (float& v : values) v = dist(rng);
  return values;
}

std::string bytes_of(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

std::string length_prefixed(const std::vector<std::string>& values) {
  std::string out;
  for (const std::string& v : values) {
    uint32_t n = static_cast<uint32_t>(v.size());
    for (int b = 0; b < 4; ++b) out.push_back(static_cast<char>((n >> (8 * b)) & 0xff));
    out += v;
  }
  return out;
}

TEST(ServeKserveTypes, DatatypeNamesRoundTrip) {
  const std::pair<DataType, const char*> expected[] = {
      {DataType::kBool, "BOOL"},     {DataType::kUint8, "UINT8"},   {DataType::kUint16, "UINT16"},
      {DataType::kUint32, "UINT32"}, {DataType::kUint64, "UINT64"}, {DataType::kInt8, "INT8"},
      {DataType::kInt16, "INT16"},   {DataType::kInt32, "INT32"},   {DataType::kInt64, "INT64"},
      {DataType::kFloat16, "FP16"},  {DataType::kFloat32, "FP32"},  {DataType::kFloat64, "FP64"},
      {DataType::kString, "BYTES"},  {DataType::kBFloat16, "BF16"},
  };
  for (const auto& [dtype, name] : expected) {
    EXPECT_STREQ(kserve_datatype(dtype), name);
    auto parsed = parse_kserve_datatype(name);
    ASSERT_TRUE(parsed.ok()) << name;
    EXPECT_EQ(*parsed, dtype);
  }
  auto unknown = parse_kserve_datatype("FP8");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("'FP8'"), std::string::npos);
  EXPECT_FALSE(parse_kserve_datatype("fp32").ok());  // names are case-sensitive, as in the protocol
}

TEST(ServeKserveTypes, StatusCodes) {
  EXPECT_EQ(http_status_for(ok_status()), 200);
  EXPECT_EQ(http_status_for(invalid_argument("x")), 400);
  EXPECT_EQ(http_status_for(out_of_range("x")), 400);
  EXPECT_EQ(http_status_for(unimplemented("x")), 400);
  EXPECT_EQ(http_status_for(not_found("x")), 404);
  EXPECT_EQ(http_status_for(resource_exhausted("x")), 503);
  EXPECT_EQ(http_status_for(unavailable("x")), 503);
  EXPECT_EQ(http_status_for(deadline_exceeded("x")), 504);
  EXPECT_EQ(http_status_for(internal_error("x")), 500);
  EXPECT_EQ(grpc_code_for(ok_status()), 0);
  EXPECT_EQ(grpc_code_for(invalid_argument("x")), 3);
  EXPECT_EQ(grpc_code_for(deadline_exceeded("x")), 4);
  EXPECT_EQ(grpc_code_for(not_found("x")), 5);
  EXPECT_EQ(grpc_code_for(resource_exhausted("x")), 8);
  EXPECT_EQ(grpc_code_for(unimplemented("x")), 12);
  EXPECT_EQ(grpc_code_for(internal_error("x")), 13);
  EXPECT_EQ(grpc_code_for(unavailable("x")), 14);
}

TEST(ServeHttpCodec, FlatAndNestedJsonGiveTheSameTensor) {
  auto flat = parse_infer_request(
      R"({"id": "r7", "inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [1, 2.5, -3, 4, 5, 6e-3]}]})",
      std::nullopt);
  auto nested = parse_infer_request(
      R"({"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [[1, 2.5, -3], [4, 5, 6e-3]]}]})",
      std::nullopt);
  ASSERT_TRUE(flat.ok()) << flat.status().to_string();
  ASSERT_TRUE(nested.ok()) << nested.status().to_string();
  EXPECT_EQ(flat->request.id, "r7");
  for (const auto* parsed : {&*flat, &*nested}) {
    const Tensor& x = parsed->request.inputs.at("x");
    EXPECT_EQ(x.dtype(), DataType::kFloat32);
    EXPECT_EQ(x.dims(), (Dims{2, 3}));
    std::vector<float> values(x.span<float>().begin(), x.span<float>().end());
    EXPECT_EQ(values, (std::vector<float>{1, 2.5f, -3, 4, 5, 6e-3f}));
  }
}

TEST(ServeHttpCodec, JsonDatatypes) {
  auto parsed = parse_infer_request(R"({"inputs": [
      {"name": "b", "shape": [3], "datatype": "BOOL", "data": [true, false, true]},
      {"name": "i8", "shape": [2], "datatype": "INT8", "data": [-128, 127]},
      {"name": "u16", "shape": [1], "datatype": "UINT16", "data": [65535]},
      {"name": "i64", "shape": [2], "datatype": "INT64", "data": [-9007199254740993, 9007199254740993]},
      {"name": "h", "shape": [2], "datatype": "FP16", "data": [0.5, -2]},
      {"name": "bf", "shape": [1], "datatype": "BF16", "data": [1.5]},
      {"name": "s", "shape": [2], "datatype": "BYTES", "data": ["hello", ""]}]})",
                                    std::nullopt);
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  const TensorMap& in = parsed->request.inputs;
  EXPECT_EQ(in.at("b").data<bool>()[0], true);
  EXPECT_EQ(in.at("b").data<bool>()[1], false);
  EXPECT_EQ(in.at("i8").data<int8_t>()[0], -128);
  EXPECT_EQ(in.at("u16").data<uint16_t>()[0], 65535);
  EXPECT_EQ(in.at("i64").data<int64_t>()[0], -9007199254740993LL);  // exact beyond double precision
  EXPECT_EQ(in.at("i64").data<int64_t>()[1], 9007199254740993LL);
  EXPECT_EQ(static_cast<float>(in.at("h").data<Float16>()[1]), -2.0f);
  EXPECT_EQ(static_cast<float>(in.at("bf").data<BFloat16>()[0]), 1.5f);
  EXPECT_EQ(in.at("s").string_data(), (std::vector<std::string>{"hello", ""}));
}

TEST(ServeHttpCodec, JsonErrorsNameTheInput) {
  struct Case {
    const char* body;
    const char* expected;
  } cases[] = {
      {R"({"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [1, 2, 3, 4, 5]}]})",
       "input 'x': 'data' has 5 elements but shape [2x3] needs 6"},
      {R"({"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "data": [1, "a"]}]})",
       "input 'x': element 1 of 'data' (\"a\") is not a number for datatype FP32"},
      {R"({"inputs": [{"name": "x", "shape": [1], "datatype": "INT8", "data": [300]}]})",
       "element 0 of 'data' (300) is out of range for datatype INT8"},
      {R"({"inputs": [{"name": "x", "shape": [1], "datatype": "UINT32", "data": [-1]}]})",
       "element 0 of 'data' (-1) is out of range for datatype UINT32"},
      {R"({"inputs": [{"name": "x", "shape": [1], "datatype": "INT32", "data": [1.5]}]})",
       "(1.5) is not an integer for datatype INT32"},
      {R"({"inputs": [{"name": "x", "shape": [1], "datatype": "BOOL", "data": [1]}]})", "is not true or false"},
      {R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FLOAT", "data": [1]}]})",
       "input 'x': unknown datatype 'FLOAT'"},
      {R"({"inputs": [{"name": "x", "shape": [-1], "datatype": "FP32", "data": [1]}]})",
       "input 'x': 'shape' must hold integers >= 0"},
      {R"({"inputs": [{"name": "x", "datatype": "FP32", "data": [1]}]})", "input 'x': needs a 'shape'"},
      {R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32"}]})",
       "input 'x': has neither 'data' nor binary_data_size"},
      {R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]},
                      {"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]})",
       "input 'x': given more than once"},
      {R"({"inputs": [{"shape": [1], "datatype": "FP32", "data": [1]}]})", "needs a string 'name'"},
      {R"({"inputs": {}})", "needs an 'inputs' array"},
      {R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]})", "malformed JSON"},
      {R"({"inputs": [], "outputs": [{"name": "y", "parameters": {"classification": 3}}]})",
       "output 'y': the classification extension is not supported"},
      {R"({"inputs": [], "parameters": {"sequence_id": 5}})", "sequence batching is not supported"},
      {R"({"inputs": [], "parameters": {"binary_data_output": "yes"}})",
       "request parameter 'binary_data_output' must be true or false"},
      {R"({"inputs": [{"name": "x", "shape": [1099511627776, 1099511627776], "datatype": "FP32", "data": []}]})",
       "is too large"},
      {"", "malformed JSON"},
  };
  for (const Case& c : cases) {
    std::string message = error_of(c.body);
    EXPECT_NE(message.find(c.expected), std::string::npos) << c.body << "\ngave: " << message;
  }
}

TEST(ServeHttpCodec, BinaryInputsFollowTheJsonHeader) {
  std::vector<float> a = random_floats(6, 1);
  std::vector<float> b = random_floats(4, 2);
  std::string header = R"({"inputs": [
      {"name": "a", "shape": [2, 3], "datatype": "FP32", "parameters": {"binary_data_size": 24}},
      {"name": "j", "shape": [1], "datatype": "INT32", "data": [9]},
      {"name": "b", "shape": [4], "datatype": "FP32", "parameters": {"binary_data_size": 16}},
      {"name": "s", "shape": [3], "datatype": "BYTES", "parameters": {"binary_data_size": 20}}],
    "outputs": [{"name": "y", "parameters": {"binary_data": true}}, {"name": "z"}]})";
  std::string strings = length_prefixed({"ab", std::string("\0\xff", 2), "kiln"});
  ASSERT_EQ(strings.size(), 20u);
  std::string body = header + bytes_of(a) + bytes_of(b) + strings;
  auto parsed = parse_infer_request(body, header.size());
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  const TensorMap& in = parsed->request.inputs;
  EXPECT_EQ(std::memcmp(in.at("a").raw_data(), a.data(), 24), 0);
  EXPECT_EQ(std::memcmp(in.at("b").raw_data(), b.data(), 16), 0);
  EXPECT_EQ(in.at("j").data<int32_t>()[0], 9);
  EXPECT_EQ(in.at("s").string_data(), (std::vector<std::string>{"ab", std::string("\0\xff", 2), "kiln"}));
  EXPECT_EQ(parsed->request.requested_outputs, (std::vector<std::string>{"y", "z"}));
  EXPECT_EQ(parsed->binary_outputs, (std::vector<bool>{true, false}));

  // A body with one byte too many or too few after the header, or a header
  // length past the body, is refused with the sizes named.
  EXPECT_NE(error_of(body + "x", header.size()).find("add up to 60"), std::string::npos);
  EXPECT_NE(error_of(body.substr(0, body.size() - 1), header.size()).find("runs past the end of the body"),
            std::string::npos);
  EXPECT_NE(error_of(body, body.size() + 1).find("Inference-Header-Content-Length is"), std::string::npos);
  // Binary data without the header that says where the JSON ends.
  EXPECT_NE(error_of(header).find("runs past the end of the body"), std::string::npos);
}

TEST(ServeHttpCodec, BorrowedBinaryInputsViewTheBody) {
  std::vector<float> a = random_floats(6, 3);
  // Padding the header to a multiple of 4 puts the binary data at a float boundary of the body.
  std::string header = R"({"inputs": [{"name": "a", "shape": [2, 3], "datatype": "FP32",
                                        "parameters": {"binary_data_size": 24}}]})";
  header.append((4 - header.size() % 4) % 4, ' ');
  std::string body = header + bytes_of(a);
  auto borrowed = parse_infer_request(body, header.size(), BinaryInputs::kBorrow);
  ASSERT_TRUE(borrowed.ok()) << borrowed.status().to_string();
  EXPECT_EQ(borrowed->request.inputs.at("a").raw_data(), body.data() + header.size());
  auto copied = parse_infer_request(body, header.size(), BinaryInputs::kCopy);
  ASSERT_TRUE(copied.ok());
  EXPECT_NE(copied->request.inputs.at("a").raw_data(), body.data() + header.size());
  EXPECT_EQ(std::memcmp(copied->request.inputs.at("a").raw_data(), a.data(), 24), 0);

  // Misaligned binary data is copied even when borrowing is allowed.
  std::string odd_header = header + " ";
  std::string odd_body = odd_header + bytes_of(a);
  auto odd = parse_infer_request(odd_body, odd_header.size(), BinaryInputs::kBorrow);
  ASSERT_TRUE(odd.ok());
  EXPECT_NE(odd->request.inputs.at("a").raw_data(), odd_body.data() + odd_header.size());
  EXPECT_EQ(std::memcmp(odd->request.inputs.at("a").raw_data(), a.data(), 24), 0);
}

TEST(ServeHttpCodec, SharedMemoryParameters) {
  auto parsed = parse_infer_request(R"({"inputs": [
      {"name": "a", "shape": [2, 3], "datatype": "FP32",
       "parameters": {"shared_memory_region": "in", "shared_memory_byte_size": 24, "shared_memory_offset": 8}},
      {"name": "b", "shape": [1], "datatype": "INT32", "data": [4]}],
    "outputs": [{"name": "y", "parameters": {"shared_memory_region": "out", "shared_memory_byte_size": 64}},
                {"name": "z"}]})",
                                    std::nullopt);
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  const InferRequest& request = parsed->request;
  EXPECT_EQ(request.inputs.count("a"), 0u);
  ASSERT_EQ(request.shared_memory_inputs.count("a"), 1u);
  const SharedMemoryInput& a = request.shared_memory_inputs.at("a");
  EXPECT_EQ(a.dtype, DataType::kFloat32);
  EXPECT_EQ(a.dims, (Dims{2, 3}));
  EXPECT_EQ(a.reference.region, "in");
  EXPECT_EQ(a.reference.offset, 8u);
  EXPECT_EQ(a.reference.byte_size, 24u);
  EXPECT_EQ(request.inputs.at("b").data<int32_t>()[0], 4);
  EXPECT_EQ(request.requested_outputs, (std::vector<std::string>{"y", "z"}));
  ASSERT_EQ(request.shared_memory_outputs.count("y"), 1u);
  EXPECT_EQ(request.shared_memory_outputs.at("y").byte_size, 64u);

  EXPECT_NE(error_of(R"({"inputs": [{"name": "a", "shape": [1], "datatype": "FP32",
      "parameters": {"shared_memory_region": "in"}}]})")
                .find("input 'a': shared memory region 'in' needs parameter 'shared_memory_byte_size'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"inputs": [{"name": "a", "shape": [1], "datatype": "FP32", "data": [1],
      "parameters": {"shared_memory_region": "in", "shared_memory_byte_size": 4}}]})")
                .find("send one or the other"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"inputs": [{"name": "a", "shape": [1], "datatype": "FP32",
      "parameters": {"shared_memory_region": "in", "shared_memory_byte_size": -4}}]})")
                .find("'shared_memory_byte_size' must be an integer >= 0"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"inputs": [], "outputs": [{"name": "y",
      "parameters": {"shared_memory_offset": 4}}]})")
                .find("output 'y': shared_memory_byte_size or shared_memory_offset given without"),
            std::string::npos);
}

TEST(ServeHttpCodec, SharedMemoryOutputsCarryParametersNotData) {
  InferResponse response;
  response.model = "m";
  response.outputs.emplace_back("y", Tensor::zeros(DataType::kFloat32, {2, 3}));
  response.outputs.emplace_back("z", Tensor::from_vector(DataType::kInt32, {1}, std::vector<int32_t>{5}));
  response.shared_memory_outputs["y"] = {"out", 16, 24};
  auto json_only = encode_infer_response(response, {true, false});
  ASSERT_TRUE(json_only.ok());
  // y asked for binary but lives in shared memory: nothing binary follows the JSON.
  EXPECT_FALSE(json_only->json_length.has_value());
  auto root = nlohmann::json::parse(json_only->content);
  const auto& y = root["outputs"][0];
  EXPECT_FALSE(y.contains("data"));
  EXPECT_EQ(y["shape"], nlohmann::json::array({2, 3}));
  EXPECT_EQ(y["parameters"]["shared_memory_region"], "out");
  EXPECT_EQ(y["parameters"]["shared_memory_byte_size"], 24);
  EXPECT_EQ(y["parameters"]["shared_memory_offset"], 16);
  EXPECT_EQ(root["outputs"][1]["data"], nlohmann::json::array({5}));
}

TEST(ServeHttpCodec, BinarySizeMustMatchTheShape) {
  std::string header =
      R"({"inputs": [{"name": "a", "shape": [2, 2], "datatype": "FP32", "parameters": {"binary_data_size": 12}}]})";
  std::string message = error_of(header + std::string(12, '\0'), header.size());
  EXPECT_NE(message.find("input 'a': binary_data_size is 12 bytes but shape [2x2] of FP32 needs 16"), std::string::npos)
      << message;
  std::string strings_header =
      R"({"inputs": [{"name": "s", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": 6}}]})";
  message = error_of(strings_header + length_prefixed({"ab"}), strings_header.size());
  EXPECT_NE(message.find("input 's': binary BYTES data holds 1 elements but shape [2] needs 2"), std::string::npos)
      << message;
  std::string truncated = std::string("\x09\0\0\0ab", 6);
  message = error_of(strings_header + truncated, strings_header.size());
  EXPECT_NE(message.find("has length 9 but only 2 bytes remain"), std::string::npos) << message;
}

TEST(ServeHttpCodec, RequestParameters) {
  auto parsed = parse_infer_request(
      R"({"inputs": [], "parameters": {"binary_data_output": true, "priority": 2, "timeout": 1500, "custom": "x"},
          "outputs": [{"name": "y"}, {"name": "z", "parameters": {"binary_data": false}}]})",
      std::nullopt);
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_TRUE(parsed->binary_data_output);
  EXPECT_EQ(parsed->request.priority, 2);
  EXPECT_EQ(parsed->request.timeout_us, 1500);
  EXPECT_EQ(parsed->binary_outputs, (std::vector<bool>{true, false}));
}

TEST(ServeHttpCodec, ResponseJsonAndBinary) {
  InferResponse response;
  response.model = "m";
  response.id = "r1";
  std::vector<float> values = random_floats(6, 3);
  response.outputs.emplace_back("y", Tensor::from_vector(DataType::kFloat32, {2, 3}, values));
  response.outputs.emplace_back("s", Tensor::strings({2}, {"x", "yz"}));
  response.outputs.emplace_back("k", Tensor::from_vector<int64_t>(DataType::kInt64, {2}, {-5, 7}));

  auto json_only = encode_infer_response(response, {false, false, false});
  ASSERT_TRUE(json_only.ok());
  EXPECT_FALSE(json_only->json_length.has_value());
  const std::string& text = json_only->content;
  EXPECT_NE(text.find(R"("model_name":"m")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("model_version":"1")"), std::string::npos);
  EXPECT_NE(text.find(R"("id":"r1")"), std::string::npos);
  EXPECT_NE(text.find(R"("data":["x","yz"])"), std::string::npos);
  EXPECT_NE(text.find(R"("data":[-5,7])"), std::string::npos);
  // Floats survive the JSON round trip exactly: parse the response as a request.
  std::string as_request = R"({"inputs": [{"name": "y", "shape": [2, 3], "datatype": "FP32", "data": )";
  size_t data = text.find(R"("data":[)") + 7;
  as_request += text.substr(data, text.find(']', data) - data + 1) + "}]}";
  auto reparsed = parse_infer_request(as_request, std::nullopt);
  ASSERT_TRUE(reparsed.ok()) << reparsed.status().to_string() << "\n" << as_request;
  EXPECT_EQ(std::memcmp(reparsed->request.inputs.at("y").raw_data(), values.data(), 24), 0);

  auto binary = encode_infer_response(response, {true, true, false});
  ASSERT_TRUE(binary.ok());
  ASSERT_TRUE(binary->json_length.has_value());
  std::string header = binary->content.substr(0, *binary->json_length);
  std::string tail = binary->content.substr(*binary->json_length);
  EXPECT_NE(header.find(R"("parameters":{"binary_data_size":24})"), std::string::npos) << header;
  EXPECT_NE(header.find(R"("parameters":{"binary_data_size":11})"), std::string::npos) << header;
  EXPECT_EQ(tail, bytes_of(values) + length_prefixed({"x", "yz"}));
}

TEST(ServeHttpCodec, BinaryChoiceFollowsTheRequest) {
  HttpInferRequest request;
  request.binary_data_output = true;
  request.request.requested_outputs = {"b"};
  request.binary_outputs = {false};
  InferResponse response;
  response.outputs.emplace_back("a", Tensor::zeros(DataType::kFloat32, {1}));
  response.outputs.emplace_back("b", Tensor::zeros(DataType::kFloat32, {1}));
  EXPECT_EQ(binary_choice(request, response), (std::vector<bool>{true, false}));
}

TEST(ServeHttpCodec, ErrorJson) { EXPECT_EQ(error_json("input 'x': \"bad\""), R"({"error":"input 'x': \"bad\""})"); }

}  // namespace
}  // namespace kiln::serve
