#include "kiln/tensor.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/dispatch.h"

namespace kiln {

namespace {
std::shared_ptr<void> allocate_aligned(size_t bytes) {
  size_t rounded = ((bytes + 63) / 64) * 64;
  if (rounded == 0) rounded = 64;
  void* p = std::aligned_alloc(64, rounded);
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}
}  // namespace

Tensor Tensor::empty(DataType dtype, Dims dims) {
  Tensor t;
  t.dtype_ = dtype;
  t.dims_ = std::move(dims);
  if (dtype == DataType::kString) {
    t.strings_ = std::make_shared<std::vector<std::string>>(static_cast<size_t>(t.element_count()));
    return t;
  }
  t.owner_ = allocate_aligned(t.byte_size());
  t.data_ = t.owner_.get();
  return t;
}

Tensor Tensor::zeros(DataType dtype, Dims dims) {
  Tensor t = empty(dtype, std::move(dims));
  if (t.data_) std::memset(t.data_, 0, t.byte_size());
  return t;
}

Tensor Tensor::view(DataType dtype, Dims dims, void* data, std::shared_ptr<void> owner) {
  Tensor t;
  t.dtype_ = dtype;
  t.dims_ = std::move(dims);
  t.data_ = data;
  t.owner_ = std::move(owner);
  return t;
}

Tensor Tensor::strings(Dims dims, std::vector<std::string> values) {
  Tensor t;
  t.dtype_ = DataType::kString;
  t.dims_ = std::move(dims);
  t.strings_ = std::make_shared<std::vector<std::string>>(std::move(values));
  return t;
}

std::vector<std::string>& Tensor::string_data() { return *strings_; }
const std::vector<std::string>& Tensor::string_data() const { return *strings_; }

Expected<Tensor> Tensor::reshaped(Dims dims) const {
  if (kiln::element_count(dims) != element_count()) {
    return invalid_argument("cannot reshape " + describe() + " to " + dims_to_string(dims));
  }
  Tensor t = *this;
  t.dims_ = std::move(dims);
  return t;
}

Tensor Tensor::rows(int64_t begin, int64_t count) const {
  Dims dims = dims_;
  const int64_t total = dims[0];
  dims[0] = count;
  const int64_t per_row = total ? element_count() / total : 0;
  if (dtype_ == DataType::kString) {
    std::vector<std::string> part(strings_->begin() + begin * per_row, strings_->begin() + (begin + count) * per_row);
    return strings(std::move(dims), std::move(part));
  }
  Tensor t = *this;
  t.dims_ = std::move(dims);
  if (data_) t.data_ = static_cast<char*>(data_) + begin * per_row * static_cast<int64_t>(dtype_size(dtype_));
  return t;
}

Tensor Tensor::clone() const {
  if (dtype_ == DataType::kString) return strings(dims_, *strings_);
  Tensor t = empty(dtype_, dims_);
  if (byte_size()) std::memcpy(t.data_, data_, byte_size());
  return t;
}

double Tensor::scalar_as_double(int64_t index) const {
  double out = 0;
  dispatch_all_numeric(dtype_, [&]<typename T>() { out = to_double(data<T>()[index]); });
  return out;
}

int64_t Tensor::scalar_as_int64(int64_t index) const {
  int64_t out = 0;
  dispatch_all_numeric(dtype_, [&]<typename T>() {
    if constexpr (std::is_integral_v<T>)
      out = static_cast<int64_t>(data<T>()[index]);
    else
      out = static_cast<int64_t>(to_double(data<T>()[index]));
  });
  return out;
}

std::vector<int64_t> Tensor::to_int64_vector() const {
  std::vector<int64_t> out(static_cast<size_t>(element_count()));
  for (int64_t i = 0; i < element_count(); ++i) out[i] = scalar_as_int64(i);
  return out;
}

std::vector<double> Tensor::to_double_vector() const {
  std::vector<double> out(static_cast<size_t>(element_count()));
  for (int64_t i = 0; i < element_count(); ++i) out[i] = scalar_as_double(i);
  return out;
}

std::string Tensor::describe() const { return std::string(dtype_name(dtype_)) + "[" + dims_to_string(dims_) + "]"; }

Expected<Tensor> cast_tensor(const Tensor& source, DataType target) {
  if (source.dtype() == target) return source.clone();
  const int64_t n = source.element_count();
  if (source.dtype() == DataType::kString || target == DataType::kString) {
    if (source.dtype() == DataType::kString) {
      Tensor out = Tensor::empty(target, source.dims());
      Status failure;
      dispatch_all_numeric(target, [&]<typename T>() {
        for (int64_t i = 0; i < n; ++i) {
          const std::string& s = source.string_data()[i];
          char* end = nullptr;
          double v = std::strtod(s.c_str(), &end);
          if (s == "INF" || s == "+INF" || s == "inf")
            v = INFINITY;
          else if (s == "-INF" || s == "-inf")
            v = -INFINITY;
          else if (s == "NaN" || s == "nan")
            v = NAN;
          out.data<T>()[i] = from_double<T>(v);
        }
      });
      return out;
    }
    std::vector<std::string> values(static_cast<size_t>(n));
    dispatch_all_numeric(source.dtype(), [&]<typename T>() {
      for (int64_t i = 0; i < n; ++i) {
        double v = to_double(source.data<T>()[i]);
        char buf[64];
        if (std::isnan(v))
          std::snprintf(buf, sizeof buf, "NaN");
        else if (std::isinf(v))
          std::snprintf(buf, sizeof buf, v > 0 ? "INF" : "-INF");
        else if constexpr (std::is_integral_v<T>)
          std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(source.data<T>()[i]));
        else
          std::snprintf(buf, sizeof buf, "%.9g", v);
        values[i] = buf;
      }
    });
    return Tensor::strings(source.dims(), std::move(values));
  }
  Tensor out = Tensor::empty(target, source.dims());
  dispatch_all_numeric(source.dtype(), [&]<typename S>() {
    dispatch_all_numeric(target, [&]<typename D>() {
      const S* in = source.data<S>();
      D* o = out.data<D>();
      for (int64_t i = 0; i < n; ++i) o[i] = convert_element<D>(in[i]);
    });
  });
  return out;
}

}  // namespace kiln
