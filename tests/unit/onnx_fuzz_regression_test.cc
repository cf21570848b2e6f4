// Inputs the ONNX importer fuzzer once crashed on: each must now give a clear error.
#include <gtest/gtest.h>

#include <filesystem>

#include "kiln/onnx.h"

namespace kiln {
namespace {

TEST(OnnxImportRegressions, FuzzerFindingsGiveErrors) {
  std::filesystem::path dir = std::filesystem::path(KILN_SOURCE_DIR) / "fuzz" / "crashes" / "onnx_import";
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    ++files;
    auto graph = import_onnx_file(entry.path().string());
    EXPECT_FALSE(graph.ok()) << entry.path() << " imported";
    if (!graph.ok()) EXPECT_FALSE(graph.status().message().empty());
  }
  EXPECT_GE(files, 4);
}

TEST(OnnxImportRegressions, HugeShapeTextIsAnError) {
  auto dims = parse_dims("99999999999999999999x3");
  EXPECT_FALSE(dims.ok());
}

}  // namespace
}  // namespace kiln
