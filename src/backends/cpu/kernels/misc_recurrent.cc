// RNN, LSTM and GRU on the CPU: one reference loop over time per direction,
// computed in double and written back in the input type.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "backends/cpu/kernels/misc_kernels.h"
#include "core/dispatch.h"

namespace kiln::cpu {
namespace {

struct Activation {
  std::string name;  // lower case
  double alpha = 0;
  double beta = 0;

  double operator()(double x) const {
    if (name == "sigmoid") return 1.0 / (1.0 + std::exp(-x));
    if (name == "tanh") return std::tanh(x);
    if (name == "relu") return std::max(0.0, x);
    if (name == "affine") return alpha * x + beta;
    if (name == "leakyrelu") return x >= 0 ? x : alpha * x;
    if (name == "thresholdedrelu") return x > alpha ? x : 0.0;
    if (name == "scaledtanh") return alpha * std::tanh(beta * x);
    if (name == "hardsigmoid") return std::clamp(alpha * x + beta, 0.0, 1.0);
    if (name == "elu") return x >= 0 ? x : alpha * (std::exp(x) - 1);
    if (name == "softsign") return x / (1 + std::fabs(x));
    if (name == "softplus") return std::log1p(std::exp(x));
    return x;
  }
};

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// Activations for every direction, `per_direction` per direction. Alphas and
// betas are consumed in order by the activations that take them.
Expected<std::vector<Activation>> read_activations(const Node& node, size_t per_direction, size_t directions) {
  std::vector<std::string> names = node.attr_strings("activations");
  if (names.empty()) {
    if (node.op_type == "RNN")
      names = {"Tanh"};
    else if (node.op_type == "GRU")
      names = {"Sigmoid", "Tanh"};
    else
      names = {"Sigmoid", "Tanh", "Tanh"};
  }
  if (names.size() == per_direction && directions == 2) {
    std::vector<std::string> twice = names;
    twice.insert(twice.end(), names.begin(), names.end());
    names = twice;
  }
  if (names.size() != per_direction * directions) {
    return invalid_argument(node.describe() + ": has " + std::to_string(names.size()) + " activations, expected " +
                            std::to_string(per_direction * directions));
  }
  std::vector<double> alphas = node.attr_floats("activation_alpha");
  std::vector<double> betas = node.attr_floats("activation_beta");
  size_t next_alpha = 0, next_beta = 0;
  std::vector<Activation> out;
  static const char* kKnown[] = {"sigmoid",    "tanh",        "relu", "affine",   "leakyrelu", "thresholdedrelu",
                                 "scaledtanh", "hardsigmoid", "elu",  "softsign", "softplus"};
  for (const std::string& raw : names) {
    Activation a;
    a.name = lower(raw);
    if (std::find(std::begin(kKnown), std::end(kKnown), a.name) == std::end(kKnown)) {
      return unimplemented(node.describe() + ": activation '" + raw + "' is not supported");
    }
    double default_alpha = 0, default_beta = 0;
    bool uses_alpha = true, uses_beta = false;
    if (a.name == "leakyrelu")
      default_alpha = 0.01;
    else if (a.name == "thresholdedrelu" || a.name == "elu")
      default_alpha = 1.0;
    else if (a.name == "scaledtanh") {
      default_alpha = 1.0;
      default_beta = 1.0;
      uses_beta = true;
    } else if (a.name == "hardsigmoid") {
      default_alpha = 0.2;
      default_beta = 0.5;
      uses_beta = true;
    } else if (a.name == "affine") {
      default_alpha = 1.0;
      default_beta = 0.0;
      uses_beta = true;
    } else
      uses_alpha = false;
    if (uses_alpha) a.alpha = next_alpha < alphas.size() ? alphas[next_alpha++] : default_alpha;
    if (uses_beta) a.beta = next_beta < betas.size() ? betas[next_beta++] : default_beta;
    out.push_back(a);
  }
  return out;
}

enum class Cell { kRnn, kLstm, kGru };

std::vector<double> as_doubles(const Tensor* t) {
  if (!t) return {};
  return t->to_double_vector();
}

Status run_recurrent(KernelArgs& args) {
  const Node& node = args.node;
  const Cell cell = node.op_type == "RNN" ? Cell::kRnn : node.op_type == "GRU" ? Cell::kGru : Cell::kLstm;
  const int64_t gates = cell == Cell::kRnn ? 1 : cell == Cell::kGru ? 3 : 4;
  const Tensor& x_tensor = args.input(0);
  if (!dtype_is_float(x_tensor.dtype())) return unsupported_dtype(node, x_tensor.dtype());
  const std::string direction = node.attr_string("direction", "forward");
  const int64_t directions = direction == "bidirectional" ? 2 : 1;
  const int64_t layout = node.attr_int("layout", 0);
  const int64_t seq = layout == 0 ? x_tensor.dim(0) : x_tensor.dim(1);
  const int64_t batch = layout == 0 ? x_tensor.dim(1) : x_tensor.dim(0);
  const int64_t input_size = x_tensor.dim(2);
  const Tensor& w_tensor = args.input(1);
  const Tensor& r_tensor = args.input(2);
  const int64_t hidden = node.attr_int("hidden_size", r_tensor.rank() == 3 ? r_tensor.dim(2) : -1);
  if (hidden <= 0 || r_tensor.rank() != 3) {
    return invalid_argument(node.describe() + ": R " + dims_to_string(r_tensor.dims()) +
                            " must be [num_directions, gates * hidden, hidden] with a positive hidden size");
  }
  if (w_tensor.rank() != 3 || w_tensor.dim(0) != directions || w_tensor.dim(1) != gates * hidden ||
      w_tensor.dim(2) != input_size) {
    return invalid_argument(node.describe() + ": W has shape " + dims_to_string(w_tensor.dims()) + ", expected " +
                            dims_to_string({directions, gates * hidden, input_size}));
  }
  const size_t per_direction = cell == Cell::kRnn ? 1 : cell == Cell::kGru ? 2 : 3;
  KILN_ASSIGN_OR_RETURN(std::vector<Activation> acts,
                        read_activations(node, per_direction, static_cast<size_t>(directions)));
  const bool has_clip = node.has_attribute("clip");
  const double clip = node.attr_float("clip", 0.0);
  const bool linear_before_reset = node.attr_int("linear_before_reset", 0) != 0;
  const bool input_forget = node.attr_int("input_forget", 0) != 0;

  std::vector<double> x = x_tensor.to_double_vector();
  std::vector<double> w = w_tensor.to_double_vector();
  std::vector<double> r = args.input(2).to_double_vector();
  std::vector<double> b = as_doubles(args.has_input(3) ? args.inputs[3] : nullptr);
  std::vector<int64_t> lens;
  if (args.has_input(4)) lens = args.input(4).to_int64_vector();
  std::vector<double> h0 = as_doubles(args.has_input(5) ? args.inputs[5] : nullptr);
  std::vector<double> c0 =
      cell == Cell::kLstm && args.has_input(6) ? args.input(6).to_double_vector() : std::vector<double>{};
  std::vector<double> peep =
      cell == Cell::kLstm && args.has_input(7) ? args.input(7).to_double_vector() : std::vector<double>{};
  auto expect_count = [&](const std::vector<double>& v, int64_t count, const char* what) -> Status {
    if (!v.empty() && static_cast<int64_t>(v.size()) != count) {
      return invalid_argument(node.describe() + ": " + what + " has " + std::to_string(v.size()) +
                              " values, expected " + std::to_string(count));
    }
    return ok_status();
  };
  KILN_RETURN_IF_ERROR(expect_count(r, directions * gates * hidden * hidden, "R"));
  KILN_RETURN_IF_ERROR(expect_count(h0, directions * batch * hidden, "initial_h"));
  KILN_RETURN_IF_ERROR(expect_count(c0, directions * batch * hidden, "initial_c"));
  KILN_RETURN_IF_ERROR(expect_count(peep, directions * 3 * hidden, "P"));
  if (!lens.empty() && static_cast<int64_t>(lens.size()) != batch) {
    return invalid_argument(node.describe() + ": sequence_lens has " + std::to_string(lens.size()) +
                            " values, expected the batch size " + std::to_string(batch));
  }
  for (int64_t len : lens) {
    if (len < 0 || len > seq) {
      return out_of_range(node.describe() + ": sequence length " + std::to_string(len) + " is outside [0, " +
                          std::to_string(seq) + "]");
    }
  }
  if (!b.empty() && static_cast<int64_t>(b.size()) != directions * 2 * gates * hidden) {
    return invalid_argument(node.describe() + ": B has " + std::to_string(b.size()) + " values, expected " +
                            std::to_string(directions * 2 * gates * hidden));
  }

  const int64_t H = hidden;
  std::vector<double> y(static_cast<size_t>(seq * directions * batch * H), 0.0);
  std::vector<double> y_h(static_cast<size_t>(directions * batch * H), 0.0);
  std::vector<double> y_c(static_cast<size_t>(directions * batch * H), 0.0);
  auto x_at = [&](int64_t t, int64_t bi) {
    return x.data() + (layout == 0 ? (t * batch + bi) : (bi * seq + t)) * input_size;
  };
  // Index into an initial/final state laid out per `layout`.
  auto state_index = [&](int64_t d, int64_t bi) {
    return (layout == 0 ? (d * batch + bi) : (bi * directions + d)) * H;
  };
  auto y_index = [&](int64_t t, int64_t d, int64_t bi) {
    return (layout == 0 ? ((t * directions + d) * batch + bi) : ((bi * seq + t) * directions + d)) * H;
  };
  auto clipped = [&](double v) { return has_clip ? std::clamp(v, -clip, clip) : v; };

  for (int64_t d = 0; d < directions; ++d) {
    const bool reverse = direction == "reverse" || d == 1;
    const double* wd = w.data() + d * gates * H * input_size;
    const double* rd = r.data() + d * gates * H * H;
    const double* wb = b.empty() ? nullptr : b.data() + d * 2 * gates * H;
    const double* rb = b.empty() ? nullptr : wb + gates * H;
    const double* pd = peep.empty() ? nullptr : peep.data() + d * 3 * H;
    const Activation* act = acts.data() + d * static_cast<int64_t>(per_direction);
    for (int64_t bi = 0; bi < batch; ++bi) {
      int64_t len = lens.empty() ? seq : std::min<int64_t>(lens[static_cast<size_t>(bi)], seq);
      std::vector<double> h(static_cast<size_t>(H), 0.0), c(static_cast<size_t>(H), 0.0);
      if (!h0.empty()) std::copy_n(h0.data() + state_index(d, bi), H, h.begin());
      if (!c0.empty()) std::copy_n(c0.data() + state_index(d, bi), H, c.begin());
      std::vector<double> xw(static_cast<size_t>(gates * H)), hr(static_cast<size_t>(gates * H));
      for (int64_t step = 0; step < len; ++step) {
        const int64_t t = reverse ? len - 1 - step : step;
        const double* xt = x_at(t, bi);
        for (int64_t g = 0; g < gates * H; ++g) {
          double sx = wb ? wb[g] : 0.0;
          const double* wrow = wd + g * input_size;
          for (int64_t k = 0; k < input_size; ++k) sx += wrow[k] * xt[k];
          xw[static_cast<size_t>(g)] = sx;
          double sh = rb ? rb[g] : 0.0;
          const double* rrow = rd + g * H;
          for (int64_t k = 0; k < H; ++k) sh += rrow[k] * h[static_cast<size_t>(k)];
          hr[static_cast<size_t>(g)] = sh;
        }
        if (cell == Cell::kRnn) {
          for (int64_t k = 0; k < H; ++k) h[static_cast<size_t>(k)] = act[0](clipped(xw[k] + hr[k]));
        } else if (cell == Cell::kLstm) {
          for (int64_t k = 0; k < H; ++k) {
            double cp = c[static_cast<size_t>(k)];
            double i = act[0](clipped(xw[k] + hr[k] + (pd ? pd[k] * cp : 0.0)));
            double f =
                input_forget ? 1 - i : act[0](clipped(xw[2 * H + k] + hr[2 * H + k] + (pd ? pd[2 * H + k] * cp : 0.0)));
            double candidate = act[1](clipped(xw[3 * H + k] + hr[3 * H + k]));
            double cn = f * cp + i * candidate;
            double o = act[0](clipped(xw[H + k] + hr[H + k] + (pd ? pd[H + k] * cn : 0.0)));
            c[static_cast<size_t>(k)] = cn;
            h[static_cast<size_t>(k)] = o * act[2](cn);
          }
        } else {
          std::vector<double> z(static_cast<size_t>(H)), rg(static_cast<size_t>(H));
          for (int64_t k = 0; k < H; ++k) {
            z[k] = act[0](clipped(xw[k] + hr[k]));
            rg[k] = act[0](clipped(xw[H + k] + hr[H + k]));
          }
          std::vector<double> candidate(static_cast<size_t>(H));
          if (linear_before_reset) {
            for (int64_t k = 0; k < H; ++k) candidate[k] = act[1](clipped(xw[2 * H + k] + rg[k] * hr[2 * H + k]));
          } else {
            const double* rh = rd + 2 * H * H;
            for (int64_t k = 0; k < H; ++k) {
              double s = rb ? rb[2 * H + k] : 0.0;
              for (int64_t m = 0; m < H; ++m) s += rh[k * H + m] * rg[m] * h[m];
              candidate[k] = act[1](clipped(xw[2 * H + k] + s));
            }
          }
          for (int64_t k = 0; k < H; ++k) h[k] = (1 - z[k]) * candidate[k] + z[k] * h[k];
        }
        std::copy(h.begin(), h.end(), y.begin() + y_index(t, d, bi));
      }
      std::copy(h.begin(), h.end(), y_h.begin() + state_index(d, bi));
      std::copy(c.begin(), c.end(), y_c.begin() + state_index(d, bi));
    }
  }

  const DataType dtype = x_tensor.dtype();
  auto write = [&](size_t index, const std::vector<double>& values, Dims dims) {
    if (!args.node.has_output(index)) return;
    Tensor& out = args.output(index);
    if (!out.defined() || out.dims() != dims) out = Tensor::empty(dtype, dims);
    dispatch_float(dtype, [&]<typename T>() {
      T* dst = out.data<T>();
      for (size_t i = 0; i < values.size(); ++i) dst[i] = from_double<T>(values[i]);
    });
  };
  write(0, y, layout == 0 ? Dims{seq, directions, batch, H} : Dims{batch, seq, directions, H});
  Dims state = layout == 0 ? Dims{directions, batch, H} : Dims{batch, directions, H};
  write(1, y_h, state);
  if (cell == Cell::kLstm) write(2, y_c, state);
  return ok_status();
}

}  // namespace

void register_recurrent_kernels(KernelTable& table) {
  CpuKernel kernel{nullptr, run_recurrent};
  table.add("RNN", kernel);
  table.add("LSTM", kernel);
  table.add("GRU", kernel);
}

}  // namespace kiln::cpu
