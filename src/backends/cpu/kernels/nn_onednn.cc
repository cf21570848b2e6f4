#include "backends/cpu/kernels/nn_onednn.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace kiln::cpu {
namespace {

using dnnl::memory;

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// Every primitive runs in user scratchpad mode with a per-thread buffer: the
// library-managed scratchpad would tie a cached primitive to the thread that
// created it, and contexts run on any thread, several at once.
dnnl::primitive_attr user_scratchpad_attr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

void* thread_scratchpad(size_t bytes) {
  struct Buffer {
    void* data = nullptr;
    size_t size = 0;
    ~Buffer() { std::free(data); }
  };
  thread_local Buffer buffer;
  if (buffer.size < bytes) {
    std::free(buffer.data);
    size_t rounded = (bytes + 63) / 64 * 64;
    buffer.data = std::aligned_alloc(64, rounded);
    buffer.size = buffer.data ? rounded : 0;
  }
  return buffer.data;
}

// Runs `primitive` with the calling thread's scratchpad added to `args`.
Status execute(const dnnl::primitive& primitive, const memory::desc& scratchpad, dnnl::stream& stream,
               std::unordered_map<int, memory> args) {
  size_t bytes = scratchpad.get_size();
  if (bytes > 0) {
    void* buffer = thread_scratchpad(bytes);
    if (!buffer) return resource_exhausted("cannot allocate " + std::to_string(bytes) + " bytes of oneDNN scratchpad");
    args[DNNL_ARG_SCRATCHPAD] = memory(scratchpad, stream.get_engine(), buffer);
  }
  primitive.execute(stream, args);
  return ok_status();
}

// A reorder in user scratchpad mode, with the scratchpad it needs.
struct Reorder {
  dnnl::reorder primitive;
  memory::desc scratchpad;
};

Reorder make_reorder(const memory::desc& from, const memory::desc& to) {
  dnnl::engine& engine = cpu_engine();
  dnnl::reorder::primitive_desc pd(engine, from, engine, to, user_scratchpad_attr());
  return Reorder{dnnl::reorder(pd), pd.scratchpad_desc()};
}

Status run_reorder(const Reorder& reorder, dnnl::stream& stream, const memory& from, const memory& to) {
  return execute(reorder.primitive, reorder.scratchpad, stream, {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}});
}

// Row-major strides of `dims`.
memory::dims dense_strides(const memory::dims& dims) {
  memory::dims strides(dims.size(), 1);
  for (int i = static_cast<int>(dims.size()) - 2; i >= 0; --i) strides[i] = strides[i + 1] * dims[i + 1];
  return strides;
}

memory::desc dense_desc(const memory::dims& dims) {
  return memory::desc(dims, memory::data_type::f32, dense_strides(dims));
}

memory::desc any_desc(const memory::dims& dims) {
  return memory::desc(dims, memory::data_type::f32, memory::format_tag::any);
}

// Which layouts the primitive may pick for src/dst. Measured on ResNet-50
// layers (AVX-512, 1-8 threads): pointwise (1x1) convolutions run faster on
// plain NCHW (a GEMM, no reorders), larger kernels faster in oneDNN's blocked
// layouts even counting the reorders to and from NCHW.
bool prefers_blocked_layout(const ConvProblem& p) {
  for (int64_t k : p.geometry.kernel) {
    if (k != 1) return true;
  }
  return false;
}

// The weights as oneDNN sees them, logical dims ({G,} O, I, k...), with
// strides describing where ONNX stores each element: forward weights
// [M, C/g, k...] are plain goihw; transposed weights [C, M/g, k...] are giohw
// (input channels outermost), so only the O and I strides swap.
memory::desc onnx_weights_desc(const ConvProblem& p, bool transposed, memory::dims* logical) {
  const WindowGeometry& g = p.geometry;
  int64_t k_size = 1;
  for (int64_t k : g.kernel) k_size *= k;
  memory::dims kernel_strides(g.rank(), 1);
  for (int i = static_cast<int>(g.rank()) - 2; i >= 0; --i) kernel_strides[i] = kernel_strides[i + 1] * g.kernel[i + 1];
  const int64_t og = p.out_channels / p.group, ig = p.in_channels / p.group;
  memory::dims dims, strides;
  if (p.group > 1) {
    dims = {p.group, og, ig};
    strides = transposed ? memory::dims{ig * og * k_size, k_size, og * k_size}
                         : memory::dims{og * ig * k_size, ig * k_size, k_size};
  } else {
    dims = {og, ig};
    strides = transposed ? memory::dims{k_size, og * k_size} : memory::dims{ig * k_size, k_size};
  }
  dims.insert(dims.end(), g.kernel.begin(), g.kernel.end());
  strides.insert(strides.end(), kernel_strides.begin(), kernel_strides.end());
  *logical = dims;
  return memory::desc(dims, memory::data_type::f32, strides);
}

// One built convolution: the primitive, the layouts it chose and the reorders
// between those and the dense layouts Kiln tensors use.
struct CachedPrimitive {
  dnnl::primitive primitive;
  memory::desc src_dense, weights_onnx, dst_dense, bias;
  memory::desc src_chosen, weights_chosen, dst_chosen;
  memory::desc scratchpad;
  std::optional<Reorder> src_reorder, dst_reorder;
  // Set when oneDNN computes only the leading corner of the output (see build_entry).
  Dims computed_dims;
  // oneDNN refused this problem; remembered so the refusal is not rebuilt every run.
  std::optional<Status> rejection;
};

// Reordered constant weights, keyed by primitive key and weight address. The
// Tensor copy keeps the source buffer alive so the address stays unique.
struct CachedWeights {
  Tensor source;
  memory reordered;
};

class PrimitiveCache {
 public:
  static PrimitiveCache& global() {
    static PrimitiveCache* cache = new PrimitiveCache();  // never destroyed: may be used during exit
    return *cache;
  }

  std::shared_ptr<CachedPrimitive> find(const std::string& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : it->second;
  }
  void insert(const std::string& key, std::shared_ptr<CachedPrimitive> entry) {
    std::lock_guard<std::mutex> lock(mutex_);
    // Dynamic shapes add an entry per shape; bound what is kept.
    if (entries_.size() >= kMaxEntries) entries_.clear();
    entries_[key] = std::move(entry);
  }
  std::optional<memory> find_weights(const std::string& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = weights_.find(key);
    if (it == weights_.end()) return std::nullopt;
    return it->second.reordered;
  }
  void insert_weights(const std::string& key, CachedWeights weights) {
    std::lock_guard<std::mutex> lock(mutex_);
    // Bound the memory held for weights of engines that are long gone.
    if (weights_.size() >= kMaxCachedWeights) weights_.clear();
    weights_[key] = std::move(weights);
  }

 private:
  static constexpr size_t kMaxCachedWeights = 1024;
  static constexpr size_t kMaxEntries = 4096;
  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<CachedPrimitive>> entries_;
  std::unordered_map<std::string, CachedWeights> weights_;
};

std::string problem_key(const char* kind, const ConvProblem& p, bool has_bias) {
  std::string key = kind;
  auto add = [&key](const Dims& d) { key += "|" + dims_to_string(d); };
  key += "|" + std::to_string(p.batch) + "," + std::to_string(p.in_channels) + "," + std::to_string(p.out_channels) +
         "," + std::to_string(p.group) + (has_bias ? ",b" : ",nb");
  const WindowGeometry& g = p.geometry;
  add(g.input), add(g.kernel), add(g.strides), add(g.dilations), add(g.pads_begin), add(g.pads_end), add(g.output);
  return key;
}

Expected<std::shared_ptr<CachedPrimitive>> build_entry(const ConvProblem& p, bool transposed, bool has_bias) {
  const WindowGeometry& g = p.geometry;
  memory::dims src_dims = {p.batch, p.in_channels};
  src_dims.insert(src_dims.end(), g.input.begin(), g.input.end());
  memory::dims dst_dims = {p.batch, p.out_channels};
  dst_dims.insert(dst_dims.end(), g.output.begin(), g.output.end());
  memory::dims strides(g.strides.begin(), g.strides.end());
  memory::dims dilates, padding_l(g.pads_begin.begin(), g.pads_begin.end()), padding_r;
  for (int64_t d : g.dilations) dilates.push_back(d - 1);  // oneDNN counts the gaps
  bool extended = false;
  for (size_t i = 0; i < g.rank(); ++i) {
    // ConvTranspose's output_padding extends the end of the output.
    padding_r.push_back(g.pads_end[i] - (transposed ? g.output_padding[i] : 0));
    if (padding_l[i] < 0 || (padding_r[i] < 0 && !transposed)) return unimplemented("negative padding");
    if (padding_r[i] < 0) {
      // Output cells past every kernel tap: oneDNN computes the smaller
      // output and the caller adds those cells (bias only).
      dst_dims[i + 2] += padding_r[i];
      padding_r[i] = 0;
      extended = true;
    }
  }
  auto entry = std::make_shared<CachedPrimitive>();
  if (extended) entry->computed_dims = Dims(dst_dims.begin(), dst_dims.end());
  entry->src_dense = dense_desc(src_dims);
  entry->dst_dense = dense_desc(dst_dims);
  memory::dims weight_dims;
  entry->weights_onnx = onnx_weights_desc(p, transposed, &weight_dims);
  if (has_bias) entry->bias = dense_desc({p.out_channels});
  const bool blocked = prefers_blocked_layout(p);
  const memory::desc src_md = blocked ? any_desc(src_dims) : entry->src_dense;
  const memory::desc dst_md = blocked ? any_desc(dst_dims) : entry->dst_dense;
  try {
    dnnl::engine& engine = cpu_engine();
    if (transposed) {
      dnnl::deconvolution_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::deconvolution_direct,
                                             src_md, any_desc(weight_dims), entry->bias, dst_md, strides, dilates,
                                             padding_l, padding_r);
      dnnl::deconvolution_forward::primitive_desc pd(desc, user_scratchpad_attr(), engine);
      entry->scratchpad = pd.scratchpad_desc();
      entry->src_chosen = pd.src_desc();
      entry->weights_chosen = pd.weights_desc();
      entry->dst_chosen = pd.dst_desc();
      entry->primitive = dnnl::deconvolution_forward(pd);
    } else {
      dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                           src_md, any_desc(weight_dims), entry->bias, dst_md, strides, dilates,
                                           padding_l, padding_r);
      dnnl::convolution_forward::primitive_desc pd(desc, user_scratchpad_attr(), engine);
      entry->scratchpad = pd.scratchpad_desc();
      entry->src_chosen = pd.src_desc();
      entry->weights_chosen = pd.weights_desc();
      entry->dst_chosen = pd.dst_desc();
      entry->primitive = dnnl::convolution_forward(pd);
    }
    if (entry->src_chosen != entry->src_dense) {
      entry->src_reorder = make_reorder(entry->src_dense, entry->src_chosen);
    }
    if (entry->dst_chosen != entry->dst_dense) {
      entry->dst_reorder = make_reorder(entry->dst_chosen, entry->dst_dense);
    }
  } catch (const dnnl::error& e) {
    return unimplemented(std::string("oneDNN rejected the convolution: ") + e.what());
  }
  return entry;
}

// Writes y [N, M, out...]: bias (or zero) everywhere, then the computed leading
// corner [N, M, smaller...] over it.
void place_corner(const ConvProblem& p, const Dims& corner_dims, const float* corner, const float* bias, float* y) {
  const WindowGeometry& g = p.geometry;
  const int64_t planes = p.batch * p.out_channels;
  int64_t plane_size = 1, corner_size = 1;
  for (size_t i = 0; i < g.rank(); ++i) plane_size *= g.output[i], corner_size *= corner_dims[i + 2];
  Dims out_spatial = g.output, corner_spatial(corner_dims.begin() + 2, corner_dims.end());
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < planes; ++plane) {
    float* out = y + plane * plane_size;
    std::fill(out, out + plane_size, bias ? bias[plane % p.out_channels] : 0.0f);
    const float* in = corner + plane * corner_size;
    Dims index(corner_spatial.size(), 0);
    for (int64_t i = 0; i < corner_size; ++i) {
      int64_t flat = 0;
      for (size_t d = 0; d < index.size(); ++d) flat = flat * out_spatial[d] + index[d];
      out[flat] = in[i];
      for (size_t d = index.size(); d-- > 0;) {
        if (++index[d] < corner_spatial[d]) break;
        index[d] = 0;
      }
    }
  }
}

Status run_onednn(const char* kind, bool transposed, const ConvProblem& p, const float* x, const float* w,
                  const float* bias, float* y, const Tensor* constant_weights) {
  PrimitiveCache& cache = PrimitiveCache::global();
  const std::string key = problem_key(kind, p, bias != nullptr);
  std::shared_ptr<CachedPrimitive> entry = cache.find(key);
  if (!entry) {
    auto built = build_entry(p, transposed, bias != nullptr);
    if (built.ok()) {
      entry = *built;
    } else {
      entry = std::make_shared<CachedPrimitive>();
      entry->rejection = built.status();
    }
    cache.insert(key, entry);
  }
  if (entry->rejection) return *entry->rejection;
  try {
    dnnl::engine& engine = cpu_engine();
    dnnl::stream stream(engine);
    memory src_user(entry->src_dense, engine, const_cast<float*>(x));
    memory src = src_user;
    if (entry->src_reorder) {
      src = memory(entry->src_chosen, engine);
      KILN_RETURN_IF_ERROR(run_reorder(*entry->src_reorder, stream, src_user, src));
    }
    memory weights_user(entry->weights_onnx, engine, const_cast<float*>(w));
    memory weights = weights_user;
    if (entry->weights_chosen != entry->weights_onnx) {
      std::string weights_key;
      std::optional<memory> cached;
      if (constant_weights) {
        weights_key = key + "@" + std::to_string(reinterpret_cast<uintptr_t>(constant_weights->raw_data()));
        cached = cache.find_weights(weights_key);
      }
      if (cached) {
        weights = *cached;
      } else {
        weights = memory(entry->weights_chosen, engine);
        KILN_RETURN_IF_ERROR(
            run_reorder(make_reorder(entry->weights_onnx, entry->weights_chosen), stream, weights_user, weights));
        if (constant_weights) cache.insert_weights(weights_key, CachedWeights{*constant_weights, weights});
      }
    }
    // With an extended output, oneDNN writes a smaller buffer copied in below.
    std::vector<float> corner(entry->computed_dims.empty() ? 0 : element_count(entry->computed_dims));
    memory dst_user(entry->dst_dense, engine, entry->computed_dims.empty() ? y : corner.data());
    memory dst = entry->dst_reorder ? memory(entry->dst_chosen, engine) : dst_user;
    std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}};
    if (bias) args[DNNL_ARG_BIAS] = memory(entry->bias, engine, const_cast<float*>(bias));
    KILN_RETURN_IF_ERROR(execute(entry->primitive, entry->scratchpad, stream, std::move(args)));
    if (entry->dst_reorder) KILN_RETURN_IF_ERROR(run_reorder(*entry->dst_reorder, stream, dst, dst_user));
    stream.wait();
    if (!entry->computed_dims.empty()) place_corner(p, entry->computed_dims, corner.data(), bias, y);
  } catch (const dnnl::error& e) {
    return unimplemented(std::string("oneDNN failed to run the convolution: ") + e.what());
  }
  return ok_status();
}

}  // namespace

Status onednn_pool(OnednnPoolKind kind, int64_t batch, int64_t channels, const WindowGeometry& g, const float* x,
                   float* y) {
  const char* names[] = {"max", "avg_include_pad", "avg_exclude_pad"};
  std::string key = std::string("pool|") + names[static_cast<int>(kind)] + "|" + std::to_string(batch) + "," +
                    std::to_string(channels);
  for (const Dims* d : {&g.input, &g.kernel, &g.strides, &g.dilations, &g.pads_begin, &g.pads_end, &g.output}) {
    key += "|" + dims_to_string(*d);
  }
  PrimitiveCache& cache = PrimitiveCache::global();
  std::shared_ptr<CachedPrimitive> entry = cache.find(key);
  if (!entry) {
    entry = std::make_shared<CachedPrimitive>();
    memory::dims src_dims = {batch, channels}, dst_dims = {batch, channels};
    src_dims.insert(src_dims.end(), g.input.begin(), g.input.end());
    dst_dims.insert(dst_dims.end(), g.output.begin(), g.output.end());
    memory::dims strides(g.strides.begin(), g.strides.end()), kernel(g.kernel.begin(), g.kernel.end());
    memory::dims dilation, padding_l(g.pads_begin.begin(), g.pads_begin.end()), padding_r;
    for (int64_t d : g.dilations) dilation.push_back(d - 1);
    for (size_t i = 0; i < g.rank(); ++i) {
      // ceil_mode may need windows past the end padding: oneDNN sizes its
      // output from the padding, so extend it (those cells never count).
      padding_r.push_back((g.output[i] - 1) * g.strides[i] + (g.kernel[i] - 1) * g.dilations[i] + 1 - g.input[i] -
                          g.pads_begin[i]);
    }
    entry->src_dense = dense_desc(src_dims);
    entry->dst_dense = dense_desc(dst_dims);
    dnnl::algorithm algorithm = kind == OnednnPoolKind::kMax ? dnnl::algorithm::pooling_max
                                : kind == OnednnPoolKind::kAverageIncludePad
                                    ? dnnl::algorithm::pooling_avg_include_padding
                                    : dnnl::algorithm::pooling_avg_exclude_padding;
    try {
      dnnl::pooling_v2_forward::desc desc(dnnl::prop_kind::forward_inference, algorithm, entry->src_dense,
                                          entry->dst_dense, strides, kernel, dilation, padding_l, padding_r);
      dnnl::pooling_v2_forward::primitive_desc pd(desc, user_scratchpad_attr(), cpu_engine());
      entry->scratchpad = pd.scratchpad_desc();
      entry->primitive = dnnl::pooling_v2_forward(pd);
    } catch (const dnnl::error& e) {
      entry->rejection = unimplemented(std::string("oneDNN rejected the pooling: ") + e.what());
    }
    cache.insert(key, entry);
  }
  if (entry->rejection) return *entry->rejection;
  try {
    dnnl::engine& engine = cpu_engine();
    dnnl::stream stream(engine);
    memory src(entry->src_dense, engine, const_cast<float*>(x));
    memory dst(entry->dst_dense, engine, y);
    KILN_RETURN_IF_ERROR(
        execute(entry->primitive, entry->scratchpad, stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}));
    stream.wait();
  } catch (const dnnl::error& e) {
    return unimplemented(std::string("oneDNN failed to run the pooling: ") + e.what());
  }
  return ok_status();
}

Status onednn_conv(const ConvProblem& problem, const float* x, const float* w, const float* bias, float* y,
                   const Tensor* constant_weights) {
  return run_onednn("conv", false, problem, x, w, bias, y, constant_weights);
}

Status onednn_conv_transpose(const ConvProblem& problem, const float* x, const float* w, const float* bias, float* y,
                             const Tensor* constant_weights) {
  return run_onednn("deconv", true, problem, x, w, bias, y, constant_weights);
}

}  // namespace kiln::cpu
