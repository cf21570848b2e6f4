#include "ir/ops/reduction_einsum_equation.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "ir/op_registry.h"

namespace kiln {
namespace {

// One side of an equation term: letters in order, with the ellipsis position.
struct Term {
  std::string letters;          // letters in order, without the ellipsis
  int ellipsis_position = -1;   // index in `letters` where "..." stands, or -1
};

Expected<Term> parse_term(const std::string& text, const Node& node) {
  Term term;
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (ch == '.') {
      if (text.compare(i, 3, "...") != 0 || term.ellipsis_position >= 0) {
        return infer_error(node, "einsum term '" + text + "' has a malformed or repeated ellipsis");
      }
      term.ellipsis_position = static_cast<int>(term.letters.size());
      i += 2;
    } else if (std::isalpha(static_cast<unsigned char>(ch))) {
      term.letters.push_back(ch);
    } else {
      return infer_error(node, std::string("einsum term '") + text + "' has an invalid character '" + ch + "'");
    }
  }
  return term;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts(1);
  for (char ch : text) {
    if (ch == separator) parts.emplace_back();
    else parts.back().push_back(ch);
  }
  return parts;
}

}  // namespace

Expected<EinsumEquation> parse_einsum_equation(const std::string& equation, const std::vector<size_t>& ranks,
                                               const Node& node) {
  std::string text;
  for (char ch : equation) {
    if (!std::isspace(static_cast<unsigned char>(ch))) text.push_back(ch);
  }
  const size_t arrow = text.find("->");
  const bool explicit_output = arrow != std::string::npos;
  const std::string lhs = explicit_output ? text.substr(0, arrow) : text;
  std::vector<std::string> term_texts = split(lhs, ',');
  if (term_texts.size() != ranks.size()) {
    return infer_error(node, "einsum equation '" + equation + "' names " + std::to_string(term_texts.size()) +
                                 " operands, the node has " + std::to_string(ranks.size()) + " inputs");
  }
  std::vector<Term> terms;
  size_t ellipsis_rank = 0;
  for (size_t i = 0; i < term_texts.size(); ++i) {
    KILN_ASSIGN_OR_RETURN(Term term, parse_term(term_texts[i], node));
    const size_t letters = term.letters.size();
    if (ranks[i] < letters || (term.ellipsis_position < 0 && ranks[i] != letters)) {
      return infer_error(node, "einsum term '" + term_texts[i] + "' does not fit operand " + std::to_string(i) +
                                   " of rank " + std::to_string(ranks[i]));
    }
    if (term.ellipsis_position >= 0) ellipsis_rank = std::max(ellipsis_rank, ranks[i] - letters);
    terms.push_back(std::move(term));
  }

  EinsumEquation result;
  std::map<char, int> letter_ids;
  std::map<char, int> letter_uses;
  int next_id = static_cast<int>(ellipsis_rank);
  auto id_of = [&](char letter) {
    auto it = letter_ids.find(letter);
    if (it != letter_ids.end()) return it->second;
    letter_ids[letter] = next_id;
    return next_id++;
  };
  for (size_t i = 0; i < terms.size(); ++i) {
    const Term& term = terms[i];
    const size_t own_ellipsis = term.ellipsis_position >= 0 ? ranks[i] - term.letters.size() : 0;
    std::vector<int> labels;
    for (size_t j = 0; j <= term.letters.size(); ++j) {
      if (static_cast<int>(j) == term.ellipsis_position) {
        for (size_t e = 0; e < own_ellipsis; ++e) labels.push_back(static_cast<int>(ellipsis_rank - own_ellipsis + e));
      }
      if (j < term.letters.size()) {
        labels.push_back(id_of(term.letters[j]));
        ++letter_uses[term.letters[j]];
      }
    }
    result.operand_labels.push_back(std::move(labels));
  }

  if (explicit_output) {
    KILN_ASSIGN_OR_RETURN(Term output, parse_term(text.substr(arrow + 2), node));
    for (size_t j = 0; j <= output.letters.size(); ++j) {
      if (static_cast<int>(j) == output.ellipsis_position) {
        for (size_t e = 0; e < ellipsis_rank; ++e) result.output_labels.push_back(static_cast<int>(e));
      }
      if (j == output.letters.size()) break;
      const char letter = output.letters[j];
      if (!letter_ids.count(letter)) {
        return infer_error(node, std::string("einsum output label '") + letter + "' appears in no input");
      }
      const int id = letter_ids[letter];
      if (std::find(result.output_labels.begin(), result.output_labels.end(), id) != result.output_labels.end()) {
        return infer_error(node, std::string("einsum output label '") + letter + "' is repeated");
      }
      result.output_labels.push_back(id);
    }
    if (output.ellipsis_position < 0 && ellipsis_rank > 0) {
      return infer_error(node, "einsum equation '" + equation + "' drops the ellipsis axes from the output");
    }
  } else {
    for (size_t e = 0; e < ellipsis_rank; ++e) result.output_labels.push_back(static_cast<int>(e));
    for (const auto& [letter, uses] : letter_uses) {  // std::map: ASCII order
      if (uses == 1) result.output_labels.push_back(letter_ids[letter]);
    }
  }
  result.label_count = next_id;
  return result;
}

Expected<std::vector<int64_t>> einsum_label_extents(const EinsumEquation& equation,
                                                    const std::vector<Dims>& operand_dims, const Node& node) {
  constexpr int64_t kUnset = -2;
  std::vector<int64_t> extents(static_cast<size_t>(equation.label_count), kUnset);
  for (size_t i = 0; i < operand_dims.size(); ++i) {
    for (size_t axis = 0; axis < operand_dims[i].size(); ++axis) {
      const int64_t d = operand_dims[i][axis];
      int64_t& e = extents[static_cast<size_t>(equation.operand_labels[i][axis])];
      if (e == kUnset || e == 1 || (e == -1 && d >= 0 && d != 1)) e = d;
      else if (d == 1 || d == -1 || d == e) continue;
      else {
        return infer_error(node, "einsum operand " + std::to_string(i) + " (shape " +
                                     dims_to_string(operand_dims[i]) + ") has extent " + std::to_string(d) +
                                     " on axis " + std::to_string(axis) + " where its label has extent " +
                                     std::to_string(e));
      }
    }
  }
  for (int64_t& e : extents) {
    if (e == kUnset) e = 1;
  }
  return extents;
}

}  // namespace kiln
