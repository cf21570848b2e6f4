// Byte layout of the plan header and the tags used inside sections. Shared by
// the writer and the reader; change kPlanFormatVersion when any of it changes.
//
// Header (kHeaderSize bytes):
//    0  magic "KILNPLAN"
//    8  u32 format version
//   12  u32 header size
//   16  u64 checksum of bytes [24, file size): everything after this field,
//       so the section table is covered too
//   24  u64 file size
//   32  u64 metadata offset, u64 metadata size
//   48  u64 graph offset,    u64 graph size
//   64  u64 weights offset,  u64 weights size (offset is 256-aligned)
#pragma once

#include <cstddef>
#include <cstdint>

namespace kiln::plan_format {

constexpr size_t kMagicSize = 8;
constexpr size_t kVersionOffset = 8;
constexpr size_t kHeaderSizeOffset = 12;
constexpr size_t kChecksumOffset = 16;
constexpr size_t kChecksummedFrom = 24;
constexpr size_t kFileSizeOffset = 24;
constexpr size_t kSectionTableOffset = 32;
constexpr size_t kHeaderSize = 80;

// Index of a graph value in the plan's value table; this marks an omitted input/output.
constexpr uint32_t kNoValue = 0xFFFFFFFFu;

// Backend numbering in the metadata (stable, independent of the C++ enum order).
constexpr uint32_t kBackendCpu = 0;
constexpr uint32_t kBackendCuda = 1;

// Attribute kinds as stored (stable, independent of Attribute::Kind's order).
enum class StoredAttributeKind : uint8_t {
  kFloat = 0,
  kInt = 1,
  kString = 2,
  kTensor = 3,
  kFloats = 4,
  kInts = 5,
  kStrings = 6,
};

}  // namespace kiln::plan_format
