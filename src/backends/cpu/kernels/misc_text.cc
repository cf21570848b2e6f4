// StringNormalizer and TfIdfVectorizer on the CPU (ASCII case mapping).
#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "backends/cpu/kernels/misc_kernels.h"

namespace kiln::cpu {
namespace {

std::string map_case(std::string s, bool upper) {
  for (char& ch : s) {
    unsigned char u = static_cast<unsigned char>(ch);
    ch = static_cast<char>(upper ? std::toupper(u) : std::tolower(u));
  }
  return s;
}

Status run_string_normalizer(KernelArgs& args) {
  const Node& node = args.node;
  const Tensor& x = args.input(0);
  if (x.dtype() != DataType::kString) return unsupported_dtype(node, x.dtype());
  const std::string action = node.attr_string("case_change_action", "NONE");
  if (action != "NONE" && action != "LOWER" && action != "UPPER") {
    return invalid_argument(node.describe() + ": case_change_action '" + action + "' is not NONE, LOWER or UPPER");
  }
  const bool case_sensitive = node.attr_int("is_case_sensitive", 0) != 0;
  std::set<std::string> stopwords;
  for (const std::string& w : node.attr_strings("stopwords")) stopwords.insert(case_sensitive ? w : map_case(w, false));
  std::vector<std::string> kept;
  for (const std::string& s : x.string_data()) {
    if (stopwords.count(case_sensitive ? s : map_case(s, false))) continue;
    if (action == "NONE")
      kept.push_back(s);
    else
      kept.push_back(map_case(s, action == "UPPER"));
  }
  // Everything filtered out leaves one empty string, as onnxruntime does.
  if (kept.empty()) kept.emplace_back();
  const int64_t count = static_cast<int64_t>(kept.size());
  Dims dims = x.rank() == 2 ? Dims{1, count} : Dims{count};
  args.output(0) = Tensor::strings(dims, std::move(kept));
  return ok_status();
}

Status run_tfidf(KernelArgs& args) {
  const Node& node = args.node;
  const Tensor& x = args.input(0);
  const int64_t min_gram = node.attr_int("min_gram_length", 1);
  const int64_t max_gram = node.attr_int("max_gram_length", 1);
  const int64_t max_skip = node.attr_int("max_skip_count", 0);
  const std::string mode = node.attr_string("mode", "TF");
  if (mode != "TF" && mode != "IDF" && mode != "TFIDF") {
    return invalid_argument(node.describe() + ": mode '" + mode + "' is not TF, IDF or TFIDF");
  }
  const std::vector<int64_t> counts = node.attr_ints("ngram_counts");
  const std::vector<int64_t> indexes = node.attr_ints("ngram_indexes");
  const std::vector<double> weights = node.attr_floats("weights");
  const bool string_pool = node.has_attribute("pool_strings");
  std::vector<std::string> pool;
  if (string_pool) {
    pool = node.attr_strings("pool_strings");
  } else {
    for (int64_t v : node.attr_ints("pool_int64s")) pool.push_back(std::to_string(v));
  }
  // Every pool n-gram -> its output column.
  std::map<std::vector<std::string>, int64_t> ngrams;
  size_t ordinal = 0;
  for (size_t level = 0; level < counts.size(); ++level) {
    const int64_t n = static_cast<int64_t>(level) + 1;
    const int64_t start = counts[level];
    const int64_t pool_size = static_cast<int64_t>(pool.size());
    const int64_t end = std::min(level + 1 < counts.size() ? counts[level + 1] : pool_size, pool_size);
    if (start < 0) return invalid_argument(node.describe() + ": ngram_counts must not be negative");
    for (int64_t p = start; p + n <= end; p += n) {
      if (ordinal >= indexes.size())
        return invalid_argument(node.describe() + ": fewer ngram_indexes than pool n-grams");
      std::vector<std::string> key(pool.begin() + p, pool.begin() + p + n);
      ngrams[key] = indexes[ordinal++];
    }
  }
  std::vector<std::string> tokens;
  if (x.dtype() == DataType::kString) {
    if (!string_pool) return invalid_argument(node.describe() + ": string input needs pool_strings");
    tokens = x.string_data();
  } else if (x.dtype() == DataType::kInt32 || x.dtype() == DataType::kInt64) {
    for (int64_t v : x.to_int64_vector()) tokens.push_back(std::to_string(v));
  } else {
    return unsupported_dtype(node, x.dtype());
  }
  const int64_t rows = x.rank() == 2 ? x.dim(0) : 1;
  const int64_t cols = x.rank() == 2 ? x.dim(1) : (x.rank() == 1 ? x.dim(0) : 0);
  const int64_t width = indexes.empty() ? 0 : *std::max_element(indexes.begin(), indexes.end()) + 1;
  Tensor& y = args.output(0);
  Dims out_dims = x.rank() == 2 ? Dims{rows, width} : Dims{width};
  if (!y.defined() || y.dims() != out_dims) y = Tensor::empty(DataType::kFloat32, out_dims);
  float* out = y.data<float>();
  std::fill(out, out + rows * width, 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<double> tf(static_cast<size_t>(width), 0.0);
    const std::string* row = tokens.data() + r * cols;
    for (int64_t start = 0; start < cols; ++start) {
      for (int64_t n = std::max<int64_t>(min_gram, 1); n <= max_gram; ++n) {
        // Unigrams have no gaps, so they are counted once.
        const int64_t skips = n == 1 ? 0 : max_skip;
        for (int64_t skip = 0; skip <= skips; ++skip) {
          const int64_t stride = skip + 1;
          if (start + (n - 1) * stride >= cols) break;
          std::vector<std::string> key;
          for (int64_t k = 0; k < n; ++k) key.push_back(row[start + k * stride]);
          auto it = ngrams.find(key);
          if (it != ngrams.end()) tf[static_cast<size_t>(it->second)] += 1;
        }
      }
    }
    for (int64_t col = 0; col < width; ++col) {
      double v = tf[static_cast<size_t>(col)];
      double w = static_cast<size_t>(col) < weights.size() ? weights[static_cast<size_t>(col)] : 1.0;
      if (mode == "IDF")
        v = v > 0 ? w : 0;
      else if (mode == "TFIDF")
        v *= w;
      out[r * width + col] = static_cast<float>(v);
    }
  }
  return ok_status();
}

}  // namespace

void register_text_kernels(KernelTable& table) {
  table.add("StringNormalizer", CpuKernel{nullptr, run_string_normalizer});
  table.add("TfIdfVectorizer", CpuKernel{nullptr, run_tfidf});
}

}  // namespace kiln::cpu
