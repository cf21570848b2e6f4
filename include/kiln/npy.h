// NumPy .npy files: the exchange format of `kiln run` for inputs and outputs.
//
// Supported: format versions 1.0, 2.0 and 3.0 headers, little-endian (or
// byte-order-free one-byte) element types f2/f4/f8, i1/i2/i4/i8, u1/u2/u4/u8
// and b1, C (row-major) order. Anything else (Fortran order, big-endian data,
// object or string arrays, structured dtypes) is a clear error, never a guess.
#pragma once

#include <string>
#include <string_view>

#include "kiln/status.h"
#include "kiln/tensor.h"

namespace kiln {

// Parses a whole .npy file held in memory; `display_name` names it in errors.
Expected<Tensor> decode_npy(std::string_view bytes, const std::string& display_name);
Expected<Tensor> read_npy_file(const std::string& path);

// Serialises a tensor as .npy (version 1.0, or 2.0 when the header needs it).
// bfloat16 and string tensors have no .npy type and are rejected.
Expected<std::string> encode_npy(const Tensor& tensor);
Status write_npy_file(const std::string& path, const Tensor& tensor);

// The .npy type string ("<f4", "|u1") of a dtype, or an error when there is none.
Expected<std::string> npy_descr_for(DataType dtype);

}  // namespace kiln
