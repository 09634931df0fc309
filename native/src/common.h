// Shared declarations of the nnlock addon. This is the only code in nnlock that includes libtorch.
#pragma once
#include <napi.h>
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <stdexcept>
#include <string>

namespace nnlock {

// Per-environment state (main thread and each worker thread get their own).
struct AddonData {
  int64_t liveTensors = 0;
};

AddonData& addonData(Napi::Env env);

// handle.cc: the JavaScript object (type-tagged, wrapping a heap box) that owns one reference to an at::Tensor.
Napi::Object wrapTensor(Napi::Env env, at::Tensor tensor);
at::Tensor& unwrapTensor(Napi::Env env, const Napi::Value& value, const char* what);
// The tensor of a live handle, or nullptr (not a handle, or disposed): the fast path for op arguments.
at::Tensor* handleTensor(Napi::Env env, const Napi::Value& value);
bool isHandle(Napi::Env env, const Napi::Value& value);
void initHandleExports(Napi::Env env, Napi::Object exports);

// convert.cc: dtype and device names, JS values <-> IValues driven by an op's schema.
at::ScalarType parseDtype(const std::string& name);
std::string dtypeName(at::ScalarType type);
c10::IValue toIValue(Napi::Env env, const Napi::Value& value, const c10::Argument& arg);
Napi::Value fromIValue(Napi::Env env, const c10::IValue& value);

// dispatch.cc / runtime.cc
void initDispatchExports(Napi::Env env, Napi::Object exports);
void initRuntimeExports(Napi::Env env, Napi::Object exports);
// jit.cc: TorchScript modules (torch::jit::load), for users' own models.
void initJitExports(Napi::Env env, Napi::Object exports);
// c10d.cc: store, process group, collectives and the Reducer of libtorch's c10d.
void initC10dExports(Napi::Env env, Napi::Object exports);

// A value outside the range a native argument can hold (a BigInt beyond int64, a size whose byte
// count overflows): becomes a JavaScript RangeError.
struct RangeFailure : std::out_of_range {
  using std::out_of_range::out_of_range;
};

// An argument of the wrong kind (not the object an export takes): becomes a JavaScript TypeError
// named by the export.
struct TypeFailure : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Runs fn, turning every C++ exception into a JavaScript Error that names `what` and carries
// libtorch's message without its backtrace. No C++ exception ever reaches Node.
template <typename F>
Napi::Value guarded(Napi::Env env, const std::string& what, F&& fn) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const RangeFailure& e) {
    throw Napi::RangeError::New(env, what + ": " + e.what());
  } catch (const TypeFailure& e) {
    throw Napi::TypeError::New(env, what + ": " + e.what());
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, what + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, what + ": " + e.what());
  } catch (...) {
    throw Napi::Error::New(env, what + ": unknown native error");
  }
}

// The one way an export is registered: every call runs inside guarded(), named by the export, so
// no accessor or helper can let a c10::Error or std::exception escape into Node (which aborts
// the process: `terminate called after throwing an instance of 'c10::Error'`).
using NativeCallback = Napi::Value (*)(const Napi::CallbackInfo&);
inline void exportGuarded(Napi::Env env, Napi::Object exports, const char* name, NativeCallback fn) {
  exports.Set(name, Napi::Function::New(
                        env, [name, fn](const Napi::CallbackInfo& info) -> Napi::Value { return guarded(info.Env(), name, [&] { return fn(info); }); },
                        name));
}

// Checked integer arithmetic for element and byte counts.
inline int64_t checkedMul(int64_t a, int64_t b, const char* what) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) throw RangeFailure(std::string(what) + " overflows int64");
  return r;
}

}  // namespace nnlock
