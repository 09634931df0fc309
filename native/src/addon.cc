// Module entry: one AddonData per environment so the addon works in worker threads.
#include "common.h"

namespace nnlock {

AddonData& addonData(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);  // deleted by Node when the environment goes away
  initHandleExports(env, exports);
  initDispatchExports(env, exports);
  initRuntimeExports(env, exports);
  initJitExports(env, exports);
  initC10dExports(env, exports);
  return exports;
}

}  // namespace nnlock

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return nnlock::Init(env, exports); }

NODE_API_MODULE(nnlock, InitAddon)
