// The tensor handle: a JavaScript object owning one reference to an at::Tensor.
// Ownership is explicit (dispose); the garbage collector's finalizer and the external-memory
// hint are only a safety net. A per-environment counter tracks live handles so tests can check
// that nothing leaks.
#include "common.h"
#include <cstring>

namespace nnlock {

class TensorHandle : public Napi::ObjectWrap<TensorHandle> {
 public:
  explicit TensorHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorHandle>(info) {}
  ~TensorHandle() override { release(Env(), /*fromFinalizer=*/true); }

  void set(Napi::Env env, at::Tensor tensor) {
    tensor_ = std::move(tensor);
    live_ = true;
    addonData(env).liveTensors++;
    bytes_ = tensor_.defined() && tensor_.device().is_cpu() ? static_cast<int64_t>(tensor_.nbytes()) : 0;
    if (bytes_ > 0) Napi::MemoryManagement::AdjustExternalMemory(env, bytes_);
  }

  void release(Napi::Env env, bool fromFinalizer) {
    if (!live_) return;
    live_ = false;
    tensor_ = at::Tensor();
    auto* data = env.GetInstanceData<AddonData>();
    if (data) data->liveTensors--;
    if (bytes_ > 0 && !fromFinalizer) Napi::MemoryManagement::AdjustExternalMemory(env, -bytes_);
    bytes_ = 0;
  }

  bool live() const { return live_; }
  at::Tensor& tensor() { return tensor_; }

 private:
  at::Tensor tensor_;
  bool live_ = false;
  int64_t bytes_ = 0;
};

Napi::Function initHandleClass(Napi::Env env) { return TensorHandle::DefineClass(env, "TensorHandle", {}); }

bool isHandle(Napi::Env env, const Napi::Value& value) {
  return value.IsObject() && value.As<Napi::Object>().InstanceOf(addonData(env).handleCtor.Value());
}

Napi::Object wrapTensor(Napi::Env env, at::Tensor tensor) {
  Napi::Object obj = addonData(env).handleCtor.New({});
  TensorHandle::Unwrap(obj)->set(env, std::move(tensor));
  return obj;
}

static TensorHandle* unwrapHandle(Napi::Env env, const Napi::Value& value, const char* what) {
  if (!isHandle(env, value)) throw Napi::TypeError::New(env, std::string(what) + ": expected a tensor handle");
  return TensorHandle::Unwrap(value.As<Napi::Object>());
}

at::Tensor& unwrapTensor(Napi::Env env, const Napi::Value& value, const char* what) {
  TensorHandle* h = unwrapHandle(env, value, what);
  if (!h->live()) throw Napi::Error::New(env, std::string(what) + ": tensor used after dispose()");
  return h->tensor();
}

static std::vector<int64_t> toShape(Napi::Env env, const Napi::Value& value, const char* what) {
  if (!value.IsArray()) throw Napi::TypeError::New(env, std::string(what) + ": shape must be an array of integers");
  auto arr = value.As<Napi::Array>();
  std::vector<int64_t> shape(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value d = arr.Get(i);
    if (!d.IsNumber()) throw Napi::TypeError::New(env, std::string(what) + ": shape must be an array of integers");
    double v = d.As<Napi::Number>().DoubleValue();
    if (v < 0 || v != static_cast<double>(static_cast<int64_t>(v)))
      throw Napi::RangeError::New(env, std::string(what) + ": shape entries must be non-negative integers");
    shape[i] = static_cast<int64_t>(v);
  }
  return shape;
}

// fromBytes(view: ArrayBufferView, shape: number[], dtype: string): handle. Copies the bytes.
static Napi::Value FromBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, "fromBytes", [&]() -> Napi::Value {
    if (info.Length() < 3 || !info[0].IsTypedArray() || !info[2].IsString())
      throw Napi::TypeError::New(env, "fromBytes: expected (typedArray, shape, dtype)");
    auto view = info[0].As<Napi::TypedArray>();
    auto shape = toShape(env, info[1], "fromBytes");
    at::ScalarType dtype = parseDtype(info[2].As<Napi::String>().Utf8Value());
    int64_t numel = 1;
    for (int64_t d : shape) numel *= d;
    size_t want = static_cast<size_t>(numel) * c10::elementSize(dtype);
    if (view.ByteLength() != want)
      throw Napi::RangeError::New(env, "fromBytes: " + std::to_string(view.ByteLength()) + " bytes given, shape and dtype need " +
                                           std::to_string(want));
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
    if (want > 0) {
      auto* src = static_cast<const uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
      std::memcpy(t.data_ptr(), src, want);
    }
    return wrapTensor(env, std::move(t));
  });
}

// toBytes(handle): ArrayBuffer with the tensor's elements, contiguous, on the CPU.
static Napi::Value ToBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, "toBytes", [&]() -> Napi::Value {
    at::Tensor t = unwrapTensor(env, info[0], "toBytes");
    t = t.detach().to(at::kCPU).contiguous();
    size_t n = t.nbytes();
    auto buf = Napi::ArrayBuffer::New(env, n);
    if (n > 0) std::memcpy(buf.Data(), t.data_ptr(), n);
    return buf;
  });
}

static Napi::Value Shape(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor& t = unwrapTensor(env, info[0], "shape");
  auto sizes = t.sizes();
  auto arr = Napi::Array::New(env, sizes.size());
  for (size_t i = 0; i < sizes.size(); i++) arr.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(sizes[i])));
  return arr;
}

static Napi::Value Dtype(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), dtypeName(unwrapTensor(info.Env(), info[0], "dtype").scalar_type()));
}

static Napi::Value Device(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), unwrapTensor(info.Env(), info[0], "device").device().str());
}

static Napi::Value RequiresGrad(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), unwrapTensor(info.Env(), info[0], "requiresGrad").requires_grad());
}

static Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, "setRequiresGrad", [&]() -> Napi::Value {
    unwrapTensor(env, info[0], "setRequiresGrad").set_requires_grad(info[1].ToBoolean().Value());
    return env.Undefined();
  });
}

static Napi::Value Item(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, "item", [&]() -> Napi::Value {
    c10::Scalar s = unwrapTensor(env, info[0], "item").item();
    if (s.isBoolean()) return Napi::Boolean::New(env, s.toBool());
    if (s.isIntegral(false)) return Napi::Number::New(env, static_cast<double>(s.toLong()));
    return Napi::Number::New(env, s.toDouble());
  });
}

static Napi::Value Dispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  unwrapHandle(env, info[0], "dispose")->release(env, false);
  return env.Undefined();
}

static Napi::Value IsDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !unwrapHandle(info.Env(), info[0], "isDisposed")->live());
}

static Napi::Value LiveTensors(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(addonData(info.Env()).liveTensors));
}

// Same storage and offset: in-place ops return an alias of their input.
static Napi::Value SameTensor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor& a = unwrapTensor(env, info[0], "sameTensor");
  at::Tensor& b = unwrapTensor(env, info[1], "sameTensor");
  return Napi::Boolean::New(env, a.unsafeGetTensorImpl() == b.unsafeGetTensorImpl());
}

void initHandleExports(Napi::Env env, Napi::Object exports) {
  exports.Set("fromBytes", Napi::Function::New(env, FromBytes));
  exports.Set("toBytes", Napi::Function::New(env, ToBytes));
  exports.Set("shape", Napi::Function::New(env, Shape));
  exports.Set("dtype", Napi::Function::New(env, Dtype));
  exports.Set("device", Napi::Function::New(env, Device));
  exports.Set("requiresGrad", Napi::Function::New(env, RequiresGrad));
  exports.Set("setRequiresGrad", Napi::Function::New(env, SetRequiresGrad));
  exports.Set("item", Napi::Function::New(env, Item));
  exports.Set("dispose", Napi::Function::New(env, Dispose));
  exports.Set("isDisposed", Napi::Function::New(env, IsDisposed));
  exports.Set("liveTensors", Napi::Function::New(env, LiveTensors));
  exports.Set("sameTensor", Napi::Function::New(env, SameTensor));
}

}  // namespace nnlock
