// Stand-in for a header Debian's libtorch-dev leaves out (torch/csrc/distributed/autograd is not
// packaged) but c10d/reducer.hpp includes. The Reducer only names two things from it: the
// callback type of DistAutogradContext (checked against its own by a static_assert) and ContextPtr,
// a shared_ptr held in a member. Both are declared here exactly as in PyTorch 1.13's
// torch/csrc/distributed/autograd/context/context.h, so the Reducer's layout is libtorch's own;
// nnlock never uses distributed autograd (the RPC framework), so nothing else is needed. Used only
// when the real header is missing (binding.gyp puts this folder after libtorch's includes).
#pragma once
#include <ATen/ATen.h>
#include <functional>
#include <memory>

namespace torch {
namespace distributed {
namespace autograd {

class DistAutogradContext {
 public:
  using GradCallback = std::function<bool(at::Tensor&)>;
};

using ContextPtr = std::shared_ptr<DistAutogradContext>;

}  // namespace autograd
}  // namespace distributed
}  // namespace torch
