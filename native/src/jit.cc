// TorchScript modules: a user's own PyTorch model, exported with torch.jit.script or trace, run by
// libtorch without Python. A module handle is a type-tagged JavaScript object wrapping a heap
// box with one torch::jit::Module (a reference to the scripted object); its parameters and
// buffers come back as ordinary tensor handles that share the module's own tensors, so copying
// weights into them (loadStateDict) changes the module, and autograd reaches them.
//
// A TorchScript file is code (TorchScript, not Python): it runs only the ops it was compiled to,
// but with the caller's trust. Loading refuses what libtorch's reader refuses, with its message.
#include "common.h"
#include <sstream>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/serialization/import.h>

namespace nnlock {

struct ModuleBox {
  torch::jit::Module module;
};

static const napi_type_tag kModuleTag = {0x6e6e6c6f636b2d6aULL, 0x69746d6f642d7631ULL};  // "nnlock-jitmod-v1"

static void finalizeModule(napi_env /*env*/, void* data, void* /*hint*/) { delete static_cast<ModuleBox*>(data); }

// The live box of a module handle, or nullptr when it was disposed. Throws for anything else.
static ModuleBox* moduleBoxOf(Napi::Env env, const Napi::Value& value, const char* what) {
  bool tagged = false;
  if (!value.IsObject() || napi_check_object_type_tag(env, value, &kModuleTag, &tagged) != napi_ok || !tagged)
    throw Napi::TypeError::New(env, std::string(what) + ": expected a TorchScript module handle");
  void* ptr = nullptr;
  if (napi_unwrap(env, value, &ptr) != napi_ok) return nullptr;
  return static_cast<ModuleBox*>(ptr);
}

static torch::jit::Module& unwrapModule(Napi::Env env, const Napi::Value& value, const char* what) {
  ModuleBox* box = moduleBoxOf(env, value, what);
  if (!box) throw Napi::Error::New(env, std::string(what) + ": module used after dispose()");
  return box->module;
}

static std::string stringArg(Napi::Env env, const Napi::CallbackInfo& info, size_t i, const char* what, const char* name) {
  if (info.Length() <= i || !info[i].IsString()) throw Napi::TypeError::New(env, std::string(what) + ": " + name + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

// The submodule at a dotted path ('' is the module itself), or an error naming the path.
static torch::jit::Module submoduleAt(const torch::jit::Module& root, const std::string& path) {
  torch::jit::Module m = root;
  if (path.empty()) return m;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (part.empty() || !m.hasattr(part)) throw std::invalid_argument("the module has no submodule '" + path + "'");
    auto child = m.attr(part);
    if (!child.isModule()) throw std::invalid_argument("the module has no submodule '" + path + "'");
    m = child.toModule();
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return m;
}

// The qualified type name of a module: '__torch__.torch.nn.modules.conv.Conv2d', '__torch__.Net'.
static std::string typeNameOf(const torch::jit::Module& m) {
  auto name = m.type()->name();
  return name ? name->qualifiedName() : std::string("");
}

// jitLoad(bytes: Uint8Array): module handle. The bytes of a file written by torch.jit.save.
static Napi::Value JitLoad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw Napi::TypeError::New(env, "jitLoad: expected the file's bytes as a Uint8Array");
  auto view = info[0].As<Napi::TypedArray>();
  const char* data = static_cast<const char*>(view.ArrayBuffer().Data()) + view.ByteOffset();
  std::istringstream in(std::string(data, view.ByteLength()));
  torch::jit::Module module = torch::jit::load(in, c10::Device(c10::kCPU));
  auto forward = module.find_method("forward");
  if (!forward) throw std::invalid_argument("the TorchScript module has no forward method");
  const auto& schema = forward->function().getSchema();
  // self and one input tensor: what a CNN's forward takes.
  if (schema.arguments().size() != 2) throw std::invalid_argument("forward must take one input (an image batch), its schema is " + c10::toString(schema));
  Napi::Object obj = Napi::Object::New(env);
  auto* box = new ModuleBox{std::move(module)};
  if (napi_type_tag_object(env, obj, &kModuleTag) != napi_ok || napi_wrap(env, obj, box, finalizeModule, nullptr, nullptr) != napi_ok) {
    delete box;
    throw Napi::Error::New(env, "jitLoad: could not create a module handle");
  }
  return obj;
}

// jitDispose(module): drops the module (its tensors live on while other handles hold them).
static Napi::Value JitDispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !moduleBoxOf(env, info[0], "jitDispose")) return env.Undefined();  // twice is allowed
  void* ptr = nullptr;
  if (napi_remove_wrap(env, info[0], &ptr) == napi_ok && ptr) delete static_cast<ModuleBox*>(ptr);
  return env.Undefined();
}

// jitForward(module, x): forward(x), which must return one tensor.
static Napi::Value JitForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  torch::jit::Module& m = unwrapModule(env, info[0], "jitForward");
  at::Tensor x = unwrapTensor(env, info[1], "jitForward");
  c10::IValue out = m.forward({x});
  if (!out.isTensor()) throw std::invalid_argument("forward returned a " + out.tagKind() + ", nnlock needs one tensor");
  return wrapTensor(env, out.toTensor());
}

// jitSetTraining(module, path, on): the training flag of one submodule (not its children).
static Napi::Value JitSetTraining(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  torch::jit::Module& m = unwrapModule(env, info[0], "jitSetTraining");
  std::string path = stringArg(env, info, 1, "jitSetTraining", "the module path");
  if (info.Length() < 3 || !info[2].IsBoolean()) throw Napi::TypeError::New(env, "jitSetTraining: on must be a boolean");
  torch::jit::Module sub = submoduleAt(m, path);
  if (!sub.hasattr("training")) throw std::invalid_argument("the module '" + path + "' has no training flag");
  sub.setattr("training", info[2].As<Napi::Boolean>().Value());
  return env.Undefined();
}

// [[name, handle], ...] of named_parameters() or named_buffers(), recursively, in module order.
template <typename List>
static Napi::Value namedTensors(Napi::Env env, const List& list) {
  std::vector<std::pair<std::string, at::Tensor>> items;
  for (const auto& item : list) items.emplace_back(item.name, item.value);
  auto arr = Napi::Array::New(env, items.size());
  for (size_t i = 0; i < items.size(); i++) {
    auto pair = Napi::Array::New(env, 2);
    pair.Set(0u, Napi::String::New(env, items[i].first));
    pair.Set(1u, wrapTensor(env, items[i].second));
    arr.Set(static_cast<uint32_t>(i), pair);
  }
  return arr;
}

static Napi::Value JitNamedParameters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return namedTensors(env, unwrapModule(env, info[0], "jitNamedParameters").named_parameters(true));
}

static Napi::Value JitNamedBuffers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return namedTensors(env, unwrapModule(env, info[0], "jitNamedBuffers").named_buffers(true));
}

// jitNamedModules(module): [[path, typeName], ...], the module itself first (path '').
static Napi::Value JitNamedModules(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  torch::jit::Module& m = unwrapModule(env, info[0], "jitNamedModules");
  std::vector<std::pair<std::string, std::string>> items;
  for (const auto& item : m.named_modules()) items.emplace_back(item.name, typeNameOf(item.value));
  auto arr = Napi::Array::New(env, items.size());
  for (size_t i = 0; i < items.size(); i++) {
    auto pair = Napi::Array::New(env, 2);
    pair.Set(0u, Napi::String::New(env, items[i].first));
    pair.Set(1u, Napi::String::New(env, items[i].second));
    arr.Set(static_cast<uint32_t>(i), pair);
  }
  return arr;
}

// jitSetParameter(module, name, tensor): the parameter `name` ('features.0.weight') now holds
// `tensor` (the same shape and dtype; it may be a non-leaf, e.g. a gated weight w·z, so gradients
// reach what it was computed from). Setting the original tensor back restores the module.
static Napi::Value JitSetParameter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  torch::jit::Module& m = unwrapModule(env, info[0], "jitSetParameter");
  std::string name = stringArg(env, info, 1, "jitSetParameter", "the parameter name");
  at::Tensor value = unwrapTensor(env, info[2], "jitSetParameter");
  size_t dot = name.rfind('.');
  torch::jit::Module owner = submoduleAt(m, dot == std::string::npos ? "" : name.substr(0, dot));
  std::string leaf = dot == std::string::npos ? name : name.substr(dot + 1);
  auto type = owner.type();
  auto slot = type->findAttributeSlot(leaf);
  if (!slot || !type->is_parameter(*slot)) throw std::invalid_argument("the module has no parameter '" + name + "'");
  c10::IValue current = owner.attr(leaf);
  if (!current.isTensor()) throw std::invalid_argument("the parameter '" + name + "' is not a tensor (None)");
  const at::Tensor& old = current.toTensor();
  if (!old.sizes().equals(value.sizes()) || old.scalar_type() != value.scalar_type() || old.device() != value.device())
    throw std::invalid_argument("the parameter '" + name + "' is " + dtypeName(old.scalar_type()) + c10::str(old.sizes()) + ", got " +
                                dtypeName(value.scalar_type()) + c10::str(value.sizes()));
  owner._ivalue()->setSlot(*slot, c10::IValue(value));
  return env.Undefined();
}

void initJitExports(Napi::Env env, Napi::Object exports) {
  exportGuarded(env, exports, "jitLoad", JitLoad);
  exportGuarded(env, exports, "jitDispose", JitDispose);
  exportGuarded(env, exports, "jitForward", JitForward);
  exportGuarded(env, exports, "jitSetTraining", JitSetTraining);
  exportGuarded(env, exports, "jitNamedParameters", JitNamedParameters);
  exportGuarded(env, exports, "jitNamedBuffers", JitNamedBuffers);
  exportGuarded(env, exports, "jitNamedModules", JitNamedModules);
  exportGuarded(env, exports, "jitSetParameter", JitSetParameter);
}

}  // namespace nnlock
