// CPU kernel for Unique: distinct elements (or distinct slices along an axis),
// with first-occurrence indices, inverse indices and counts.
#include <algorithm>
#include <numeric>

#include "backends/cpu/kernels/tensor_storage.h"

namespace kiln::cpu::tensor_kernels {
namespace {

// The items Unique compares: `count` items of `length` keys each, item-major.
struct ItemLayout {
  int64_t outer = 1;  // axes before the unique axis
  int64_t count = 0;  // items (extent of the axis, or every element)
  int64_t inner = 1;  // axes after the unique axis
  int64_t length() const { return outer * inner; }
};

struct Groups {
  std::vector<int64_t> item_of_group;  // first occurrence, in output order
  std::vector<int64_t> counts;         // in output order
  std::vector<int64_t> inverse;        // per item: output position
};

template <typename K>
Groups group_items(const std::vector<K>& keys, int64_t items, int64_t length, bool sorted) {
  auto compare = [&](int64_t a, int64_t b) {
    for (int64_t k = 0; k < length; ++k) {
      const K& x = keys[a * length + k];
      const K& y = keys[b * length + k];
      if (x < y) return -1;
      if (y < x) return 1;
    }
    return 0;
  };
  std::vector<int64_t> order(items);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return compare(a, b) < 0; });
  // Groups in sorted order; stable sorting makes each group's first entry its first occurrence.
  std::vector<int64_t> first, counts, group_of_item(items);
  for (int64_t p = 0; p < items; ++p) {
    if (p == 0 || compare(order[p - 1], order[p]) != 0) {
      first.push_back(order[p]);
      counts.push_back(0);
    }
    counts.back() += 1;
    group_of_item[order[p]] = static_cast<int64_t>(first.size()) - 1;
  }
  std::vector<int64_t> group_order(first.size());
  std::iota(group_order.begin(), group_order.end(), 0);
  if (!sorted) {
    std::sort(group_order.begin(), group_order.end(), [&](int64_t a, int64_t b) { return first[a] < first[b]; });
  }
  std::vector<int64_t> position(first.size());
  Groups groups;
  for (size_t u = 0; u < group_order.size(); ++u) {
    position[group_order[u]] = static_cast<int64_t>(u);
    groups.item_of_group.push_back(first[group_order[u]]);
    groups.counts.push_back(counts[group_order[u]]);
  }
  groups.inverse.resize(items);
  for (int64_t i = 0; i < items; ++i) groups.inverse[i] = position[group_of_item[i]];
  return groups;
}

// Keys of every item in item-major order, in a type that compares like the dtype.
template <typename K, typename T, typename Convert>
std::vector<K> item_keys(const T* data, const ItemLayout& layout, Convert convert) {
  std::vector<K> keys(static_cast<size_t>(layout.count * layout.length()));
  for (int64_t a = 0; a < layout.count; ++a) {
    for (int64_t o = 0; o < layout.outer; ++o) {
      for (int64_t i = 0; i < layout.inner; ++i) {
        keys[a * layout.length() + o * layout.inner + i] = convert(data[(o * layout.count + a) * layout.inner + i]);
      }
    }
  }
  return keys;
}

Tensor int64_tensor(const std::vector<int64_t>& values) {
  Tensor t = Tensor::empty(DataType::kInt64, {static_cast<int64_t>(values.size())});
  std::copy(values.begin(), values.end(), t.data<int64_t>());
  return t;
}

Status run_unique(KernelArgs& args) {
  const Tensor& in = args.input(0);
  const bool sorted = args.node.attr_int("sorted", 1) != 0;
  const bool has_axis = args.node.has_attribute("axis");
  ItemLayout layout;
  int64_t axis = 0;
  if (has_axis) {
    KILN_ASSIGN_OR_RETURN(axis, normalize_axis(args.node.attr_int("axis", 0), in.rank(), args.node));
    layout.outer = element_count(in.dims(), 0, axis);
    layout.count = in.dim(axis);
    layout.inner = element_count(in.dims(), axis + 1, in.rank());
  } else {
    layout.count = in.element_count();
  }
  Groups groups;
  bool ok = true;
  if (in.dtype() == DataType::kString) {
    auto keys = item_keys<std::string>(in.string_data().data(), layout, [](const std::string& s) { return s; });
    groups = group_items(keys, layout.count, layout.length(), sorted);
  } else {
    ok = dispatch_all_numeric(in.dtype(), [&]<typename T>() {
      using K = std::conditional_t<kIsHalf<T>, float, T>;
      auto keys = item_keys<K>(in.data<T>(), layout, [](T v) {
        if constexpr (kIsHalf<T>)
          return static_cast<float>(v);
        else
          return v;
      });
      groups = group_items(keys, layout.count, layout.length(), sorted);
    });
  }
  if (!ok) return unsupported_dtype(args.node, in.dtype());
  const int64_t unique = static_cast<int64_t>(groups.item_of_group.size());
  Dims out_dims = has_axis ? in.dims() : Dims{unique};
  if (has_axis) out_dims[axis] = unique;
  Tensor& out = output_with(args, 0, in.dtype(), out_dims);
  dispatch_storage(in.dtype(), [&]<typename E>() {
    const E* src = storage<E>(in);
    E* dst = storage<E>(out);
    for (int64_t o = 0; o < layout.outer; ++o) {
      for (int64_t u = 0; u < unique; ++u) {
        const E* s = src + (o * layout.count + groups.item_of_group[u]) * layout.inner;
        std::copy(s, s + layout.inner, dst + (o * unique + u) * layout.inner);
      }
    }
  });
  if (args.node.has_output(1)) args.output(1) = int64_tensor(groups.item_of_group);
  if (args.node.has_output(2)) args.output(2) = int64_tensor(groups.inverse);
  if (args.node.has_output(3)) args.output(3) = int64_tensor(groups.counts);
  return ok_status();
}

}  // namespace

void register_unique_kernel(KernelTable& table) { table.add("Unique", {nullptr, run_unique}); }

}  // namespace kiln::cpu::tensor_kernels
