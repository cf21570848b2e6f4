// The KServe v2 gRPC wire rules: raw and typed tensor contents, BYTES length
// prefixes, request parameters, and the metadata, config and statistics messages.
#include "serve/grpc_convert.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

namespace kiln::serve {
namespace {

std::vector<float> random_floats(size_t count, uint32_t seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> distribution(-3.0f, 3.0f);
  std::vector<float> values(count);
  for (float& value : values) value = distribution(generator);
  return values;
}

inference::ModelInferRequest::InferInputTensor* add_input(inference::ModelInferRequest* request,
                                                          const std::string& name, const std::string& datatype,
                                                          std::vector<int64_t> shape) {
  auto* input = request->add_inputs();
  input->set_name(name);
  input->set_datatype(datatype);
  for (int64_t extent : shape) input->add_shape(extent);
  return input;
}

TEST(GrpcConvert, RawFloatInputKeepsEveryBitAndTheRequestFields) {
  inference::ModelInferRequest message;
  message.set_model_name("resnet");
  message.set_model_version("1");
  message.set_id("request-7");
  std::vector<float> values = random_floats(2 * 3 * 4, 11);
  add_input(&message, "x", "FP32", {2, 3, 4});
  message.add_raw_input_contents(std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4));
  message.add_outputs()->set_name("y");

  auto request = infer_request_from_proto(message);
  ASSERT_TRUE(request.ok()) << request.status().to_string();
  EXPECT_EQ(request->model, "resnet");
  EXPECT_EQ(request->version, "1");
  EXPECT_EQ(request->id, "request-7");
  ASSERT_EQ(request->requested_outputs, std::vector<std::string>{"y"});
  const Tensor& x = request->inputs.at("x");
  EXPECT_EQ(x.dtype(), DataType::kFloat32);
  EXPECT_EQ(x.dims(), (Dims{2, 3, 4}));
  EXPECT_EQ(std::memcmp(x.raw_data(), values.data(), values.size() * 4), 0);
}

TEST(GrpcConvert, TypedContentsFillEachDatatype) {
  inference::ModelInferRequest message;
  std::vector<float> values = random_floats(6, 3);
  auto* f = add_input(&message, "f", "FP32", {2, 3});
  for (float value : values) f->mutable_contents()->add_fp32_contents(value);
  auto* i8 = add_input(&message, "i8", "INT8", {3});
  for (int value : {-128, 5, 127}) i8->mutable_contents()->add_int_contents(value);
  auto* i64 = add_input(&message, "i64", "INT64", {2});
  for (int64_t value : {int64_t{-1} << 40, int64_t{9}}) i64->mutable_contents()->add_int64_contents(value);
  auto* u16 = add_input(&message, "u16", "UINT16", {1});
  u16->mutable_contents()->add_uint_contents(65535);
  auto* flags = add_input(&message, "b", "BOOL", {2});
  flags->mutable_contents()->add_bool_contents(true);
  flags->mutable_contents()->add_bool_contents(false);
  auto* text = add_input(&message, "s", "BYTES", {2});
  text->mutable_contents()->add_bytes_contents("hello");
  text->mutable_contents()->add_bytes_contents(std::string("a\0b", 3));

  auto request = infer_request_from_proto(message);
  ASSERT_TRUE(request.ok()) << request.status().to_string();
  const auto& inputs = request->inputs;
  for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(inputs.at("f").data<float>()[i], values[i]);
  EXPECT_EQ(inputs.at("i8").dtype(), DataType::kInt8);
  EXPECT_EQ(inputs.at("i8").data<int8_t>()[0], -128);
  EXPECT_EQ(inputs.at("i8").data<int8_t>()[2], 127);
  EXPECT_EQ(inputs.at("i64").data<int64_t>()[0], int64_t{-1} << 40);
  EXPECT_EQ(inputs.at("u16").data<uint16_t>()[0], 65535);
  EXPECT_TRUE(inputs.at("b").data<bool>()[0]);
  EXPECT_FALSE(inputs.at("b").data<bool>()[1]);
  EXPECT_EQ(inputs.at("s").string_data(), (std::vector<std::string>{"hello", std::string("a\0b", 3)}));
}

TEST(GrpcConvert, TypedContentsOutOfRangeOrMiscountedAreRefused) {
  {
    inference::ModelInferRequest message;
    add_input(&message, "small", "INT8", {1})->mutable_contents()->add_int_contents(300);
    auto request = infer_request_from_proto(message);
    ASSERT_FALSE(request.ok());
    EXPECT_EQ(request.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(request.status().message().find("small"), std::string::npos);
    EXPECT_NE(request.status().message().find("300"), std::string::npos);
  }
  {
    inference::ModelInferRequest message;
    auto* input = add_input(&message, "x", "FP32", {2, 2});
    for (int i = 0; i < 3; ++i) input->mutable_contents()->add_fp32_contents(1.5f);
    auto request = infer_request_from_proto(message);
    ASSERT_FALSE(request.ok());
    EXPECT_EQ(request.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(request.status().message().find("fp32_contents holds 3"), std::string::npos);
  }
  {
    inference::ModelInferRequest message;
    add_input(&message, "half", "FP16", {1})->mutable_contents()->add_fp32_contents(1.0f);
    auto request = infer_request_from_proto(message);
    ASSERT_FALSE(request.ok());
    EXPECT_NE(request.status().message().find("raw_input_contents"), std::string::npos);
  }
}

TEST(GrpcConvert, RawContentsMustMatchInputsAndSizes) {
  {
    inference::ModelInferRequest message;
    add_input(&message, "a", "FP32", {1});
    add_input(&message, "b", "FP32", {1});
    message.add_raw_input_contents(std::string(4, '\0'));
    auto request = infer_request_from_proto(message);
    ASSERT_FALSE(request.ok());
    EXPECT_EQ(request.status().code(), StatusCode::kInvalidArgument);
  }
  {
    inference::ModelInferRequest message;
    add_input(&message, "x", "FP32", {2, 3});
    message.add_raw_input_contents(std::string(20, '\0'));
    auto request = infer_request_from_proto(message);
    ASSERT_FALSE(request.ok());
    EXPECT_EQ(request.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(request.status().message().find("'x'"), std::string::npos);
    EXPECT_NE(request.status().message().find("24 bytes"), std::string::npos);
  }
  {
    // A shape whose element count overflows is refused before any allocation.
    inference::ModelInferRequest message;
    add_input(&message, "x", "FP32", {int64_t{1} << 40, int64_t{1} << 40});
    message.add_raw_input_contents(std::string(4, '\0'));
    auto request = infer_request_from_proto(message);
    ASSERT_FALSE(request.ok());
    EXPECT_EQ(request.status().code(), StatusCode::kInvalidArgument);
  }
  {
    inference::ModelInferRequest message;
    add_input(&message, "x", "FP32", {-1, 3});
    message.add_raw_input_contents("");
    EXPECT_FALSE(infer_request_from_proto(message).ok());
  }
  {
    inference::ModelInferRequest message;
    add_input(&message, "x", "NOT_A_TYPE", {1});
    message.add_raw_input_contents(std::string(4, '\0'));
    auto request = infer_request_from_proto(message);
    ASSERT_FALSE(request.ok());
    EXPECT_EQ(request.status().code(), StatusCode::kInvalidArgument);
  }
  {
    inference::ModelInferRequest message;
    add_input(&message, "x", "FP32", {1});
    add_input(&message, "x", "FP32", {1});
    message.add_raw_input_contents(std::string(4, '\0'));
    message.add_raw_input_contents(std::string(4, '\0'));
    EXPECT_FALSE(infer_request_from_proto(message).ok());
  }
}

TEST(GrpcConvert, BytesElementsRoundTripAndRejectDamage) {
  std::vector<std::string> elements = {"", "kiln", std::string(300, 'z'), std::string("\0\1\2", 3)};
  std::string raw = encode_bytes_elements(elements);
  EXPECT_EQ(raw.size(), 4 * 4 + 0 + 4 + 300 + 3);
  EXPECT_EQ(raw.substr(0, 4), std::string(4, '\0'));
  EXPECT_EQ(raw.substr(4, 8), std::string("\x04\0\0\0kiln", 8));
  auto decoded = decode_bytes_elements(raw, 4, "s");
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_EQ(*decoded, elements);

  EXPECT_FALSE(decode_bytes_elements(raw, 3, "s").ok());                            // one too many
  EXPECT_FALSE(decode_bytes_elements(raw, 5, "s").ok());                            // one too few
  EXPECT_FALSE(decode_bytes_elements(raw.substr(0, raw.size() - 1), 4, "s").ok());  // truncated element
  EXPECT_FALSE(decode_bytes_elements(raw + "\1\0", 4, "s").ok());                   // truncated prefix

  inference::ModelInferRequest message;
  add_input(&message, "s", "BYTES", {2, 2});
  message.add_raw_input_contents(raw);
  auto request = infer_request_from_proto(message);
  ASSERT_TRUE(request.ok()) << request.status().to_string();
  EXPECT_EQ(request->inputs.at("s").string_data(), elements);
}

TEST(GrpcConvert, RequestParameters) {
  inference::ModelInferRequest message;
  (*message.mutable_parameters())["priority"].set_uint64_param(2);
  (*message.mutable_parameters())["timeout"].set_int64_param(1500);
  (*message.mutable_parameters())["custom"].set_string_param("ignored");
  auto request = infer_request_from_proto(message);
  ASSERT_TRUE(request.ok()) << request.status().to_string();
  EXPECT_EQ(request->priority, 2);
  EXPECT_EQ(request->timeout_us, 1500);

  inference::ModelInferRequest negative;
  (*negative.mutable_parameters())["timeout"].set_int64_param(-1);
  EXPECT_EQ(infer_request_from_proto(negative).status().code(), StatusCode::kInvalidArgument);

  inference::ModelInferRequest text;
  (*text.mutable_parameters())["priority"].set_string_param("high");
  EXPECT_EQ(infer_request_from_proto(text).status().code(), StatusCode::kInvalidArgument);

  inference::ModelInferRequest sequence;
  (*sequence.mutable_parameters())["sequence_id"].set_int64_param(4);
  EXPECT_EQ(infer_request_from_proto(sequence).status().code(), StatusCode::kUnimplemented);

  inference::ModelInferRequest shared_without_size;
  auto* input = add_input(&shared_without_size, "x", "FP32", {1});
  (*input->mutable_parameters())["shared_memory_region"].set_string_param("region");
  auto no_size = infer_request_from_proto(shared_without_size);
  EXPECT_EQ(no_size.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(no_size.status().message().find("shared_memory_byte_size"), std::string::npos);

  inference::ModelInferRequest classification;
  auto* output = classification.add_outputs();
  output->set_name("y");
  (*output->mutable_parameters())["classification"].set_int64_param(3);
  EXPECT_EQ(infer_request_from_proto(classification).status().code(), StatusCode::kUnimplemented);
}

TEST(GrpcConvert, RawContentsMoveIntoTheTensorWithoutACopy) {
  inference::ModelInferRequest message;
  std::vector<float> values = random_floats(64, 21);
  add_input(&message, "x", "FP32", {4, 16});
  message.add_raw_input_contents(std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4));
  const void* wire_bytes = message.raw_input_contents(0).data();
  auto request = infer_request_from_proto(message);
  ASSERT_TRUE(request.ok()) << request.status().to_string();
  const Tensor& x = request->inputs.at("x");
  // The tensor owns the very buffer protobuf parsed into; the message gave it up.
  EXPECT_EQ(x.raw_data(), wire_bytes);
  EXPECT_TRUE(message.raw_input_contents(0).empty());
  EXPECT_EQ(std::memcmp(x.raw_data(), values.data(), values.size() * 4), 0);
  // The tensor outlives the message.
  message.Clear();
  Tensor kept = x;
  request = Expected<InferRequest>(InferRequest());
  EXPECT_EQ(std::memcmp(kept.raw_data(), values.data(), values.size() * 4), 0);
}

TEST(GrpcConvert, SharedMemoryInputsAndOutputsAreReferencesNotData) {
  inference::ModelInferRequest message;
  std::vector<float> values = random_floats(4, 2);
  auto* in_region = add_input(&message, "a", "FP32", {2, 3});
  auto& a = *in_region->mutable_parameters();
  a["shared_memory_region"].set_string_param("inputs");
  a["shared_memory_offset"].set_int64_param(64);
  a["shared_memory_byte_size"].set_int64_param(24);
  add_input(&message, "b", "FP32", {1, 4});
  // Only the input outside shared memory has a raw entry, as tritonclient sends it.
  message.add_raw_input_contents(std::string(reinterpret_cast<const char*>(values.data()), 16));
  auto* output = message.add_outputs();
  output->set_name("y");
  (*output->mutable_parameters())["shared_memory_region"].set_string_param("outputs");
  (*output->mutable_parameters())["shared_memory_byte_size"].set_uint64_param(400);
  message.add_outputs()->set_name("z");

  auto request = infer_request_from_proto(message);
  ASSERT_TRUE(request.ok()) << request.status().to_string();
  ASSERT_EQ(request->shared_memory_inputs.count("a"), 1u);
  EXPECT_EQ(request->inputs.count("a"), 0u);
  const SharedMemoryInput& in = request->shared_memory_inputs.at("a");
  EXPECT_EQ(in.dtype, DataType::kFloat32);
  EXPECT_EQ(in.dims, (Dims{2, 3}));
  EXPECT_EQ(in.reference.region, "inputs");
  EXPECT_EQ(in.reference.offset, 64u);
  EXPECT_EQ(in.reference.byte_size, 24u);
  EXPECT_EQ(std::memcmp(request->inputs.at("b").raw_data(), values.data(), 16), 0);
  EXPECT_EQ(request->requested_outputs, (std::vector<std::string>{"y", "z"}));
  ASSERT_EQ(request->shared_memory_outputs.count("y"), 1u);
  EXPECT_EQ(request->shared_memory_outputs.at("y").region, "outputs");
  EXPECT_EQ(request->shared_memory_outputs.at("y").offset, 0u);
  EXPECT_EQ(request->shared_memory_outputs.at("y").byte_size, 400u);

  // One raw entry per input outside shared memory, no more.
  message.add_raw_input_contents("extra");
  auto extra = infer_request_from_proto(message);
  EXPECT_EQ(extra.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(extra.status().message().find("outside shared memory"), std::string::npos);

  inference::ModelInferRequest negative;
  auto& n = *add_input(&negative, "a", "FP32", {1})->mutable_parameters();
  n["shared_memory_region"].set_string_param("r");
  n["shared_memory_byte_size"].set_int64_param(-4);
  auto refused = infer_request_from_proto(negative);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("input 'a'"), std::string::npos);

  inference::ModelInferRequest orphan_offset;
  (*add_input(&orphan_offset, "a", "FP32", {1})->mutable_parameters())["shared_memory_offset"].set_int64_param(8);
  EXPECT_EQ(infer_request_from_proto(orphan_offset).status().code(), StatusCode::kInvalidArgument);
}

TEST(GrpcConvert, SharedMemoryOutputsKeepRawEntriesAligned) {
  InferResponse response;
  response.model = "m";
  response.outputs.emplace_back("y", Tensor::zeros(DataType::kFloat32, {2, 3}));
  response.outputs.emplace_back("z", Tensor::from_vector(DataType::kInt64, {1}, std::vector<int64_t>{7}));
  response.shared_memory_outputs["y"] = {"outputs", 32, 24};
  inference::ModelInferResponse message;
  ASSERT_TRUE(infer_response_to_proto(response, &message).ok());
  ASSERT_EQ(message.outputs_size(), 2);
  ASSERT_EQ(message.raw_output_contents_size(), 2);
  EXPECT_TRUE(message.raw_output_contents(0).empty());
  EXPECT_EQ(message.raw_output_contents(1).size(), 8u);
  const auto& parameters = message.outputs(0).parameters();
  EXPECT_EQ(parameters.at("shared_memory_region").string_param(), "outputs");
  EXPECT_EQ(parameters.at("shared_memory_byte_size").int64_param(), 24);
  EXPECT_EQ(parameters.at("shared_memory_offset").int64_param(), 32);
  EXPECT_EQ(std::vector<int64_t>(message.outputs(0).shape().begin(), message.outputs(0).shape().end()),
            (std::vector<int64_t>{2, 3}));
  EXPECT_TRUE(message.outputs(1).parameters().empty());
}

TEST(GrpcConvert, SharedMemoryStatusIsKeyedByRegionName) {
  inference::SystemSharedMemoryStatusResponse message;
  shared_memory_status_to_proto({{"a", "/key_a", 0, 64}, {"b", "/key_b", 4096, 128}}, &message);
  ASSERT_EQ(message.regions_size(), 2);
  EXPECT_EQ(message.regions().at("b").key(), "/key_b");
  EXPECT_EQ(message.regions().at("b").offset(), 4096u);
  EXPECT_EQ(message.regions().at("b").byte_size(), 128u);
  EXPECT_EQ(message.regions().at("a").name(), "a");
}

TEST(GrpcConvert, ResponseCarriesRawOutputsInOrder) {
  std::vector<float> values = random_floats(2 * 5, 5);
  InferResponse response;
  response.model = "m";
  response.id = "abc";
  response.outputs.emplace_back("logits", Tensor::from_vector(DataType::kFloat32, {2, 5}, values));
  response.outputs.emplace_back("index", Tensor::from_vector(DataType::kInt64, {2}, std::vector<int64_t>{4, -3}));
  response.outputs.emplace_back("label", Tensor::strings({2}, {"cat", "dog"}));

  inference::ModelInferResponse message;
  ASSERT_TRUE(infer_response_to_proto(response, &message).ok());
  EXPECT_EQ(message.model_name(), "m");
  EXPECT_EQ(message.model_version(), "1");
  EXPECT_EQ(message.id(), "abc");
  ASSERT_EQ(message.outputs_size(), 3);
  ASSERT_EQ(message.raw_output_contents_size(), 3);
  EXPECT_EQ(message.outputs(0).name(), "logits");
  EXPECT_EQ(message.outputs(0).datatype(), "FP32");
  EXPECT_EQ(std::vector<int64_t>(message.outputs(0).shape().begin(), message.outputs(0).shape().end()),
            (std::vector<int64_t>{2, 5}));
  EXPECT_EQ(message.raw_output_contents(0),
            std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4));
  EXPECT_EQ(message.outputs(1).datatype(), "INT64");
  int64_t second = 0;
  std::memcpy(&second, message.raw_output_contents(1).data() + 8, 8);
  EXPECT_EQ(second, -3);
  EXPECT_EQ(message.outputs(2).datatype(), "BYTES");
  EXPECT_EQ(message.raw_output_contents(2), encode_bytes_elements({"cat", "dog"}));
}

TEST(GrpcConvert, ModelConfigLeavesOutTheBatchAxis) {
  ModelConfig config;
  config.name = "m";
  config.platform = "onnx";
  config.batching.max_batch_size = 8;
  config.batching.instances = 2;
  config.batching.preferred_batch_sizes = {4, 8};
  config.batching.max_queue_delay_us = 250;
  ModelMetadata metadata;
  metadata.name = "m";
  metadata.inputs = {{"x", "FP32", {-1, 3, 16, 16}}, {"tag", "BYTES", {-1, 1}}};
  metadata.outputs = {{"y", "FP16", {-1, 10}}};

  inference::ModelConfig message;
  ASSERT_TRUE(model_config_to_proto(config, metadata, &message).ok());
  EXPECT_EQ(message.max_batch_size(), 8);
  ASSERT_EQ(message.input_size(), 2);
  EXPECT_EQ(message.input(0).data_type(), inference::TYPE_FP32);
  EXPECT_EQ(std::vector<int64_t>(message.input(0).dims().begin(), message.input(0).dims().end()),
            (std::vector<int64_t>{3, 16, 16}));
  EXPECT_EQ(message.input(1).data_type(), inference::TYPE_STRING);
  EXPECT_EQ(message.output(0).data_type(), inference::TYPE_FP16);
  EXPECT_EQ(message.output(0).dims_size(), 1);
  EXPECT_EQ(message.instance_group(0).count(), 2);
  EXPECT_EQ(message.instance_group(0).kind(), inference::ModelInstanceGroup::KIND_CPU);
  EXPECT_EQ(message.dynamic_batching().preferred_batch_size_size(), 2);
  EXPECT_EQ(message.dynamic_batching().max_queue_delay_microseconds(), 250u);
}

TEST(GrpcConvert, StatisticsAndMetadata) {
  ModelStatistics stats;
  stats.name = "m";
  stats.inference_count = 12;
  stats.execution_count = 3;
  stats.last_inference_ms = 1700000000123;
  stats.success = {5, 5000};
  stats.queue = {5, 700};
  stats.batch_stats.push_back({4, {3, 900}});
  inference::ModelStatisticsResponse message;
  statistics_to_proto({stats}, &message);
  ASSERT_EQ(message.model_stats_size(), 1);
  const auto& out = message.model_stats(0);
  EXPECT_EQ(out.name(), "m");
  EXPECT_EQ(out.version(), "1");
  EXPECT_EQ(out.inference_count(), 12u);
  EXPECT_EQ(out.execution_count(), 3u);
  EXPECT_EQ(out.last_inference(), 1700000000123u);
  EXPECT_EQ(out.inference_stats().success().ns(), 5000u);
  EXPECT_EQ(out.inference_stats().queue().count(), 5u);
  ASSERT_EQ(out.batch_stats_size(), 1);
  EXPECT_EQ(out.batch_stats(0).batch_size(), 4u);
  EXPECT_EQ(out.batch_stats(0).compute_infer().ns(), 900u);

  ModelMetadata metadata;
  metadata.name = "m";
  metadata.versions = {"1"};
  metadata.platform = "kiln_plan";
  metadata.inputs = {{"x", "FP32", {-1, 4}}};
  inference::ModelMetadataResponse metadata_message;
  model_metadata_to_proto(metadata, &metadata_message);
  EXPECT_EQ(metadata_message.platform(), "kiln_plan");
  ASSERT_EQ(metadata_message.inputs_size(), 1);
  EXPECT_EQ(metadata_message.inputs(0).shape(0), -1);
  EXPECT_EQ(metadata_message.inputs(0).datatype(), "FP32");
}

}  // namespace
}  // namespace kiln::serve
