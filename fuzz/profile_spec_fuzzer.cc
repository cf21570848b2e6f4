// libFuzzer target for profile parsing and selection: any text must parse or
// give an error; a parsed profile goes through validation against a fixed
// model, printing, re-parsing and selection.
#include <cstddef>
#include <cstdint>
#include <string>

#include "kiln/profile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  static const std::vector<kiln::IoDesc> inputs = {
      {"input", kiln::DataType::kFloat32,
       kiln::Shape({kiln::Dim::symbolic("batch"), kiln::Dim::known(3), kiln::Dim()})},
      {"mask", kiln::DataType::kFloat32, kiln::Shape({kiln::Dim::symbolic("batch"), kiln::Dim::known(16)})},
      {"scale", kiln::DataType::kFloat32, kiln::Shape::unranked()},
  };
  auto profile = kiln::parse_profile_spec(text);
  if (profile.ok()) {
    (void)kiln::validate_profile(*profile, inputs);
    auto reparsed = kiln::parse_profile_spec(kiln::profile_to_string(*profile));
    if (!reparsed.ok() || !(*reparsed == *profile)) __builtin_trap();
    kiln::InputShapes shapes;
    for (const auto& [name, range] : profile->inputs) shapes[name] = range.opt;
    bool ordered = true;
    for (const auto& [name, range] : profile->inputs) {
      for (size_t axis = 0; axis < range.opt.size(); ++axis) {
        ordered &= range.min[axis] <= range.opt[axis] && range.opt[axis] <= range.max[axis];
      }
    }
    // The opt shapes are covered exactly when min <= opt <= max on every axis.
    if (kiln::select_profile({*profile}, shapes).ok() != ordered) __builtin_trap();
  }
  // trtexec form: three lines.
  size_t first = text.find('\n');
  size_t second = first == std::string::npos ? std::string::npos : text.find('\n', first + 1);
  if (second != std::string::npos) {
    (void)kiln::parse_trtexec_shapes(text.substr(0, first), text.substr(first + 1, second - first - 1),
                                     text.substr(second + 1));
  }
  return 0;
}
