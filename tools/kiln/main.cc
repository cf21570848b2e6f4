#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
  CLI::App app{"kiln: build, run and measure ONNX models"};
  CLI11_PARSE(app, argc, argv);
  return 0;
}
