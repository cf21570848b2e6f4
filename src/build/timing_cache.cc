#include "build/timing_cache.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "kiln/plan.h"

namespace kiln {
namespace {

std::string hex64(uint64_t value) {
  char buffer[17];
  std::snprintf(buffer, sizeof(buffer), "%016llx", static_cast<unsigned long long>(value));
  return buffer;
}

std::string one_line(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

std::vector<std::string> split(const std::string& line, char separator) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t end = line.find(separator, start);
    out.push_back(line.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}

std::string describe_infos(const std::vector<TensorInfo>& infos) {
  std::string out;
  for (size_t i = 0; i < infos.size(); ++i) {
    if (i) out += ",";
    if (infos[i].dtype == DataType::kUndefined) {
      out += "-";
      continue;
    }
    out += std::string(dtype_name(infos[i].dtype)) + "[" + (infos[i].dims_known ? dims_to_string(infos[i].dims) : "?") + "]";
  }
  return out;
}

// Every attribute that can change what a kernel does, as bytes to hash.
std::string attribute_bytes(const Node& node) {
  std::string out;
  auto add_number = [&out](auto value) { out.append(reinterpret_cast<const char*>(&value), sizeof(value)); };
  for (const auto& [name, attribute] : node.attributes) {
    if (name.rfind("kiln.", 0) == 0) continue;
    out += name;
    out += '\0';
    add_number(static_cast<int>(attribute.kind));
    switch (attribute.kind) {
      case Attribute::Kind::kFloat: add_number(attribute.f); break;
      case Attribute::Kind::kInt: add_number(attribute.i); break;
      case Attribute::Kind::kString: out += attribute.s; break;
      case Attribute::Kind::kFloats: for (double f : attribute.floats) add_number(f); break;
      case Attribute::Kind::kInts: for (int64_t i : attribute.ints) add_number(i); break;
      case Attribute::Kind::kStrings: for (const std::string& s : attribute.strings) out += s + '\0'; break;
      case Attribute::Kind::kTensor: {
        const Tensor& t = attribute.t;
        out += dtype_name(t.dtype()) + std::string("[") + dims_to_string(t.dims()) + "]";
        if (t.dtype() == DataType::kString) {
          for (const std::string& s : t.string_data()) out += s + '\0';
        } else if (t.byte_size() > 0) {
          out.append(static_cast<const char*>(t.raw_data()), t.byte_size());
        }
        break;
      }
      case Attribute::Kind::kGraph: out += "graph"; break;
    }
    out += '\0';
  }
  return out;
}

}  // namespace

std::string layer_signature(const Node& node, const std::vector<TensorInfo>& inputs,
                            const std::vector<TensorInfo>& outputs) {
  const std::string attributes = attribute_bytes(node);
  return (node.domain.empty() ? std::string() : node.domain + ".") + node.op_type + " in=" + describe_infos(inputs) +
         " out=" + describe_infos(outputs) + " attrs=" + hex64(plan_checksum(attributes.data(), attributes.size()));
}

Expected<TimingCache> TimingCache::parse(const std::string& bytes) {
  // The checksum line is the last line; everything before it is covered.
  const std::string marker = "checksum ";
  size_t checksum_line = bytes.rfind("\n" + marker);
  if (checksum_line == std::string::npos) return invalid_argument("no checksum line (truncated?)");
  const size_t covered = checksum_line + 1;
  std::string stored = bytes.substr(covered + marker.size());
  if (!stored.empty() && stored.back() == '\n') stored.pop_back();
  const std::string computed = hex64(plan_checksum(bytes.data(), covered));
  if (stored != computed) return invalid_argument("checksum mismatch (stored " + stored + ", computed " + computed + ")");

  std::istringstream in(bytes.substr(0, covered));
  std::string line;
  if (!std::getline(in, line)) return invalid_argument("empty file");
  const std::string magic = std::string(kTimingCacheMagic) + " ";
  if (line.rfind(magic, 0) != 0) return invalid_argument("not a Kiln timing cache (no '" + std::string(kTimingCacheMagic) + "' header)");
  const std::string version = line.substr(magic.size());
  if (version != std::to_string(kTimingCacheVersion)) {
    return invalid_argument("format version " + version + ", this build of Kiln reads version " +
                            std::to_string(kTimingCacheVersion));
  }
  if (!std::getline(in, line)) return invalid_argument("no entry count");
  char* end = nullptr;
  const unsigned long long count = std::strtoull(line.c_str(), &end, 10);
  if (line.empty() || *end != '\0') return invalid_argument("entry count '" + line + "' is not a number");

  TimingCache cache;
  for (unsigned long long i = 0; i < count; ++i) {
    if (!std::getline(in, line)) {
      return invalid_argument("holds " + std::to_string(i) + " entries, its header says " + std::to_string(count));
    }
    std::vector<std::string> fields = split(line, '\t');
    if (fields.size() != 4 || fields[0].empty() || fields[1].empty()) {
      return invalid_argument("entry " + std::to_string(i + 1) + " is malformed");
    }
    TimingCacheEntry entry;
    entry.tactic = fields[1];
    entry.time_ms = std::strtod(fields[2].c_str(), &end);
    if (fields[2].empty() || *end != '\0') {
      return invalid_argument("entry " + std::to_string(i + 1) + ": time '" + fields[2] + "' is not a number");
    }
    entry.label = fields[3];
    cache.entries_[fields[0]] = std::move(entry);
  }
  if (std::getline(in, line)) return invalid_argument("has more entries than its header says");
  return cache;
}

TimingCache TimingCache::load(const std::string& path, std::string* warning) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    if (errno != ENOENT) {
      *warning = "timing cache '" + path + "' cannot be read (" + std::strerror(errno) +
                 "); timing every layer";
    }
    return TimingCache();
  }
  std::ostringstream bytes;
  bytes << file.rdbuf();
  auto parsed = parse(bytes.str());
  if (!parsed.ok()) {
    *warning = "timing cache '" + path + "' is not usable (" + parsed.status().message() +
               "); timing every layer and writing a new cache";
    return TimingCache();
  }
  return std::move(parsed).value();
}

std::string TimingCache::serialize() const {
  std::string out = std::string(kTimingCacheMagic) + " " + std::to_string(kTimingCacheVersion) + "\n";
  out += std::to_string(entries_.size()) + "\n";
  for (const auto& [key, entry] : entries_) {
    char ms[32];
    std::snprintf(ms, sizeof(ms), "%.9g", entry.time_ms);
    out += key + "\t" + entry.tactic + "\t" + ms + "\t" + entry.label + "\n";
  }
  out += "checksum " + hex64(plan_checksum(out.data(), out.size())) + "\n";
  return out;
}

Status TimingCache::save(const std::string& path) const {
  const std::string bytes = serialize();
  // The process id keeps two builds writing the same cache from sharing a temporary file.
  const std::string temporary = path + ".partial." + std::to_string(::getpid());
  std::FILE* file = std::fopen(temporary.c_str(), "wb");
  if (!file) return io_error("cannot create timing cache file '" + temporary + "': " + std::strerror(errno));
  const size_t written = std::fwrite(bytes.data(), 1, bytes.size(), file);
  const bool closed = std::fclose(file) == 0;
  if (written != bytes.size() || !closed) {
    std::remove(temporary.c_str());
    return io_error("cannot write timing cache file '" + path + "' (disk full?)");
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    return io_error("cannot rename '" + temporary + "' to '" + path + "': " + std::strerror(errno));
  }
  return ok_status();
}

const TimingCacheEntry* TimingCache::find(const std::string& key) const {
  auto it = entries_.find(one_line(key));
  return it == entries_.end() ? nullptr : &it->second;
}

void TimingCache::insert(const std::string& key, TimingCacheEntry entry) {
  entry.tactic = one_line(entry.tactic);
  entry.label = one_line(entry.label);
  entries_[one_line(key)] = std::move(entry);
  modified_ = true;
}

}  // namespace kiln
