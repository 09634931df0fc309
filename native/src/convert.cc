// Conversions between JavaScript values and libtorch values. Op arguments are converted by the
// op's own schema, so one generic entry point can call any ATen op.
#include "common.h"
#include <ATen/core/jit_type.h>
#include <cmath>

namespace nnlock {

static const std::pair<const char*, at::ScalarType> kDtypes[] = {
    {"float32", at::kFloat}, {"float64", at::kDouble}, {"float16", at::kHalf}, {"bfloat16", at::kBFloat16},
    {"int64", at::kLong},    {"int32", at::kInt},      {"int16", at::kShort},  {"int8", at::kChar},
    {"uint8", at::kByte},    {"bool", at::kBool},
};

// Element types libtorch has and nnlock does not compute with, under PyTorch's names. dtype()
// reports them by these names (never as one of the names above) and TypeScript refuses them.
static const std::pair<const char*, at::ScalarType> kForeignDtypes[] = {
    {"complex32", at::kComplexHalf}, {"complex64", at::kComplexFloat}, {"complex128", at::kComplexDouble},
    {"qint8", at::kQInt8},           {"quint8", at::kQUInt8},          {"qint32", at::kQInt32},
    {"quint4x2", at::kQUInt4x2},
};

at::ScalarType parseDtype(const std::string& name) {
  for (const auto& [n, t] : kDtypes)
    if (name == n) return t;
  throw std::invalid_argument("unknown dtype '" + name + "' (expected float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8 or bool)");
}

std::string dtypeName(at::ScalarType type) {
  for (const auto& [n, t] : kDtypes)
    if (type == t) return n;
  for (const auto& [n, t] : kForeignDtypes)
    if (type == t) return n;
  return std::string("unsupported:") + c10::toString(type);
}

static std::string where(const c10::Argument& arg) { return "argument '" + arg.name() + "'"; }

// A BigInt as int64, or a RangeError: napi's Int64Value wraps modulo 2^64 (2n**64n + 3n would be 3).
static int64_t bigIntToInt64(const Napi::Value& v, const c10::Argument& arg) {
  bool lossless = false;
  int64_t out = v.As<Napi::BigInt>().Int64Value(&lossless);
  if (!lossless) throw RangeFailure(where(arg) + ": BigInt does not fit in int64");
  return out;
}

static int64_t toInt(const Napi::Value& v, const c10::Argument& arg) {
  if (v.IsBigInt()) return bigIntToInt64(v, arg);
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1 : 0;
  if (!v.IsNumber()) throw std::invalid_argument(where(arg) + " must be an integer");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::trunc(d)) throw std::invalid_argument(where(arg) + " must be an integer, got " + std::to_string(d));
  // Casting a double outside [-2^63, 2^63) to int64 is undefined behaviour.
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) throw RangeFailure(where(arg) + ": " + std::to_string(d) + " does not fit in int64");
  return static_cast<int64_t>(d);
}

static double toDouble(const Napi::Value& v, const c10::Argument& arg) {
  if (!v.IsNumber()) throw std::invalid_argument(where(arg) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

// A JavaScript number becomes an integral Scalar when it has no fractional part, as a Python int
// literal would; booleans become boolean Scalars.
static c10::Scalar toScalar(const Napi::Value& v, const c10::Argument& arg) {
  if (v.IsBoolean()) return c10::Scalar(v.As<Napi::Boolean>().Value());
  if (v.IsBigInt()) return c10::Scalar(bigIntToInt64(v, arg));
  if (!v.IsNumber()) throw std::invalid_argument(where(arg) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 9007199254740992.0) return c10::Scalar(static_cast<int64_t>(d));
  return c10::Scalar(d);
}

static c10::MemoryFormat parseMemoryFormat(const std::string& s) {
  if (s == "contiguous") return c10::MemoryFormat::Contiguous;
  if (s == "preserve") return c10::MemoryFormat::Preserve;
  if (s == "channels_last") return c10::MemoryFormat::ChannelsLast;
  throw std::invalid_argument("unknown memory format '" + s + "'");
}

static c10::IValue convert(Napi::Env env, const Napi::Value& v, const c10::TypePtr& type, const c10::TypePtr& real,
                           const c10::Argument& arg);

// A tensor argument; the error message is only built when the value is not a live handle.
static const at::Tensor& tensorArg(Napi::Env env, const Napi::Value& v, const c10::Argument& arg) {
  if (at::Tensor* t = handleTensor(env, v)) return *t;
  return unwrapTensor(env, v, ("argument '" + arg.name() + "'").c_str());  // throws the right error
}

static c10::IValue convertList(Napi::Env env, const Napi::Value& v, const c10::ListTypePtr& list, const c10::TypePtr& realType,
                               const c10::Argument& arg) {
  const c10::TypePtr& elem = list->getElementType();
  c10::TypeKind kind = elem->kind();
  // int[2] stride=1: a single number stands for N copies, as in PyTorch.
  if (!v.IsArray()) {
    if ((kind == c10::TypeKind::IntType || kind == c10::TypeKind::SymIntType) && (v.IsNumber() || v.IsBigInt()) && arg.N()) {
      return c10::IValue(std::vector<int64_t>(static_cast<size_t>(*arg.N()), toInt(v, arg)));
    }
    throw std::invalid_argument(where(arg) + " must be an array");
  }
  auto arr = v.As<Napi::Array>();
  uint32_t n = arr.Length();
  switch (kind) {
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType: {
      std::vector<int64_t> out(n);
      for (uint32_t i = 0; i < n; i++) out[i] = toInt(arr.Get(i), arg);
      return c10::IValue(out);
    }
    case c10::TypeKind::FloatType: {
      std::vector<double> out(n);
      for (uint32_t i = 0; i < n; i++) out[i] = toDouble(arr.Get(i), arg);
      return c10::IValue(out);
    }
    case c10::TypeKind::BoolType: {
      c10::List<bool> out;
      for (uint32_t i = 0; i < n; i++) out.push_back(arr.Get(i).ToBoolean().Value());
      return c10::IValue(out);
    }
    case c10::TypeKind::TensorType: {
      std::vector<at::Tensor> out;
      out.reserve(n);
      for (uint32_t i = 0; i < n; i++) out.push_back(tensorArg(env, arr.Get(i), arg));
      return c10::IValue(out);
    }
    case c10::TypeKind::OptionalType: {
      if (elem->castRaw<c10::OptionalType>()->getElementType()->kind() == c10::TypeKind::TensorType) {
        c10::List<c10::optional<at::Tensor>> out;
        for (uint32_t i = 0; i < n; i++) {
          Napi::Value e = arr.Get(i);
          if (e.IsNull() || e.IsUndefined()) out.push_back(c10::nullopt);
          else out.push_back(tensorArg(env, e, arg));
        }
        return c10::IValue(out);
      }
      break;
    }
    default:
      break;
  }
  throw std::invalid_argument(where(arg) + ": list of " + elem->str() + " is not supported by nnlock's converter");
}

static c10::IValue convert(Napi::Env env, const Napi::Value& v, const c10::TypePtr& type, const c10::TypePtr& real,
                           const c10::Argument& arg) {
  switch (type->kind()) {
    case c10::TypeKind::TensorType:
      return tensorArg(env, v, arg);
    case c10::TypeKind::OptionalType: {
      if (v.IsNull() || v.IsUndefined()) return c10::IValue();
      const c10::TypePtr& realElem =
          real->kind() == c10::TypeKind::OptionalType ? real->castRaw<c10::OptionalType>()->getElementType() : real;
      return convert(env, v, type->castRaw<c10::OptionalType>()->getElementType(), realElem, arg);
    }
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
      if (v.IsString()) {
        std::string s = v.As<Napi::String>().Utf8Value();
        switch (real->kind()) {
          case c10::TypeKind::ScalarTypeType: return c10::IValue(static_cast<int64_t>(parseDtype(s)));
          case c10::TypeKind::MemoryFormatType: return c10::IValue(static_cast<int64_t>(parseMemoryFormat(s)));
          case c10::TypeKind::LayoutType:
            if (s == "strided") return c10::IValue(static_cast<int64_t>(c10::kStrided));
            throw std::invalid_argument(where(arg) + ": only the 'strided' layout is supported");
          default: throw std::invalid_argument(where(arg) + " must be an integer, got a string");
        }
      }
      return c10::IValue(toInt(v, arg));
    case c10::TypeKind::FloatType:
      return c10::IValue(toDouble(v, arg));
    case c10::TypeKind::BoolType:
      if (!v.IsBoolean()) throw std::invalid_argument(where(arg) + " must be a boolean");
      return c10::IValue(v.As<Napi::Boolean>().Value());
    case c10::TypeKind::NumberType:
      return c10::IValue(toScalar(v, arg));
    case c10::TypeKind::StringType:
      if (!v.IsString()) throw std::invalid_argument(where(arg) + " must be a string");
      return c10::IValue(v.As<Napi::String>().Utf8Value());
    case c10::TypeKind::DeviceObjType:
      if (!v.IsString()) throw std::invalid_argument(where(arg) + " must be a device string such as 'cpu' or 'cuda:0'");
      return c10::IValue(c10::Device(v.As<Napi::String>().Utf8Value()));
    case c10::TypeKind::ListType:
      return convertList(env, v, type->cast<c10::ListType>(), real, arg);
    default:
      throw std::invalid_argument(where(arg) + ": type " + type->str() + " is not supported by nnlock's converter");
  }
}

c10::IValue toIValue(Napi::Env env, const Napi::Value& value, const c10::Argument& arg) {
  return convert(env, value, arg.type(), arg.real_type(), arg);
}

// An int64 result as a Number when it is exact (|v| <= 2^53), else as a BigInt: never rounded.
static Napi::Value fromInt64(Napi::Env env, int64_t v) {
  constexpr int64_t kExact = int64_t{1} << 53;
  if (v >= -kExact && v <= kExact) return Napi::Number::New(env, static_cast<double>(v));
  return Napi::BigInt::New(env, v);
}

Napi::Value fromIValue(Napi::Env env, const c10::IValue& v) {
  if (v.isTensor()) {
    const at::Tensor& t = v.toTensor();
    if (!t.defined()) return env.Null();
    return wrapTensor(env, t);
  }
  if (v.isNone()) return env.Null();
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isInt()) return fromInt64(env, v.toInt());
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  if (v.isTensorList()) {
    auto list = v.toTensorList();
    auto arr = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) arr.Set(static_cast<uint32_t>(i), fromIValue(env, c10::IValue(list.get(i))));
    return arr;
  }
  if (v.isList()) {
    auto list = v.toListRef();
    auto arr = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) arr.Set(static_cast<uint32_t>(i), fromIValue(env, list[i]));
    return arr;
  }
  if (v.isTuple()) {
    const auto& elems = v.toTupleRef().elements();
    auto arr = Napi::Array::New(env, elems.size());
    for (size_t i = 0; i < elems.size(); i++) arr.Set(static_cast<uint32_t>(i), fromIValue(env, elems[i]));
    return arr;
  }
  if (v.isScalar()) {
    c10::Scalar s = v.toScalar();
    if (s.isIntegral(false)) return fromInt64(env, s.toLong());
    return Napi::Number::New(env, s.toDouble());
  }
  throw std::invalid_argument("return value of type " + v.tagKind() + " is not supported by nnlock's converter");
}

}  // namespace nnlock
