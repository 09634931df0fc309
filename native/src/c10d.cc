// libtorch's c10d (the engine under PyTorch's DistributedDataParallel), bound as thinly as the ops:
// a TCPStore rendezvous, a Gloo process group, in-place asynchronous all-reduce and broadcast (a
// Work object with a wait), barrier, and c10d's own Reducer (bucketed gradient all-reduce launched
// from autograd hooks, so communication overlaps the rest of the backward pass). Nothing here is
// a home-made collective: every byte moves through c10d and Gloo.
//
// Objects are type-tagged JavaScript objects wrapping a heap box, like tensor handles: a store, a
// group, a work and a reducer each have their own tag, so a wrong object is a TypeError, never a
// bad cast. A broken peer (a process that died, a timeout) surfaces as the std::exception Gloo or
// c10d throws, turned into a JavaScript Error by guarded() — never a hang past the timeout and
// never an abort.
//
// Build variants (native/find-libtorch.mjs decides, `nnlock setup` reports which):
//   NNLOCK_WITH_NCCL  a CUDA libtorch with c10d's NCCL group and its headers: backend 'nccl' works.
//   NNLOCK_NO_C10D    NNLOCK_C10D=0: none of this is compiled; every export throws, saying so.
// libtorch 1.x's groups are ProcessGroups; from 2.0 on, Gloo and NCCL are Backends that a
// ProcessGroup dispatches to by device (makeGroup below builds one the way torch.distributed does).
#include "common.h"
#ifndef NNLOCK_NO_C10D
#include <chrono>
// libtorch's c10d headers declare the Gloo group only when told the library was built with it
// (Debian's is: its symbols are in libtorch_cpu.so, and the gloo headers come with libgloo-dev).
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <cmath>
#include <type_traits>
#include <torch/csrc/api/include/torch/version.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/comm.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>
#ifdef NNLOCK_WITH_NCCL
#include <torch/csrc/api/include/torch/cuda.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#endif  // NNLOCK_NO_C10D

namespace nnlock {

#ifndef NNLOCK_NO_C10D
namespace {

struct StoreBox {
  c10::intrusive_ptr<c10d::Store> store;
};
struct GroupBox {
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  std::string backend;
};
struct WorkBox {
  c10::intrusive_ptr<c10d::Work> work;
};
struct ReducerBox {
  std::shared_ptr<c10d::Reducer> reducer;
};

const napi_type_tag kStoreTag = {0x6e6e6c6f636b2d63ULL, 0x3130642d73746f72ULL};    // "nnlock-c10d-stor"
const napi_type_tag kGroupTag = {0x6e6e6c6f636b2d63ULL, 0x3130642d67726f75ULL};    // "nnlock-c10d-grou"
const napi_type_tag kWorkTag = {0x6e6e6c6f636b2d63ULL, 0x3130642d776f726bULL};     // "nnlock-c10d-work"
const napi_type_tag kReducerTag = {0x6e6e6c6f636b2d63ULL, 0x3130642d72656475ULL};  // "nnlock-c10d-redu"

// The Reducer's destructor is noexcept(false) (it unhooks autograd); a finalizer must not throw.
template <typename Box>
void deleteQuietly(Box* box) {
  try {
    delete box;
  } catch (...) {
  }
}

template <typename Box>
void finalize(napi_env /*env*/, void* data, void* /*hint*/) {
  deleteQuietly(static_cast<Box*>(data));
}

template <typename Box>
Napi::Object wrapBox(Napi::Env env, Box* box, const napi_type_tag* tag) {
  Napi::Object obj = Napi::Object::New(env);
  if (napi_type_tag_object(env, obj, tag) != napi_ok || napi_wrap(env, obj, box, finalize<Box>, nullptr, nullptr) != napi_ok) {
    deleteQuietly(box);
    throw std::runtime_error("could not create the object");
  }
  return obj;
}

// The live box behind `value`: a TypeError for anything else, an Error once destroyed.
template <typename Box>
Box* unwrapBox(Napi::Env env, const Napi::Value& value, const napi_type_tag* tag, const char* what) {
  bool tagged = false;
  if (!value.IsObject() || napi_check_object_type_tag(env, value, tag, &tagged) != napi_ok || !tagged)
    throw TypeFailure(std::string("expected a ") + what);
  void* ptr = nullptr;
  if (napi_unwrap(env, value, &ptr) != napi_ok || ptr == nullptr) throw std::invalid_argument(std::string("the ") + what + " was destroyed");
  return static_cast<Box*>(ptr);
}

// Removes the wrap and frees the box now (destroy): later use is a clear error, and no finalizer
// stays pending.
template <typename Box>
void destroyBox(Napi::Env env, const Napi::Value& value, const napi_type_tag* tag, const char* what) {
  bool tagged = false;
  if (!value.IsObject() || napi_check_object_type_tag(env, value, tag, &tagged) != napi_ok || !tagged)
    throw TypeFailure(std::string("expected a ") + what);
  void* ptr = nullptr;
  if (napi_remove_wrap(env, value, &ptr) != napi_ok || ptr == nullptr) return;  // already destroyed
  Box* box = static_cast<Box*>(ptr);
  std::unique_ptr<Box> owned(box);
  owned.reset();  // may throw (the Reducer): guarded() makes it an Error
}

std::string stringArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString()) throw std::invalid_argument(std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

// An integer argument in [lo, hi].
int64_t intArg(const Napi::CallbackInfo& info, size_t i, const char* what, double lo, double hi) {
  if (info.Length() <= i || !info[i].IsNumber()) throw std::invalid_argument(std::string(what) + " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d == std::trunc(d))) throw std::invalid_argument(std::string(what) + " must be an integer");
  if (!(d >= lo && d <= hi)) throw RangeFailure(std::string(what) + " must be between " + c10::str(static_cast<int64_t>(lo)) + " and " + c10::str(static_cast<int64_t>(hi)));
  return static_cast<int64_t>(d);
}

std::chrono::milliseconds timeoutArg(const Napi::CallbackInfo& info, size_t i) {
  // At most 30 days: far beyond any job, far below chrono overflow.
  return std::chrono::milliseconds(intArg(info, i, "timeout (ms)", 1, 30.0 * 24 * 3600 * 1000));
}

// Dense, contiguous tensors on one device: what Gloo's collectives take.
std::vector<at::Tensor> tensorsArg(Napi::Env env, const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsArray()) throw std::invalid_argument(std::string(what) + " must be an array of tensors");
  Napi::Array arr = info[i].As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); k++) {
    at::Tensor t = unwrapTensor(env, arr.Get(k), what);
    if (t.layout() != at::kStrided) throw std::invalid_argument(std::string(what) + ": only dense tensors can be communicated");
    if (!t.is_contiguous()) throw std::invalid_argument(std::string(what) + ": tensors must be contiguous (communication is in place)");
    if (t.is_meta()) throw std::invalid_argument(std::string(what) + ": a meta tensor has no data to communicate");
    out.push_back(std::move(t));
  }
  if (out.empty()) throw std::invalid_argument(std::string(what) + " must hold at least one tensor");
  return out;
}

c10d::ReduceOp reduceOpArg(const Napi::CallbackInfo& info, size_t i) {
  std::string name = stringArg(info, i, "reduce op");
  if (name == "sum") return c10d::ReduceOp(c10d::ReduceOp::SUM);
  if (name == "product") return c10d::ReduceOp(c10d::ReduceOp::PRODUCT);
  if (name == "min") return c10d::ReduceOp(c10d::ReduceOp::MIN);
  if (name == "max") return c10d::ReduceOp(c10d::ReduceOp::MAX);
  throw std::invalid_argument("reduce op must be one of sum, product, min, max (got '" + name + "')");
}

c10d::ProcessGroup& groupOf(Napi::Env env, const Napi::Value& v) { return *unwrapBox<GroupBox>(env, v, &kGroupTag, "process group")->group; }

// c10dTcpStore(host, port, worldSize, isServer, timeoutMs) → store. The server (rank 0) listens
// on port (0: any free port, see c10dStorePort) and waits for worldSize - 1 clients; a client
// connects, retrying until the timeout.
Napi::Value TcpStore(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string host = stringArg(info, 0, "host");
  if (host.empty()) throw std::invalid_argument("host must not be empty");
  c10d::TCPStoreOptions opts;
  opts.port = static_cast<std::uint16_t>(intArg(info, 1, "port", 0, 65535));
  int64_t world = intArg(info, 2, "world size", 1, 65536);
  if (info.Length() <= 3 || !info[3].IsBoolean()) throw std::invalid_argument("isServer must be a boolean");
  opts.isServer = info[3].As<Napi::Boolean>().Value();
  opts.numWorkers = static_cast<std::size_t>(world);
  opts.waitWorkers = false;  // the process group's own rendezvous waits for every rank
  opts.timeout = timeoutArg(info, 4);
  auto* box = new StoreBox{c10::make_intrusive<c10d::TCPStore>(host, opts)};
  return wrapBox(env, box, &kStoreTag);
}

// c10dStorePort(store): the port the store listens on or connects to.
Napi::Value StorePort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* box = unwrapBox<StoreBox>(env, info[0], &kStoreTag, "store");
  auto* tcp = dynamic_cast<c10d::TCPStore*>(box->store.get());
  if (tcp == nullptr) throw std::invalid_argument("not a TCP store");
  return Napi::Number::New(env, tcp->getPort());
}

// c10dStoreSet(store, key, value: string) and c10dStoreGet(store, key) → string (waits for the
// key up to the store's timeout). Small facts agreed between ranks (a checkpoint path, a seed).
Napi::Value StoreSet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* box = unwrapBox<StoreBox>(env, info[0], &kStoreTag, "store");
  std::string key = stringArg(info, 1, "key");
  std::string value = stringArg(info, 2, "value");
  box->store->set(key, std::vector<uint8_t>(value.begin(), value.end()));
  return env.Undefined();
}

Napi::Value StoreGet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* box = unwrapBox<StoreBox>(env, info[0], &kStoreTag, "store");
  std::string key = stringArg(info, 1, "key");
  std::vector<uint8_t> value = box->store->get(key);
  return Napi::String::New(env, std::string(value.begin(), value.end()));
}

Napi::Value DestroyStore(const Napi::CallbackInfo& info) {
  destroyBox<StoreBox>(info.Env(), info[0], &kStoreTag, "store");
  return info.Env().Undefined();
}

#if TORCH_VERSION_MAJOR >= 2
// A ProcessGroup over one backend for the given device types, as torch.distributed's new_group
// builds it. Templates, so that the constructor this libtorch has is the one compiled: (store,
// rank, size, Options) up to 2.5, (store, rank, size) after.
template <typename PG>
c10::intrusive_ptr<PG> groupOver(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size, const std::string& name, std::chrono::milliseconds timeout) {
  if constexpr (std::is_constructible_v<PG, c10::intrusive_ptr<c10d::Store>, int, int>) {
    (void)name;
    (void)timeout;
    return c10::make_intrusive<PG>(store, rank, size);
  } else {
    return c10::make_intrusive<PG>(store, rank, size, c10::make_intrusive<typename PG::Options>(name, timeout));
  }
}

template <typename PG, typename = void>
struct HasSetDefaultBackend : std::false_type {};
template <typename PG>
struct HasSetDefaultBackend<PG, std::void_t<decltype(std::declval<PG&>().setDefaultBackend(std::declval<typename PG::BackendType>()))>> : std::true_type {};

template <typename PG, typename B>
c10::intrusive_ptr<c10d::ProcessGroup> makeGroup(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size, const std::string& name, std::chrono::milliseconds timeout,
                                                 const c10::intrusive_ptr<B>& backend, typename PG::BackendType type, const std::vector<c10::DeviceType>& devices) {
  auto group = groupOver<PG>(store, rank, size, name, timeout);
  for (auto device : devices) group->setBackend(device, type, backend);
  if constexpr (HasSetDefaultBackend<PG>::value) group->setDefaultBackend(type);
  return group;
}
#endif

// The Gloo group (CPU tensors; CUDA ones too where libtorch's Gloo was built with CUDA).
c10::intrusive_ptr<c10d::ProcessGroup> glooGroup(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size, std::chrono::milliseconds timeout, const std::string& hostname) {
  auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
  const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
  if (!hostname.empty())
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(hostname));
  else if (ifname != nullptr && *ifname != '\0')
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
  else
    opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  opts->threads = 2;
  auto gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, opts);
#if TORCH_VERSION_MAJOR >= 2
  std::vector<c10::DeviceType> devices = {c10::DeviceType::CPU};
  if (at::hasCUDA()) devices.push_back(c10::DeviceType::CUDA);
  return makeGroup<c10d::ProcessGroup>(store, rank, size, "gloo", timeout, gloo, c10d::ProcessGroup::BackendType::GLOO, devices);
#else
  return gloo;
#endif
}

// The NCCL group (CUDA tensors only), where this addon was built with it; else a clear refusal.
c10::intrusive_ptr<c10d::ProcessGroup> ncclGroup(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size, std::chrono::milliseconds timeout) {
#ifdef NNLOCK_WITH_NCCL
  if (torch::cuda::device_count() == 0) throw std::invalid_argument("backend 'nccl' needs a GPU, and this process sees none (use 'gloo')");
  auto opts = c10d::ProcessGroupNCCL::Options::create();
  opts->timeout = timeout;
  auto nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, opts);
#if TORCH_VERSION_MAJOR >= 2
  return makeGroup<c10d::ProcessGroup>(store, rank, size, "nccl", timeout, nccl, c10d::ProcessGroup::BackendType::NCCL, {c10::DeviceType::CUDA});
#else
  return nccl;
#endif
#else
  (void)store;
  (void)rank;
  (void)size;
  (void)timeout;
  throw std::invalid_argument(
      "backend 'nccl' is not available: this addon was built without c10d's NCCL group (a CPU-only libtorch, or one without NCCL headers: see `nnlock setup`); use 'gloo'");
#endif
}

// c10dProcessGroup(store, rank, worldSize, backend, timeoutMs, hostname) → group. Blocks until every
// rank has joined (Gloo's rendezvous through the store) or the timeout passes. hostname names the
// address this rank's Gloo device binds ('' : the interface in GLOO_SOCKET_IFNAME, else the one
// this machine's hostname resolves to, as PyTorch does).
Napi::Value ProcessGroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* store = unwrapBox<StoreBox>(env, info[0], &kStoreTag, "store");
  int64_t size = intArg(info, 2, "world size", 1, 65536);
  int64_t rank = intArg(info, 1, "rank", 0, 65535);
  if (rank >= size) throw RangeFailure("rank " + c10::str(rank) + " is not below the world size " + c10::str(size));
  std::string backend = stringArg(info, 3, "backend");
  auto timeout = timeoutArg(info, 4);
  std::string hostname = stringArg(info, 5, "hostname");
  if (backend != "gloo" && backend != "nccl") throw std::invalid_argument("backend must be 'gloo' or 'nccl' (got '" + backend + "')");
  auto group = backend == "nccl" ? ncclGroup(store->store, static_cast<int>(rank), static_cast<int>(size), timeout)
                                 : glooGroup(store->store, static_cast<int>(rank), static_cast<int>(size), timeout, hostname);
  auto* box = new GroupBox{group, backend};
  return wrapBox(env, box, &kGroupTag);
}

// c10dGroupInfo(group) → {rank, size, backend}
Napi::Value GroupInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* box = unwrapBox<GroupBox>(env, info[0], &kGroupTag, "process group");
  Napi::Object o = Napi::Object::New(env);
  o.Set("rank", box->group->getRank());
  o.Set("size", box->group->getSize());
  o.Set("backend", box->backend);
  return o;
}

// c10dAllReduce(group, tensors, op) → work: every tensor reduced in place across the ranks.
Napi::Value AllReduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  c10d::ProcessGroup& group = groupOf(env, info[0]);
  std::vector<at::Tensor> tensors = tensorsArg(env, info, 1, "c10dAllReduce");
  c10d::AllreduceOptions opts;
  opts.reduceOp = reduceOpArg(info, 2);
  return wrapBox(env, new WorkBox{group.allreduce(tensors, opts)}, &kWorkTag);
}

// c10dAllReduceCoalesced(group, tensors, op) → work: one flattened all-reduce for many tensors.
Napi::Value AllReduceCoalesced(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  c10d::ProcessGroup& group = groupOf(env, info[0]);
  std::vector<at::Tensor> tensors = tensorsArg(env, info, 1, "c10dAllReduceCoalesced");
  c10d::AllreduceCoalescedOptions opts;
  opts.reduceOp = reduceOpArg(info, 2);
  return wrapBox(env, new WorkBox{group.allreduce_coalesced(tensors, opts)}, &kWorkTag);
}

// c10dBroadcast(group, tensors, root) → work: root's tensors copied into everyone's, in place.
Napi::Value Broadcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  c10d::ProcessGroup& group = groupOf(env, info[0]);
  std::vector<at::Tensor> tensors = tensorsArg(env, info, 1, "c10dBroadcast");
  c10d::BroadcastOptions opts;
  opts.rootRank = intArg(info, 2, "root rank", 0, group.getSize() - 1);
  // Gloo broadcasts one tensor per call; many go through c10dBroadcastCoalesced.
  if (tensors.size() != 1) throw std::invalid_argument("c10dBroadcast takes one tensor (c10dBroadcastCoalesced takes many)");
  return wrapBox(env, new WorkBox{group.broadcast(tensors, opts)}, &kWorkTag);
}

// c10dBroadcastCoalesced(group, tensors, bufferBytes, root): c10d's broadcast_coalesced, as DDP
// uses it to copy rank 0's parameters and buffers to every rank (flattened into buffers of at most
// bufferBytes). Synchronous.
Napi::Value BroadcastCoalesced(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* box = unwrapBox<GroupBox>(env, info[0], &kGroupTag, "process group");
  std::vector<at::Tensor> tensors = tensorsArg(env, info, 1, "c10dBroadcastCoalesced");
  int64_t bytes = intArg(info, 2, "buffer bytes", 1, 9007199254740991.0);
  int64_t root = intArg(info, 3, "root rank", 0, box->group->getSize() - 1);
  at::NoGradGuard noGrad;  // parameters are leaves that require grad: copied into without autograd
  c10d::broadcast_coalesced(box->group, tensors, static_cast<size_t>(bytes), static_cast<int>(root));
  return env.Undefined();
}

// c10dBarrier(group) → work
Napi::Value Barrier(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  c10d::ProcessGroup& group = groupOf(env, info[0]);
  return wrapBox(env, new WorkBox{group.barrier()}, &kWorkTag);
}

Napi::Value DestroyGroup(const Napi::CallbackInfo& info) {
  destroyBox<GroupBox>(info.Env(), info[0], &kGroupTag, "process group");
  return info.Env().Undefined();
}

// c10dWait(work, timeoutMs | 0): blocks until the work is done; throws its error (a dead peer, a
// timeout). 0 waits up to the group's own timeout.
Napi::Value Wait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* box = unwrapBox<WorkBox>(env, info[0], &kWorkTag, "work");
  int64_t ms = intArg(info, 1, "timeout (ms)", 0, 30.0 * 24 * 3600 * 1000);
  if (ms == 0)
    box->work->wait();
  else
    box->work->wait(std::chrono::milliseconds(ms));
  return env.Undefined();
}

// c10dIsCompleted(work): whether it has finished (successfully or not), without waiting.
Napi::Value IsCompleted(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::Boolean::New(env, unwrapBox<WorkBox>(env, info[0], &kWorkTag, "work")->work->isCompleted());
}

// c10dReducer(group, params, bucketBytes, firstBucketBytes) → reducer. c10d's Reducer, set up as
// PyTorch's DistributedDataParallel sets it up: buckets assigned by size over the parameters
// (a small first bucket, so communication starts early), in reverse order (gradients become
// ready from the last layer back), all-reduce launched by autograd hooks as each bucket fills,
// gradients averaged over the world size, written back into each parameter's .grad.
Napi::Value Reducer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* group = unwrapBox<GroupBox>(env, info[0], &kGroupTag, "process group");
  std::vector<at::Tensor> params = tensorsArg(env, info, 1, "c10dReducer");
  for (const auto& p : params)
    if (!p.requires_grad()) throw std::invalid_argument("c10dReducer: every parameter must require grad");
  int64_t bucketBytes = intArg(info, 2, "bucket bytes", 1, 9007199254740991.0);
  int64_t firstBucketBytes = intArg(info, 3, "first bucket bytes", 1, 9007199254740991.0);
  std::vector<bool> sparse(params.size(), false);
  std::vector<size_t> limits = {static_cast<size_t>(firstBucketBytes), static_cast<size_t>(bucketBytes)};
  auto assigned = c10d::compute_bucket_assignment_by_size(params, limits, sparse, {}, {});
  std::vector<std::vector<size_t>> buckets(std::get<0>(assigned).rbegin(), std::get<0>(assigned).rend());
  std::vector<size_t> perBucket(std::get<1>(assigned).rbegin(), std::get<1>(assigned).rend());
  auto reducer = std::make_shared<c10d::Reducer>(params, buckets, perBucket, group->group, sparse, bucketBytes, /*find_unused_parameters=*/false,
                                                 /*gradient_as_bucket_view=*/false, std::unordered_map<size_t, std::string>{}, firstBucketBytes);
  return wrapBox(env, new ReducerBox{reducer}, &kReducerTag);
}

// c10dReducerPrepare(reducer): before each forward whose backward must be reduced (DDP's
// forward(): rebuild buckets once in gradient-ready order, then prepare_for_forward and
// prepare_for_backward). Returns whether the buckets were rebuilt.
Napi::Value ReducerPrepare(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& reducer = *unwrapBox<ReducerBox>(env, info[0], &kReducerTag, "reducer")->reducer;
  bool rebuilt = reducer.rebuild_buckets();
  reducer.prepare_for_forward();
  reducer.prepare_for_backward({});
  return Napi::Boolean::New(env, rebuilt);
}

// c10dReducerBuckets(reducer) → number of buckets (their sizes are c10d's business).
Napi::Value ReducerBuckets(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& reducer = *unwrapBox<ReducerBox>(env, info[0], &kReducerTag, "reducer")->reducer;
  return Napi::Number::New(env, static_cast<double>(reducer.get_grad_buckets(true).size()));
}

Napi::Value DestroyReducer(const Napi::CallbackInfo& info) {
  destroyBox<ReducerBox>(info.Env(), info[0], &kReducerTag, "reducer");
  return info.Env().Undefined();
}

}  // namespace
#endif  // NNLOCK_NO_C10D

#ifdef NNLOCK_NO_C10D
// Left out of this build (NNLOCK_C10D=0): the same exports, each refusing with the reason.
static Napi::Value NoC10d(const Napi::CallbackInfo& info) {
  (void)info;
  throw std::runtime_error("this addon was built without libtorch's c10d (NNLOCK_C10D=0): rebuild it with `nnlock setup --force` to run data-parallel");
}
#define TcpStore NoC10d
#define StorePort NoC10d
#define StoreSet NoC10d
#define StoreGet NoC10d
#define DestroyStore NoC10d
#define ProcessGroup NoC10d
#define GroupInfo NoC10d
#define AllReduce NoC10d
#define AllReduceCoalesced NoC10d
#define Broadcast NoC10d
#define BroadcastCoalesced NoC10d
#define Barrier NoC10d
#define DestroyGroup NoC10d
#define Wait NoC10d
#define IsCompleted NoC10d
#define Reducer NoC10d
#define ReducerPrepare NoC10d
#define ReducerBuckets NoC10d
#define DestroyReducer NoC10d
#endif

void initC10dExports(Napi::Env env, Napi::Object exports) {
  exportGuarded(env, exports, "c10dTcpStore", TcpStore);
  exportGuarded(env, exports, "c10dStorePort", StorePort);
  exportGuarded(env, exports, "c10dStoreSet", StoreSet);
  exportGuarded(env, exports, "c10dStoreGet", StoreGet);
  exportGuarded(env, exports, "c10dDestroyStore", DestroyStore);
  exportGuarded(env, exports, "c10dProcessGroup", ProcessGroup);
  exportGuarded(env, exports, "c10dGroupInfo", GroupInfo);
  exportGuarded(env, exports, "c10dAllReduce", AllReduce);
  exportGuarded(env, exports, "c10dAllReduceCoalesced", AllReduceCoalesced);
  exportGuarded(env, exports, "c10dBroadcast", Broadcast);
  exportGuarded(env, exports, "c10dBroadcastCoalesced", BroadcastCoalesced);
  exportGuarded(env, exports, "c10dBarrier", Barrier);
  exportGuarded(env, exports, "c10dDestroyGroup", DestroyGroup);
  exportGuarded(env, exports, "c10dWait", Wait);
  exportGuarded(env, exports, "c10dIsCompleted", IsCompleted);
  exportGuarded(env, exports, "c10dReducer", Reducer);
  exportGuarded(env, exports, "c10dReducerPrepare", ReducerPrepare);
  exportGuarded(env, exports, "c10dReducerBuckets", ReducerBuckets);
  exportGuarded(env, exports, "c10dDestroyReducer", DestroyReducer);
}

}  // namespace nnlock
