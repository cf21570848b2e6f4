// StringNormalizer and TfIdfVectorizer: schemas and output shapes.
#include <algorithm>

#include "ir/ops/misc_ops.h"

namespace kiln {
namespace {

using K = Attribute::Kind;

Expected<std::vector<TensorInfo>> infer_string_normalizer(const InferContext& c) {
  const TensorInfo& x = c.input(0);
  if (x.dtype != DataType::kString)
    return infer_error(c.node, std::string("input must be string, got ") + dtype_name(x.dtype));
  if (!x.dims_known) return std::vector<TensorInfo>{unknown_dims(DataType::kString, -1)};
  if (x.dims.size() != 1 && !(x.dims.size() == 2 && (x.dims[0] == 1 || x.dims[0] < 0))) {
    return infer_error(c.node, "input must be [C] or [1, C], got " + dims_to_string(x.dims));
  }
  // How many strings survive the stopwords depends on the data.
  Dims out = x.dims;
  out.back() = -1;
  if (x.dims.size() == 2) out[0] = 1;
  return std::vector<TensorInfo>{TensorInfo{DataType::kString, out, true}};
}

Expected<std::vector<TensorInfo>> infer_tfidf(const InferContext& c) {
  const TensorInfo& x = c.input(0);
  std::vector<int64_t> indexes = c.node.attr_ints("ngram_indexes");
  int64_t width = indexes.empty() ? 0 : *std::max_element(indexes.begin(), indexes.end()) + 1;
  if (!x.dims_known) return std::vector<TensorInfo>{unknown_dims(DataType::kFloat32, -1)};
  if (x.dims.size() == 1) return std::vector<TensorInfo>{TensorInfo{DataType::kFloat32, {width}, true}};
  if (x.dims.size() == 2) return std::vector<TensorInfo>{TensorInfo{DataType::kFloat32, {x.dims[0], width}, true}};
  return infer_error(c.node, "input must be [C] or [N, C], got " + dims_to_string(x.dims));
}

}  // namespace

void register_text_ops(OpRegistry& registry) {
  registry.add(OpSchema{"StringNormalizer",
                        "",
                        1,
                        1,
                        1,
                        1,
                        {{"case_change_action", K::kString},
                         {"is_case_sensitive", K::kInt},
                         {"locale", K::kString},
                         {"stopwords", K::kStrings}},
                        infer_string_normalizer});
  registry.add(OpSchema{"TfIdfVectorizer",
                        "",
                        1,
                        1,
                        1,
                        1,
                        {{"max_gram_length", K::kInt, true},
                         {"max_skip_count", K::kInt, true},
                         {"min_gram_length", K::kInt, true},
                         {"mode", K::kString, true},
                         {"ngram_counts", K::kInts, true},
                         {"ngram_indexes", K::kInts, true},
                         {"pool_int64s", K::kInts},
                         {"pool_strings", K::kStrings},
                         {"weights", K::kFloats}},
                        infer_tfidf});
}

}  // namespace kiln
