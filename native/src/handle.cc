// The tensor handle: a JavaScript object owning one reference to an at::Tensor.
// Ownership is explicit (dispose); the garbage collector's finalizer and the external-memory
// hint are only a safety net. A per-environment counter tracks live handles so tests can check
// that nothing leaks.
#include "common.h"
#include <cmath>
#include <cstring>

namespace nnlock {

// A handle is a plain object, type-tagged as ours, wrapping a heap TensorBox. dispose() removes
// the wrap (napi_remove_wrap) and frees the box at once, so a disposed handle leaves no pending
// finalizer behind: Node 20 runs finalizers only when the event loop turns, and a long
// synchronous loop would otherwise pile them up. Only handles never disposed are finalized by GC.
struct TensorBox {
  at::Tensor tensor;
  int64_t bytes = 0;
  AddonData* data = nullptr;
};

static const napi_type_tag kHandleTag = {0x6e6e6c6f636b2d74ULL, 0x656e736f722d7631ULL};  // "nnlock-tensor-v1"

static void freeBox(TensorBox* box) {
  box->data->liveTensors--;
  delete box;
}

static void finalizeBox(napi_env /*env*/, void* data, void* /*hint*/) {
  // GC safety net for a handle never disposed. No JS calls here (and no external-memory
  // adjustment: V8 forbids touching the heap from some finalizers).
  freeBox(static_cast<TensorBox*>(data));
}

bool isHandle(Napi::Env env, const Napi::Value& value) {
  if (!value.IsObject()) return false;
  bool tagged = false;
  napi_status st = napi_check_object_type_tag(env, value, &kHandleTag, &tagged);
  return st == napi_ok && tagged;
}

// The bytes a new handle reports to V8 as external memory: its CPU storage when it is the only
// owner, else 0. A view (reshape, permute, a slice) shares its base's storage; counting it again
// made V8 see tens of MB of phantom allocation per op sequence, and its GC heuristics then started
// concurrent marking that took a core from libtorch's threads (measured: cipher encryption 1.6×
// slower on 2 cores). An op's fresh output owns its storage alone.
static int64_t ownedCpuBytes(const at::Tensor& tensor) {
  if (!tensor.defined() || !tensor.device().is_cpu() || !tensor.has_storage()) return 0;
  const c10::Storage& storage = tensor.storage();
  return storage.use_count() == 1 ? static_cast<int64_t>(storage.nbytes()) : 0;
}

Napi::Object wrapTensor(Napi::Env env, at::Tensor tensor) {
  Napi::Object obj = Napi::Object::New(env);
  auto* box = new TensorBox();
  box->data = &addonData(env);
  box->bytes = ownedCpuBytes(tensor);
  box->tensor = std::move(tensor);
  box->data->liveTensors++;
  if (napi_type_tag_object(env, obj, &kHandleTag) != napi_ok || napi_wrap(env, obj, box, finalizeBox, nullptr, nullptr) != napi_ok) {
    freeBox(box);
    throw Napi::Error::New(env, "nnlock: could not create a tensor handle");
  }
  if (box->bytes > 0) Napi::MemoryManagement::AdjustExternalMemory(env, box->bytes);
  return obj;
}

// The live box of a handle, or nullptr when it was disposed. Throws for anything not a handle.
static TensorBox* boxOf(Napi::Env env, const Napi::Value& value, const char* what) {
  if (!isHandle(env, value)) throw Napi::TypeError::New(env, std::string(what) + ": expected a tensor handle");
  void* ptr = nullptr;
  if (napi_unwrap(env, value, &ptr) != napi_ok) return nullptr;
  return static_cast<TensorBox*>(ptr);
}

at::Tensor* handleTensor(Napi::Env env, const Napi::Value& value) {
  if (!isHandle(env, value)) return nullptr;
  void* ptr = nullptr;
  if (napi_unwrap(env, value, &ptr) != napi_ok) return nullptr;
  return &static_cast<TensorBox*>(ptr)->tensor;
}

at::Tensor& unwrapTensor(Napi::Env env, const Napi::Value& value, const char* what) {
  TensorBox* box = boxOf(env, value, what);
  if (!box) throw Napi::Error::New(env, std::string(what) + ": tensor used after dispose()");
  return box->tensor;
}

static std::vector<int64_t> toShape(Napi::Env env, const Napi::Value& value, const char* what) {
  if (!value.IsArray()) throw Napi::TypeError::New(env, std::string(what) + ": shape must be an array of integers");
  auto arr = value.As<Napi::Array>();
  std::vector<int64_t> shape(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value d = arr.Get(i);
    if (d.IsBigInt()) {
      // Lossless or refused: napi's Int64Value wraps modulo 2^64.
      bool lossless = false;
      int64_t b = d.As<Napi::BigInt>().Int64Value(&lossless);
      if (!lossless || b < 0) throw Napi::RangeError::New(env, std::string(what) + ": shape entries must be non-negative integers below 2^63");
      shape[i] = b;
      continue;
    }
    if (!d.IsNumber()) throw Napi::TypeError::New(env, std::string(what) + ": shape must be an array of integers");
    double v = d.As<Napi::Number>().DoubleValue();
    // Range first: casting a double at or beyond 2^63 to int64 is undefined behaviour.
    if (!(v >= 0 && v < 9223372036854775808.0) || v != std::trunc(v))
      throw Napi::RangeError::New(env, std::string(what) + ": shape entries must be non-negative integers below 2^63");
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
    for (int64_t d : shape) numel = checkedMul(numel, d, "the element count of the shape");
    const size_t want = static_cast<size_t>(checkedMul(numel, static_cast<int64_t>(c10::elementSize(dtype)), "the byte size of the shape"));
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
  for (size_t i = 0; i < sizes.size(); i++) {
    // A size beyond 2^53 (only a stride-0 view can have one) is refused, not rounded.
    if (sizes[i] > (int64_t{1} << 53)) throw RangeFailure("size " + std::to_string(sizes[i]) + " is beyond a Number's exact integers (2^53)");
    arr.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(sizes[i])));
  }
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
    if (s.isIntegral(false)) {
      // item() is a Number: an int64 it cannot hold exactly is refused, not rounded.
      const int64_t v = s.toLong();
      constexpr int64_t kExact = int64_t{1} << 53;
      if (v < -kExact || v > kExact)
        throw RangeFailure(std::to_string(v) + " is beyond a Number's exact integers (2^53): read int64 tensors with toTypedArray()");
      return Napi::Number::New(env, static_cast<double>(v));
    }
    return Napi::Number::New(env, s.toDouble());
  });
}

static Napi::Value Dispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!boxOf(env, info[0], "dispose")) return env.Undefined();  // disposing twice is allowed
  void* ptr = nullptr;
  if (napi_remove_wrap(env, info[0], &ptr) == napi_ok && ptr) {
    auto* box = static_cast<TensorBox*>(ptr);
    if (box->bytes > 0) Napi::MemoryManagement::AdjustExternalMemory(env, -box->bytes);
    freeBox(box);
  }
  return env.Undefined();
}

static Napi::Value IsDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), boxOf(info.Env(), info[0], "isDisposed") == nullptr);
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
  exportGuarded(env, exports, "fromBytes", FromBytes);
  exportGuarded(env, exports, "toBytes", ToBytes);
  exportGuarded(env, exports, "shape", Shape);
  exportGuarded(env, exports, "dtype", Dtype);
  exportGuarded(env, exports, "device", Device);
  exportGuarded(env, exports, "requiresGrad", RequiresGrad);
  exportGuarded(env, exports, "setRequiresGrad", SetRequiresGrad);
  exportGuarded(env, exports, "item", Item);
  exportGuarded(env, exports, "dispose", Dispose);
  exportGuarded(env, exports, "isDisposed", IsDisposed);
  exportGuarded(env, exports, "liveTensors", LiveTensors);
  exportGuarded(env, exports, "sameTensor", SameTensor);
}

}  // namespace nnlock
