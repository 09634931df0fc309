// The one generic entry point: call any ATen op by schema name and overload through the
// dispatcher. Arguments are converted by the op's schema, so autograd, in-place ops and every
// backend work as they do from Python. Op handles are looked up once and cached by id.
#include "common.h"
#include <mutex>
#include <unordered_map>
#include <atomic>

namespace nnlock {

namespace {
// Process-wide table shared by worker threads. Entries are appended under a mutex and never move
// or disappear, so calls read them without locking: the count is published with release
// semantics after the entry is written.
struct OpEntry {
  c10::OperatorHandle handle;
  std::string name;
};
constexpr uint32_t kMaxOps = 8192;
struct OpTable {
  std::mutex mutex;  // only for insertion
  std::unordered_map<std::string, uint32_t> ids;
  OpEntry* entries[kMaxOps] = {};
  std::atomic<uint32_t> count{0};
};
OpTable& table() {
  static OpTable* t = new OpTable();  // never destroyed: worker threads may outlive static teardown
  return *t;
}
}  // namespace

// opHandle(name: string, overload: string): number
static Napi::Value OpHandle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString())
    throw Napi::TypeError::New(env, "opHandle: expected (name, overload)");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::string overload = info[1].As<Napi::String>().Utf8Value();
  std::string key = overload.empty() ? name : name + "." + overload;
  // The dispatcher takes C strings: "aten::add\0x" would silently find aten::add.
  if (key.find('\0') != std::string::npos) {
    std::string shown = key.substr(0, key.find('\0'));
    throw Napi::Error::New(env, shown + "...: op name and overload must not contain NUL characters");
  }
  return guarded(env, key, [&]() -> Napi::Value {
    OpTable& t = table();
    std::lock_guard<std::mutex> lock(t.mutex);
    auto it = t.ids.find(key);
    if (it != t.ids.end()) return Napi::Number::New(env, it->second);
    auto handle = c10::Dispatcher::singleton().findSchema({name.c_str(), overload.c_str()});
    if (!handle) throw std::invalid_argument("no such op (name and overload as in PyTorch's native_functions.yaml, e.g. 'aten::add' 'Tensor')");
    uint32_t id = t.count.load(std::memory_order_relaxed);
    if (id >= kMaxOps) throw std::length_error("too many distinct ops");
    t.entries[id] = new OpEntry{*handle, key};
    t.ids.emplace(key, id);
    t.count.store(id + 1, std::memory_order_release);
    return Napi::Number::New(env, id);
  });
}

static const OpEntry& lookup(Napi::Env env, const Napi::Value& idValue, const char* what) {
  if (!idValue.IsNumber()) throw Napi::TypeError::New(env, std::string(what) + ": op id must be a number from opHandle()");
  double d = idValue.As<Napi::Number>().DoubleValue();
  OpTable& t = table();
  if (!(d >= 0) || d >= t.count.load(std::memory_order_acquire) || d != static_cast<double>(static_cast<uint32_t>(d)))
    throw Napi::RangeError::New(env, std::string(what) + ": unknown op id " + std::to_string(d));
  return *t.entries[static_cast<uint32_t>(d)];
}

// call(id: number, args: unknown[]): handle | handle[] | number | boolean | null | (...)[]
// `undefined` or a missing trailing argument takes the schema's default.
static Napi::Value Call(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const OpEntry& entry = lookup(env, info[0], "call");
  const c10::OperatorHandle& op = entry.handle;
  return guarded(env, entry.name, [&]() -> Napi::Value {
    if (!info[1].IsArray()) throw std::invalid_argument("arguments must be an array");
    auto args = info[1].As<Napi::Array>();
    const c10::FunctionSchema& schema = op.schema();
    const auto& params = schema.arguments();
    uint32_t given = args.Length();
    if (given > params.size())
      throw std::invalid_argument(std::to_string(given) + " arguments given, schema takes " + std::to_string(params.size()) + ": " + toString(schema));
    torch::jit::Stack stack;
    stack.reserve(params.size());
    for (size_t i = 0; i < params.size(); i++) {
      Napi::Value v = i < given ? args.Get(static_cast<uint32_t>(i)) : env.Undefined();
      if (v.IsUndefined()) {
        if (!params[i].default_value()) throw std::invalid_argument("missing argument '" + params[i].name() + "' of " + toString(schema));
        stack.push_back(*params[i].default_value());
      } else {
        try {
          stack.push_back(toIValue(env, v, params[i]));
        } catch (const Napi::Error& e) {
          throw std::invalid_argument(e.Message());
        }
      }
    }
    op.callBoxed(&stack);
    size_t nret = schema.returns().size();
    if (nret == 0) return env.Undefined();
    if (nret == 1) return fromIValue(env, stack[0]);
    auto out = Napi::Array::New(env, nret);
    for (size_t i = 0; i < nret; i++) out.Set(static_cast<uint32_t>(i), fromIValue(env, stack[i]));
    return out;
  });
}

// opSchema(id): the op's schema as PyTorch prints it, for messages and docs.
static Napi::Value OpSchema(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), toString(lookup(info.Env(), info[0], "opSchema").handle.schema()));
}

void initDispatchExports(Napi::Env env, Napi::Object exports) {
  exportGuarded(env, exports, "opHandle", OpHandle);
  exportGuarded(env, exports, "call", Call);
  exportGuarded(env, exports, "opSchema", OpSchema);
}

}  // namespace nnlock
