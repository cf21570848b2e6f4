#include "kiln/npy.h"

#include <bit>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

namespace kiln {
namespace {

static_assert(std::endian::native == std::endian::little, "the .npy reader assumes a little-endian host");

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
// numpy pads the preamble + header so that the data starts 64-byte aligned.
constexpr size_t kHeaderAlignment = 64;

struct TypeCode {
  char kind;  // 'f', 'i', 'u', 'b'
  int size;
  DataType dtype;
};

constexpr TypeCode kTypeCodes[] = {
    {'f', 2, DataType::kFloat16}, {'f', 4, DataType::kFloat32}, {'f', 8, DataType::kFloat64},
    {'i', 1, DataType::kInt8},    {'i', 2, DataType::kInt16},   {'i', 4, DataType::kInt32},
    {'i', 8, DataType::kInt64},   {'u', 1, DataType::kUint8},   {'u', 2, DataType::kUint16},
    {'u', 4, DataType::kUint32},  {'u', 8, DataType::kUint64},  {'b', 1, DataType::kBool},
};

// The header is a Python dict literal, e.g.
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// This parser accepts exactly the literal forms numpy writes (strings, True/False,
// tuples of integers) and reports anything else.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& file) : text_(text), file_(file) {}

  struct Entry {
    std::string string_value;
    bool bool_value = false;
    Dims tuple_value;
    enum class Kind { kString, kBool, kTuple } kind = Kind::kString;
  };

  Expected<std::map<std::string, Entry>> parse() {
    std::map<std::string, Entry> entries;
    skip_space();
    if (!consume('{')) return error("expected '{' at the start of the header");
    while (true) {
      skip_space();
      if (consume('}')) break;
      KILN_ASSIGN_OR_RETURN(std::string key, parse_string());
      skip_space();
      if (!consume(':')) return error("expected ':' after key '" + key + "'");
      skip_space();
      KILN_ASSIGN_OR_RETURN(Entry value, parse_value());
      entries[key] = std::move(value);
      skip_space();
      if (consume(',')) continue;
      skip_space();
      if (consume('}')) break;
      return error("expected ',' or '}' after the value of '" + key + "'");
    }
    return entries;
  }

 private:
  Status error(const std::string& what) const {
    return format_error("'" + file_ + "': malformed .npy header (" + what + ") in \"" + std::string(text_) + "\"");
  }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool consume(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool consume_word(std::string_view word) {
    if (text_.substr(pos_, word.size()) == word) {
      pos_ += word.size();
      return true;
    }
    return false;
  }
  Expected<std::string> parse_string() {
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) return error("expected a quoted string");
    char quote = text_[pos_++];
    size_t end = text_.find(quote, pos_);
    if (end == std::string_view::npos) return error("unterminated string");
    std::string s(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return s;
  }
  Expected<int64_t> parse_integer() {
    size_t start = pos_;
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    if (start == pos_) return error("expected a non-negative integer");
    int64_t v = std::stoll(std::string(text_.substr(start, pos_ - start)));
    consume('L');  // Python 2 long suffix in old files
    return v;
  }
  Expected<Entry> parse_value() {
    Entry e;
    if (consume_word("True")) {
      e.kind = Entry::Kind::kBool;
      e.bool_value = true;
    } else if (consume_word("False")) {
      e.kind = Entry::Kind::kBool;
    } else if (consume('(')) {
      e.kind = Entry::Kind::kTuple;
      while (true) {
        skip_space();
        if (consume(')')) break;
        KILN_ASSIGN_OR_RETURN(int64_t v, parse_integer());
        e.tuple_value.push_back(v);
        skip_space();
        if (consume(',')) continue;
        skip_space();
        if (consume(')')) break;
        return error("expected ',' or ')' in the shape tuple");
      }
    } else if (pos_ < text_.size() && (text_[pos_] == '\'' || text_[pos_] == '"')) {
      KILN_ASSIGN_OR_RETURN(e.string_value, parse_string());
    } else {
      return error("unsupported value; structured dtypes are not supported");
    }
    return e;
  }

  std::string_view text_;
  const std::string& file_;
  size_t pos_ = 0;
};

Expected<DataType> dtype_from_descr(const std::string& descr, const std::string& file) {
  auto bad = [&](const std::string& why) {
    return unimplemented("'" + file + "': .npy dtype '" + descr + "' is not supported (" + why +
                         "; supported: f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1, little-endian)");
  };
  if (descr.size() < 3) return bad("unrecognised type string");
  char order = descr[0];
  char kind = descr[1];
  int size = 0;
  for (size_t i = 2; i < descr.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(descr[i]))) return bad("unrecognised type string");
    size = size * 10 + (descr[i] - '0');
  }
  if (order != '<' && order != '|' && order != '=' && order != '>') return bad("unrecognised byte order");
  if (order == '>' && size > 1) return bad("big-endian data");
  for (const TypeCode& code : kTypeCodes) {
    if (code.kind == kind && code.size == size) return code.dtype;
  }
  return bad("unknown element type");
}

}  // namespace

Expected<std::string> npy_descr_for(DataType dtype) {
  for (const TypeCode& code : kTypeCodes) {
    if (code.dtype == dtype) {
      return std::string(code.size == 1 ? "|" : "<") + code.kind + std::to_string(code.size);
    }
  }
  return unimplemented(std::string("data type ") + dtype_name(dtype) + " has no .npy equivalent");
}

Expected<Tensor> decode_npy(std::string_view bytes, const std::string& file) {
  if (bytes.size() < kMagicSize + 2 || bytes.substr(0, kMagicSize) != std::string_view(kMagic, kMagicSize)) {
    return format_error("'" + file + "' is not a .npy file (missing the \\x93NUMPY magic)");
  }
  int major = static_cast<unsigned char>(bytes[6]);
  int minor = static_cast<unsigned char>(bytes[7]);
  size_t header_length = 0;
  size_t preamble = 0;
  if (major == 1) {
    if (bytes.size() < 10) return format_error("'" + file + "' is truncated inside the .npy preamble");
    header_length = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    preamble = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return format_error("'" + file + "' is truncated inside the .npy preamble");
    for (int i = 3; i >= 0; --i) header_length = (header_length << 8) | static_cast<unsigned char>(bytes[8 + i]);
    preamble = 12;
  } else {
    return unimplemented("'" + file + "': .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                         " is not supported (1.0, 2.0 and 3.0 are)");
  }
  if (bytes.size() < preamble + header_length) {
    return format_error("'" + file + "' is truncated inside the .npy header");
  }
  std::string_view header = bytes.substr(preamble, header_length);
  KILN_ASSIGN_OR_RETURN(auto entries, HeaderParser(header, file).parse());
  using Kind = HeaderParser::Entry::Kind;
  auto descr = entries.find("descr");
  auto fortran = entries.find("fortran_order");
  auto shape = entries.find("shape");
  if (descr == entries.end() || descr->second.kind != Kind::kString) {
    return format_error("'" + file + "': .npy header has no 'descr' string (structured dtypes are not supported)");
  }
  if (fortran == entries.end() || fortran->second.kind != Kind::kBool) {
    return format_error("'" + file + "': .npy header has no 'fortran_order' flag");
  }
  if (shape == entries.end() || shape->second.kind != Kind::kTuple) {
    return format_error("'" + file + "': .npy header has no 'shape' tuple");
  }
  if (fortran->second.bool_value) {
    return unimplemented("'" + file +
                         "' is stored in Fortran (column-major) order; save it in C order "
                         "(numpy.ascontiguousarray) first");
  }
  KILN_ASSIGN_OR_RETURN(DataType dtype, dtype_from_descr(descr->second.string_value, file));
  const Dims& dims = shape->second.tuple_value;
  // Size the data from the header before allocating, so a corrupt shape cannot
  // request (or overflow into) an absurd allocation.
  uint64_t needed = dtype_size(dtype);
  for (int64_t extent : dims) {
    if (__builtin_mul_overflow(needed, static_cast<uint64_t>(extent), &needed)) needed = UINT64_MAX;
  }
  size_t data_offset = preamble + header_length;
  size_t available = bytes.size() - data_offset;
  if (available < needed) {
    return format_error("'" + file + "' is truncated: shape " + dims_to_string(dims) + " of " + dtype_name(dtype) +
                        " needs " + std::to_string(needed) + " bytes of data, found " + std::to_string(available));
  }
  Tensor tensor = Tensor::empty(dtype, dims);
  if (tensor.byte_size() > 0 && tensor.raw_data() == nullptr) {
    return resource_exhausted("'" + file + "': cannot allocate " + std::to_string(needed) + " bytes");
  }
  if (tensor.byte_size() > 0) std::memcpy(tensor.raw_data(), bytes.data() + data_offset, tensor.byte_size());
  return tensor;
}

Expected<Tensor> read_npy_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return not_found(".npy file '" + path + "' does not exist");
    return io_error("cannot open '" + path + "': " + std::strerror(errno));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  std::string bytes = buffer.str();
  return decode_npy(bytes, path);
}

Expected<std::string> encode_npy(const Tensor& tensor) {
  KILN_ASSIGN_OR_RETURN(std::string descr, npy_descr_for(tensor.dtype()));
  std::string shape = "(";
  for (size_t i = 0; i < tensor.rank(); ++i) {
    shape += std::to_string(tensor.dim(i));
    if (tensor.rank() == 1 || i + 1 < tensor.rank()) shape += ", ";
  }
  if (tensor.rank() == 1) shape.pop_back();  // "(3,)"
  shape += ")";
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Version 1.0 stores the header length in 16 bits; larger headers need 2.0.
  bool version2 = header.size() + 1 + 10 > 65535;
  size_t preamble = version2 ? 12 : 10;
  size_t total = preamble + header.size() + 1;
  header.append((kHeaderAlignment - total % kHeaderAlignment) % kHeaderAlignment, ' ');
  header += '\n';
  std::string out(kMagic, kMagicSize);
  out += static_cast<char>(version2 ? 2 : 1);
  out += static_cast<char>(0);
  size_t length = header.size();
  for (size_t i = 0; i < preamble - 8; ++i) out += static_cast<char>((length >> (8 * i)) & 0xff);
  out += header;
  out.append(static_cast<const char*>(tensor.raw_data()), tensor.byte_size());
  return out;
}

Status write_npy_file(const std::string& path, const Tensor& tensor) {
  KILN_ASSIGN_OR_RETURN(std::string bytes, encode_npy(tensor));
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return io_error("cannot create '" + path + "': " + std::strerror(errno));
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return io_error("cannot write '" + path + "': " + std::strerror(errno));
  return ok_status();
}

}  // namespace kiln
