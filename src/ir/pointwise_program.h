// A pointwise program: a small straight-line computation over one input
// element `x` and scalar constants, into which the passes fold activation
// tails (Relu, Clip, SiLU, GELU in its Erf and Tanh forms, HardSwish, ...) and
// chains of elementwise ops. Backends evaluate it per element; the encoding
// lives in node attributes so plans carry it like any other attribute.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kiln/graph.h"
#include "kiln/status.h"

namespace kiln {

enum class PointwiseOp : int32_t {
  // unary on a
  kRelu, kSigmoid, kTanh, kErf, kExp, kLog, kSqrt, kAbs, kNeg, kReciprocal, kFloor, kCeil,
  kSoftplus, kSoftsign, kHardSwish, kSign,
  // unary with parameters (alpha, beta in p0, p1)
  kLeakyRelu, kElu, kSelu, kHardSigmoid, kClip, kCelu, kThresholdedRelu,
  // binary on a, b
  kAdd, kSub, kMul, kDiv, kPow, kMax, kMin,
  kCount,
};

// Register 0 holds the input element; instruction i writes register i + 1.
// An operand >= 0 names a register; operand -1 - k names constants[k].
struct PointwiseInstruction {
  PointwiseOp op;
  int32_t a = 0;
  int32_t b = 0;
  float p0 = 0;
  float p1 = 0;
};

struct PointwiseProgram {
  std::vector<PointwiseInstruction> code;
  std::vector<float> constants;
  // The result is the last instruction's register (the input when code is empty).

  bool empty() const { return code.empty(); }
  // Writes the program into attributes "pw_code" (ints), "pw_params" (floats), "pw_constants" (floats).
  void store(Node& node) const;
  // Reads it back; an empty program when the node carries none.
  static Expected<PointwiseProgram> load(const Node& node);
  // Reference evaluation of one element in double precision.
  double evaluate(double x) const;
  // "Sigmoid(x)*x" style text for inspect and logs.
  std::string describe() const;
};

// Name -> op for the ONNX ops a program can absorb, with their arity.
bool pointwise_op_from_onnx(const std::string& op_type, PointwiseOp* op, int* arity);
const char* pointwise_op_name(PointwiseOp op);
int pointwise_arity(PointwiseOp op);

}  // namespace kiln
