// The one-input kernel shape shared by unary math and activations: a function
// made once per run from the node's attributes, applied to every element in
// the compute type (float for half types).
#pragma once

#include "backends/cpu/kernels/elementwise_common.h"

namespace kiln::cpu {

// `dispatch(dtype, fn)` picks the accepted element types; `make_fn(node)` returns
// a callable generic over the compute type.
template <typename Dispatch, typename Factory>
CpuKernel unary_kernel(Dispatch dispatch, Factory make_fn) {
  return {{}, [dispatch, make_fn](KernelArgs& args) -> Status {
            const Tensor& in = args.input(0);
            Tensor& out = prepare_output(args, 0, in.dtype(), in.dims());
            auto fn = make_fn(args.node);
            const bool handled = dispatch(in.dtype(), [&]<typename T>() {
              map_elements(in.data<T>(), out.data<T>(), in.element_count(),
                           [&](T v) { return narrow<T>(fn(widen(v))); });
            });
            return handled ? ok_status() : unsupported_dtype(args.node, in.dtype());
          }};
}

// Float-only kernel whose function needs no attributes.
template <typename Fn>
CpuKernel float_unary_kernel(Fn fn) {
  return unary_kernel([](DataType t, auto&& f) { return dispatch_float(t, f); }, [fn](const Node&) { return fn; });
}

// Float-only kernel whose function is made from the node's attributes.
template <typename Factory>
CpuKernel float_unary_kernel_with_attributes(Factory make_fn) {
  return unary_kernel([](DataType t, auto&& f) { return dispatch_float(t, f); }, make_fn);
}

}  // namespace kiln::cpu
