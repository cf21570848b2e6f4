// System shared memory regions: registration and its refusals (each naming
// the region, key, offset and size), spans checked against the region, a
// mapping kept alive by a span after unregistering, and inference through
// InferenceServer with inputs read from and outputs written into a region.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>

#include "graph_test_util.h"
#include "kiln/builder.h"
#include "serve/inference_server.h"
#include "serve_test_support.h"
#include "serve/system_shared_memory.h"

namespace kiln::serve {
namespace {

namespace fs = std::filesystem;
using test_support::infer_now;
using test_support::write_relu_double_plan;

// A POSIX shared memory object of `bytes` bytes, mapped here, unlinked at the end.
class SharedObject {
 public:
  SharedObject(const std::string& suffix, size_t bytes)
      : key_("/kiln_shm_test_" + std::to_string(::getpid()) + "_" + suffix), bytes_(bytes) {
    int fd = shm_open(key_.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0600);
    EXPECT_GE(fd, 0) << key_;
    EXPECT_EQ(ftruncate(fd, static_cast<off_t>(bytes)), 0);
    data_ = static_cast<char*>(mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    close(fd);
  }
  ~SharedObject() {
    munmap(data_, bytes_);
    shm_unlink(key_.c_str());
  }
  const std::string& key() const { return key_; }
  char* data() const { return data_; }

 private:
  std::string key_;
  size_t bytes_;
  char* data_ = nullptr;
};

bool mentions(const Status& status, std::initializer_list<std::string> fragments) {
  for (const std::string& fragment : fragments) {
    if (status.message().find(fragment) == std::string::npos) return false;
  }
  return true;
}

TEST(ServeSharedMemory, RegisterStatusSpanUnregister) {
  SharedObject object("basic", 4096);
  SystemSharedMemoryRegistry registry;
  ASSERT_TRUE(registry.register_region("r", object.key(), 1024, 2048).ok());
  auto status = registry.status("");
  ASSERT_TRUE(status.ok());
  ASSERT_EQ(status->size(), 1u);
  EXPECT_EQ((*status)[0].name, "r");
  EXPECT_EQ((*status)[0].key, object.key());
  EXPECT_EQ((*status)[0].offset, 1024u);
  EXPECT_EQ((*status)[0].byte_size, 2048u);

  // Offsets in a span count from the region's start, which is 1024 bytes into the object.
  std::memcpy(object.data() + 1024 + 16, "kiln", 4);
  auto span = registry.span("r", 16, 4, "input 'x'");
  ASSERT_TRUE(span.ok()) << span.status().to_string();
  EXPECT_EQ(std::memcmp(span->data, "kiln", 4), 0);
  // Writes through the span reach the client's mapping.
  std::memcpy(span->data, "KILN", 4);
  EXPECT_EQ(std::memcmp(object.data() + 1024 + 16, "KILN", 4), 0);

  // Unregistering leaves a span in use mapped.
  registry.unregister("r");
  EXPECT_EQ(registry.status("")->size(), 0u);
  EXPECT_EQ(std::memcmp(span->data, "KILN", 4), 0);
  EXPECT_EQ(registry.span("r", 0, 4, "input 'x'").status().code(), StatusCode::kInvalidArgument);
  registry.unregister("r");  // not registered: not an error
}

TEST(ServeSharedMemory, RefusalsNameTheRegionKeyOffsetAndSize) {
  SharedObject object("refusals", 256);
  SystemSharedMemoryRegistry registry;
  Status missing = registry.register_region("m", "/kiln_no_such_object", 0, 16);
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_TRUE(mentions(missing, {"'m'", "/kiln_no_such_object"})) << missing.message();

  Status past = registry.register_region("p", object.key(), 200, 100);
  EXPECT_EQ(past.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(mentions(past, {"'p'", object.key(), "offset 200", "byte size 100", "300", "256 bytes"}))
      << past.message();
  EXPECT_EQ(registry.register_region("z", object.key(), 0, 0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.register_region("", object.key(), 0, 16).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.register_region("k", "", 0, 16).code(), StatusCode::kInvalidArgument);

  ASSERT_TRUE(registry.register_region("r", object.key(), 0, 128).ok());
  Status twice = registry.register_region("r", object.key(), 0, 64);
  EXPECT_EQ(twice.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(mentions(twice, {"'r'", "already registered"})) << twice.message();

  auto beyond = registry.span("r", 120, 16, "input 'x'");
  ASSERT_FALSE(beyond.ok());
  EXPECT_TRUE(mentions(beyond.status(), {"input 'x'", "'r'", "offset 120", "byte size 16", "128 bytes"}))
      << beyond.status().message();
  auto unknown = registry.span("q", 0, 4, "output 'y'");
  ASSERT_FALSE(unknown.ok());
  EXPECT_TRUE(mentions(unknown.status(), {"output 'y'", "'q'", "not registered"})) << unknown.status().message();
  EXPECT_EQ(registry.status("q").status().code(), StatusCode::kNotFound);

  registry.unregister("");
  EXPECT_EQ(registry.status("")->size(), 0u);
}

TEST(ServeSharedMemory, CudaExtensionIsRefusedByName) {
  Status refused = cuda_shared_memory_unsupported();
  EXPECT_EQ(refused.code(), StatusCode::kUnimplemented);
  EXPECT_TRUE(mentions(refused, {"cuda_shared_memory"})) << refused.message();
}

TEST(ServeSharedMemory, InferenceReadsInputsFromAndWritesOutputsIntoARegion) {
  const fs::path root = fs::temp_directory_path() / ("kiln_serve_shm_test_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "m");
  ASSERT_TRUE(write_relu_double_plan(root / "m" / "model.kiln").ok());
  ServerOptions options;
  options.model_repository = root.string();
  auto created = InferenceServer::create(options);
  ASSERT_TRUE(created.ok()) << created.status().to_string();
  InferenceServer& server = **created;

  SharedObject object("infer", 4096);
  ASSERT_TRUE(server.system_shared_memory().register_region("io", object.key(), 0, 4096).ok());
  Tensor x = testing::random_tensor({3, 4}, 9);
  std::memcpy(object.data() + 64, x.raw_data(), x.byte_size());

  InferRequest request;
  request.model = "m";
  request.shared_memory_inputs["x"] = {DataType::kFloat32, {3, 4}, {"io", 64, 48}};
  request.requested_outputs = {"z", "y"};
  request.shared_memory_outputs["z"] = {"io", 1024, 256};
  auto response = infer_now(server, std::move(request));
  ASSERT_TRUE(response.ok()) << response.status().to_string();
  ASSERT_EQ(response->shared_memory_outputs.count("z"), 1u);
  EXPECT_EQ(response->shared_memory_outputs.at("z").byte_size, 48u);  // the bytes written
  EXPECT_EQ(response->shared_memory_outputs.count("y"), 0u);
  const float* z = reinterpret_cast<const float*>(object.data() + 1024);
  const Tensor& y = response->outputs[1].second;
  for (int64_t i = 0; i < 12; ++i) {
    const float v = x.data<float>()[i];
    EXPECT_EQ(z[i], 2 * v);
    EXPECT_EQ(y.data<float>()[i], v > 0 ? v : 0.0f);
  }

  // The byte size must match the tensor exactly; the error names input, region and sizes.
  InferRequest wrong_size;
  wrong_size.model = "m";
  wrong_size.shared_memory_inputs["x"] = {DataType::kFloat32, {3, 4}, {"io", 64, 40}};
  Status refused = server.infer(std::move(wrong_size), [](Expected<InferResponse>) {});
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(mentions(refused, {"input 'x'", "'io'", "40", "48 bytes"})) << refused.message();

  // An output region too small fails that request only.
  InferRequest small;
  small.model = "m";
  small.shared_memory_inputs["x"] = {DataType::kFloat32, {3, 4}, {"io", 64, 48}};
  small.requested_outputs = {"y"};
  small.shared_memory_outputs["y"] = {"io", 1024, 8};
  auto too_small = infer_now(server, std::move(small));
  ASSERT_FALSE(too_small.ok());
  EXPECT_TRUE(mentions(too_small.status(), {"output 'y'", "'io'", "48 bytes", "gives 8"}))
      << too_small.status().message();

  // An odd offset is legal on the wire; the input is copied to aligned memory.
  std::memcpy(object.data() + 2001, x.raw_data(), x.byte_size());
  InferRequest odd;
  odd.model = "m";
  odd.shared_memory_inputs["x"] = {DataType::kFloat32, {3, 4}, {"io", 2001, 48}};
  auto odd_response = infer_now(server, std::move(odd));
  ASSERT_TRUE(odd_response.ok()) << odd_response.status().to_string();
  EXPECT_EQ(odd_response->outputs[1].second.data<float>()[5], 2 * x.data<float>()[5]);

  created->reset();
  fs::remove_all(root);
}

}  // namespace
}  // namespace kiln::serve
