#include "ir/pointwise_program.h"

#include <cmath>

namespace kiln {

namespace {
struct OpInfo {
  PointwiseOp op;
  const char* name;
  int arity;
};
constexpr OpInfo kOps[] = {
    {PointwiseOp::kRelu, "Relu", 1},           {PointwiseOp::kSigmoid, "Sigmoid", 1},
    {PointwiseOp::kTanh, "Tanh", 1},           {PointwiseOp::kErf, "Erf", 1},
    {PointwiseOp::kExp, "Exp", 1},             {PointwiseOp::kLog, "Log", 1},
    {PointwiseOp::kSqrt, "Sqrt", 1},           {PointwiseOp::kAbs, "Abs", 1},
    {PointwiseOp::kNeg, "Neg", 1},             {PointwiseOp::kReciprocal, "Reciprocal", 1},
    {PointwiseOp::kFloor, "Floor", 1},         {PointwiseOp::kCeil, "Ceil", 1},
    {PointwiseOp::kSoftplus, "Softplus", 1},   {PointwiseOp::kSoftsign, "Softsign", 1},
    {PointwiseOp::kHardSwish, "HardSwish", 1}, {PointwiseOp::kSign, "Sign", 1},
    {PointwiseOp::kLeakyRelu, "LeakyRelu", 1}, {PointwiseOp::kElu, "Elu", 1},
    {PointwiseOp::kSelu, "Selu", 1},           {PointwiseOp::kHardSigmoid, "HardSigmoid", 1},
    {PointwiseOp::kClip, "Clip", 1},           {PointwiseOp::kCelu, "Celu", 1},
    {PointwiseOp::kThresholdedRelu, "ThresholdedRelu", 1},
    {PointwiseOp::kAdd, "Add", 2},             {PointwiseOp::kSub, "Sub", 2},
    {PointwiseOp::kMul, "Mul", 2},             {PointwiseOp::kDiv, "Div", 2},
    {PointwiseOp::kPow, "Pow", 2},             {PointwiseOp::kMax, "Max", 2},
    {PointwiseOp::kMin, "Min", 2},
};

const OpInfo* info(PointwiseOp op) {
  for (const OpInfo& i : kOps) if (i.op == op) return &i;
  return nullptr;
}
}  // namespace

const char* pointwise_op_name(PointwiseOp op) {
  const OpInfo* i = info(op);
  return i ? i->name : "?";
}

int pointwise_arity(PointwiseOp op) {
  const OpInfo* i = info(op);
  return i ? i->arity : 0;
}

bool pointwise_op_from_onnx(const std::string& op_type, PointwiseOp* op, int* arity) {
  for (const OpInfo& i : kOps) {
    if (op_type == i.name) {
      *op = i.op;
      *arity = i.arity;
      return true;
    }
  }
  return false;
}

void PointwiseProgram::store(Node& node) const {
  std::vector<int64_t> code_ints;
  std::vector<double> params;
  for (const auto& ins : code) {
    code_ints.push_back(static_cast<int64_t>(ins.op));
    code_ints.push_back(ins.a);
    code_ints.push_back(ins.b);
    params.push_back(ins.p0);
    params.push_back(ins.p1);
  }
  node.attributes["pw_code"] = Attribute::of_ints(code_ints);
  node.attributes["pw_params"] = Attribute::of_floats(params);
  node.attributes["pw_constants"] = Attribute::of_floats(std::vector<double>(constants.begin(), constants.end()));
}

Expected<PointwiseProgram> PointwiseProgram::load(const Node& node) {
  PointwiseProgram p;
  std::vector<int64_t> code_ints = node.attr_ints("pw_code");
  std::vector<double> params = node.attr_floats("pw_params");
  std::vector<double> constants = node.attr_floats("pw_constants");
  if (code_ints.size() % 3 != 0 || params.size() * 3 != code_ints.size() * 2) {
    return invalid_argument(node.describe() + ": malformed pointwise program");
  }
  for (double c : constants) p.constants.push_back(static_cast<float>(c));
  for (size_t i = 0; i < code_ints.size() / 3; ++i) {
    PointwiseInstruction ins;
    int64_t op = code_ints[3 * i];
    if (op < 0 || op >= static_cast<int64_t>(PointwiseOp::kCount)) {
      return invalid_argument(node.describe() + ": pointwise opcode " + std::to_string(op) + " is unknown");
    }
    ins.op = static_cast<PointwiseOp>(op);
    ins.a = static_cast<int32_t>(code_ints[3 * i + 1]);
    ins.b = static_cast<int32_t>(code_ints[3 * i + 2]);
    for (int32_t operand : {ins.a, ins.b}) {
      bool reg_ok = operand >= 0 && operand <= static_cast<int32_t>(i);
      bool const_ok = operand < 0 && -1 - operand < static_cast<int32_t>(p.constants.size());
      if (!reg_ok && !const_ok) {
        return invalid_argument(node.describe() + ": pointwise operand " + std::to_string(operand) + " is out of range");
      }
    }
    ins.p0 = static_cast<float>(params[2 * i]);
    ins.p1 = static_cast<float>(params[2 * i + 1]);
    p.code.push_back(ins);
  }
  return p;
}

double PointwiseProgram::evaluate(double x) const {
  std::vector<double> regs(code.size() + 1);
  regs[0] = x;
  auto get = [&](int32_t operand) { return operand >= 0 ? regs[operand] : static_cast<double>(constants[-1 - operand]); };
  for (size_t i = 0; i < code.size(); ++i) {
    const auto& ins = code[i];
    double a = get(ins.a);
    double b = pointwise_arity(ins.op) == 2 ? get(ins.b) : 0.0;
    double r = 0;
    switch (ins.op) {
      case PointwiseOp::kRelu: r = a > 0 ? a : 0; break;
      case PointwiseOp::kSigmoid: r = 1 / (1 + std::exp(-a)); break;
      case PointwiseOp::kTanh: r = std::tanh(a); break;
      case PointwiseOp::kErf: r = std::erf(a); break;
      case PointwiseOp::kExp: r = std::exp(a); break;
      case PointwiseOp::kLog: r = std::log(a); break;
      case PointwiseOp::kSqrt: r = std::sqrt(a); break;
      case PointwiseOp::kAbs: r = std::fabs(a); break;
      case PointwiseOp::kNeg: r = -a; break;
      case PointwiseOp::kReciprocal: r = 1 / a; break;
      case PointwiseOp::kFloor: r = std::floor(a); break;
      case PointwiseOp::kCeil: r = std::ceil(a); break;
      case PointwiseOp::kSoftplus: r = std::log1p(std::exp(a)); break;
      case PointwiseOp::kSoftsign: r = a / (1 + std::fabs(a)); break;
      case PointwiseOp::kHardSwish: r = a * std::max(0.0, std::min(1.0, a / 6 + 0.5)); break;
      case PointwiseOp::kSign: r = a > 0 ? 1 : (a < 0 ? -1 : 0); break;
      case PointwiseOp::kLeakyRelu: r = a >= 0 ? a : ins.p0 * a; break;
      case PointwiseOp::kElu: r = a >= 0 ? a : ins.p0 * (std::exp(a) - 1); break;
      case PointwiseOp::kSelu: r = a > 0 ? ins.p1 * a : ins.p1 * ins.p0 * (std::exp(a) - 1); break;
      case PointwiseOp::kHardSigmoid: r = std::max(0.0, std::min(1.0, ins.p0 * a + ins.p1)); break;
      case PointwiseOp::kClip: r = std::min(static_cast<double>(ins.p1), std::max(static_cast<double>(ins.p0), a)); break;
      case PointwiseOp::kCelu: r = std::max(0.0, a) + std::min(0.0, ins.p0 * (std::exp(a / ins.p0) - 1)); break;
      case PointwiseOp::kThresholdedRelu: r = a > ins.p0 ? a : 0; break;
      case PointwiseOp::kAdd: r = a + b; break;
      case PointwiseOp::kSub: r = a - b; break;
      case PointwiseOp::kMul: r = a * b; break;
      case PointwiseOp::kDiv: r = a / b; break;
      case PointwiseOp::kPow: r = std::pow(a, b); break;
      case PointwiseOp::kMax: r = std::max(a, b); break;
      case PointwiseOp::kMin: r = std::min(a, b); break;
      case PointwiseOp::kCount: break;
    }
    regs[i + 1] = r;
  }
  return regs.back();
}

std::string PointwiseProgram::describe() const {
  std::vector<std::string> regs{"x"};
  auto get = [&](int32_t operand) {
    return operand >= 0 ? regs[operand] : std::to_string(constants[-1 - operand]);
  };
  for (const auto& ins : code) {
    std::string name = pointwise_op_name(ins.op);
    if (pointwise_arity(ins.op) == 2) regs.push_back(name + "(" + get(ins.a) + ", " + get(ins.b) + ")");
    else regs.push_back(name + "(" + get(ins.a) + ")");
  }
  return regs.back();
}

}  // namespace kiln
