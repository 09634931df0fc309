// What is not an op: autograd entry points, grad mode, seeds, threads, CUDA and version facts.
#include "common.h"
#include <ATen/Parallel.h>
#include <cmath>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/api/include/torch/cuda.h>
#include <torch/csrc/api/include/torch/version.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace nnlock {

// backward(tensor, grad | null, retainGraph: boolean)
static Napi::Value Backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, "backward", [&]() -> Napi::Value {
    at::Tensor t = unwrapTensor(env, info[0], "backward");
    at::Tensor g;
    if (info.Length() > 1 && !info[1].IsNull() && !info[1].IsUndefined()) g = unwrapTensor(env, info[1], "backward");
    bool retain = info.Length() > 2 && info[2].ToBoolean().Value();
    torch::autograd::backward({t}, {g}, retain, false);
    return env.Undefined();
  });
}

// grad(tensor): the accumulated gradient (a new handle sharing its storage) or null.
static Napi::Value Grad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, "grad", [&]() -> Napi::Value {
    const at::Tensor& g = unwrapTensor(env, info[0], "grad").grad();
    if (!g.defined()) return env.Null();
    return wrapTensor(env, g);
  });
}

// setGrad(tensor, grad | null): null drops the gradient (PyTorch's zero_grad(set_to_none=True)).
static Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, "setGrad", [&]() -> Napi::Value {
    at::Tensor& t = unwrapTensor(env, info[0], "setGrad");
    if (info.Length() < 2 || info[1].IsNull() || info[1].IsUndefined()) {
      t.mutable_grad().reset();
    } else {
      const at::Tensor& g = unwrapTensor(env, info[1], "setGrad");
      // Checked here, where the mistake is made, rather than at the next backward.
      if (!g.sizes().equals(t.sizes()) || g.scalar_type() != t.scalar_type() || g.device() != t.device())
        throw std::invalid_argument("gradient " + dtypeName(g.scalar_type()) + c10::str(g.sizes()) + " on " + g.device().str() +
                                    " does not match the tensor " + dtypeName(t.scalar_type()) + c10::str(t.sizes()) + " on " + t.device().str());
      t.mutable_grad() = g;
    }
    return env.Undefined();
  });
}

// setGradEnabled(enabled): previous value. Grad mode is per thread, like PyTorch's.
static Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  bool prev = at::GradMode::is_enabled();
  at::GradMode::set_enabled(info[0].ToBoolean().Value());
  return Napi::Boolean::New(info.Env(), prev);
}

static Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled());
}

static Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, "manualSeed", [&]() -> Napi::Value {
    if (!info[0].IsNumber()) throw std::invalid_argument("seed must be a number");
    double s = info[0].As<Napi::Number>().DoubleValue();
    if (!(s >= 0) || s != std::trunc(s)) throw std::invalid_argument("seed must be a non-negative integer");
    if (!(s < 18446744073709551616.0)) throw RangeFailure("seed must be below 2^64");
    uint64_t seed = static_cast<uint64_t>(s);
    {
      auto gen = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_current_seed(seed);
    }
    if (torch::cuda::is_available()) torch::cuda::manual_seed_all(seed);
    return env.Undefined();
  });
}

static Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, "setNumThreads", [&]() -> Napi::Value {
    if (!info[0].IsNumber()) throw std::invalid_argument("thread count must be a number");
    double d = info[0].As<Napi::Number>().DoubleValue();
    if (!(d >= 1) || d != std::trunc(d)) throw std::invalid_argument("thread count must be an integer of at least 1");
    if (!(d <= 65536)) throw RangeFailure("thread count must be at most 65536");
    int n = static_cast<int>(d);
    at::set_num_threads(n);
    return env.Undefined();
  });
}

static Napi::Value GetNumThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), at::get_num_threads()); }

static Napi::Value CudaIsAvailable(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), torch::cuda::is_available());
}

static Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(torch::cuda::device_count()));
}

static Napi::Value CudaSynchronize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, "cudaSynchronize", [&]() -> Napi::Value {
    if (torch::cuda::is_available()) torch::cuda::synchronize();
    return env.Undefined();
  });
}

static Napi::Value Version(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), TORCH_VERSION); }

// setMallocThresholds(mmapBytes, trimBytes): glibc malloc's M_MMAP_THRESHOLD and M_TRIM_THRESHOLD
// for this process. Returns false where the C library is not glibc (nothing changed). The policy
// (whether and what) lives in src/native/allocator.ts.
static Napi::Value SetMallocThresholds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, "setMallocThresholds", [&]() -> Napi::Value {
    if (!info[0].IsNumber() || !info[1].IsNumber()) throw std::invalid_argument("thresholds must be numbers of bytes");
    double mmapBytes = info[0].As<Napi::Number>().DoubleValue();
    double trimBytes = info[1].As<Napi::Number>().DoubleValue();
    if (!(mmapBytes >= 0 && mmapBytes <= 2147483647.0) || !(trimBytes >= 0 && trimBytes <= 2147483647.0))
      throw std::invalid_argument("thresholds must be between 0 and 2^31 - 1 bytes");
    if (mmapBytes != std::trunc(mmapBytes) || trimBytes != std::trunc(trimBytes)) throw std::invalid_argument("thresholds must be whole numbers of bytes");
#if defined(__GLIBC__)
    bool ok = mallopt(M_MMAP_THRESHOLD, static_cast<int>(mmapBytes)) == 1 && mallopt(M_TRIM_THRESHOLD, static_cast<int>(trimBytes)) == 1;
    return Napi::Boolean::New(env, ok);
#else
    return Napi::Boolean::New(env, false);
#endif
  });
}

static Napi::Value ParallelInfo(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), at::get_parallel_info()); }

void initRuntimeExports(Napi::Env env, Napi::Object exports) {
  exportGuarded(env, exports, "backward", Backward);
  exportGuarded(env, exports, "grad", Grad);
  exportGuarded(env, exports, "setGrad", SetGrad);
  exportGuarded(env, exports, "setGradEnabled", SetGradEnabled);
  exportGuarded(env, exports, "isGradEnabled", IsGradEnabled);
  exportGuarded(env, exports, "manualSeed", ManualSeed);
  exportGuarded(env, exports, "setNumThreads", SetNumThreads);
  exportGuarded(env, exports, "getNumThreads", GetNumThreads);
  exportGuarded(env, exports, "cudaIsAvailable", CudaIsAvailable);
  exportGuarded(env, exports, "cudaDeviceCount", CudaDeviceCount);
  exportGuarded(env, exports, "cudaSynchronize", CudaSynchronize);
  exportGuarded(env, exports, "libtorchVersion", Version);
  exportGuarded(env, exports, "parallelInfo", ParallelInfo);
  exportGuarded(env, exports, "setMallocThresholds", SetMallocThresholds);
}

}  // namespace nnlock
