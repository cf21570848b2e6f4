// The plan checksum: four independent multiply-rotate lanes over 8-byte words
// (the structure of xxHash64, with its primes) so that hashing a large weight
// blob runs at memory speed rather than FNV's one byte per multiply.
#include <cstring>

#include "kiln/plan.h"

namespace kiln {

namespace {

constexpr uint64_t kPrime1 = 0x9E3779B185EBCA87ull;
constexpr uint64_t kPrime2 = 0xC2B2AE3D27D4EB4Full;
constexpr uint64_t kPrime3 = 0x165667B19E3779F9ull;
constexpr uint64_t kPrime4 = 0x85EBCA77C2B2AE63ull;
constexpr uint64_t kPrime5 = 0x27D4EB2F165667C5ull;

uint64_t rotate_left(uint64_t value, int bits) { return (value << bits) | (value >> (64 - bits)); }

uint64_t load_le64(const uint8_t* p) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value |= static_cast<uint64_t>(p[i]) << (8 * i);
  return value;
}

uint64_t mix_lane(uint64_t accumulator, uint64_t word) {
  accumulator += word * kPrime2;
  accumulator = rotate_left(accumulator, 31);
  return accumulator * kPrime1;
}

uint64_t merge_lane(uint64_t hash, uint64_t lane) {
  hash ^= mix_lane(0, lane);
  return hash * kPrime1 + kPrime4;
}

}  // namespace

uint64_t plan_checksum(const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  const uint8_t* end = p + size;
  uint64_t hash;
  if (size >= 32) {
    uint64_t lanes[4] = {kPrime1 + kPrime2, kPrime2, 0, 0 - kPrime1};
    while (end - p >= 32) {
      for (int lane = 0; lane < 4; ++lane) lanes[lane] = mix_lane(lanes[lane], load_le64(p + 8 * lane));
      p += 32;
    }
    hash = rotate_left(lanes[0], 1) + rotate_left(lanes[1], 7) + rotate_left(lanes[2], 12) + rotate_left(lanes[3], 18);
    for (uint64_t lane : lanes) hash = merge_lane(hash, lane);
  } else {
    hash = kPrime5;
  }
  hash += static_cast<uint64_t>(size);
  while (end - p >= 8) {
    hash ^= mix_lane(0, load_le64(p));
    hash = rotate_left(hash, 27) * kPrime1 + kPrime4;
    p += 8;
  }
  while (p < end) {
    hash ^= static_cast<uint64_t>(*p) * kPrime5;
    hash = rotate_left(hash, 11) * kPrime1;
    ++p;
  }
  hash ^= hash >> 33;
  hash *= kPrime2;
  hash ^= hash >> 29;
  hash *= kPrime3;
  hash ^= hash >> 32;
  return hash;
}

}  // namespace kiln
