#include "gateway/request_fields.h"

#include <cmath>

#include "gateway/api_error.h"

namespace dsv4::gateway {

const char* TypeName(const Json& j) {
  if (j.is_object()) return "an object";
  if (j.is_array()) return "an array";
  if (j.is_string()) return "a string";
  if (j.is_boolean()) return "a boolean";
  if (j.is_number()) return "a number";
  return "null";
}

Json ParseBody(const std::string& body) {
  Json j;
  try {
    j = Json::parse(body);
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for a number past double's range
    throw ApiError(ErrorKind::kInvalidRequest, std::string("the request body is not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw ApiError(ErrorKind::kInvalidRequest, std::string("the request body must be a JSON object, got ") + TypeName(j));
  return j;
}

Fields::Fields(const Json& obj, std::string path) : obj_(obj), path_(std::move(path)) {
  if (!obj_.is_object()) throw ApiError(ErrorKind::kInvalidRequest, "'" + path_ + "' must be an object, got " + TypeName(obj_), path_);
}

std::string Fields::Path(const char* key) const { return path_.empty() ? key : path_ + "." + key; }

void Fields::Fail(const char* key, const std::string& why) const {
  throw ApiError(ErrorKind::kInvalidRequest, "'" + Path(key) + "' " + why, Path(key));
}

const Json* Fields::Get(const char* key) const {
  const auto it = obj_.find(key);
  if (it == obj_.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string Fields::Str(const char* key, const std::string& fallback) const {
  const Json* v = Get(key);
  if (!v) return fallback;
  if (!v->is_string()) Fail(key, std::string("must be a string, got ") + TypeName(*v));
  return v->get<std::string>();
}

std::string Fields::RequiredStr(const char* key) const {
  if (!Get(key)) Fail(key, "is required");
  return Str(key, "");
}

double Fields::Number(const char* key, double fallback, double min, double max) const {
  const Json* v = Get(key);
  if (!v) return fallback;
  if (!v->is_number()) Fail(key, std::string("must be a number, got ") + TypeName(*v));
  const double d = v->get<double>();
  if (!(d >= min && d <= max)) Fail(key, "must be between " + Json(min).dump() + " and " + Json(max).dump() + ", got " + v->dump());
  return d;
}

int64_t Fields::Int(const char* key, int64_t fallback, int64_t min, int64_t max) const {
  const Json* v = Get(key);
  if (!v) return fallback;
  if (!v->is_number_integer()) Fail(key, std::string("must be an integer, got ") + (v->is_number() ? v->dump() : TypeName(*v)));
  const int64_t i = v->is_number_unsigned() && v->get<uint64_t>() > INT64_MAX ? INT64_MAX : v->get<int64_t>();
  if (i < min || i > max) Fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + v->dump());
  return i;
}

bool Fields::Bool(const char* key, bool fallback) const {
  const Json* v = Get(key);
  if (!v) return fallback;
  if (!v->is_boolean()) Fail(key, std::string("must be a boolean, got ") + TypeName(*v));
  return v->get<bool>();
}

const Json& Fields::RequiredArray(const char* key) const {
  const Json* v = Get(key);
  if (!v) Fail(key, "is required");
  if (!v->is_array()) Fail(key, std::string("must be an array, got ") + TypeName(*v));
  return *v;
}

}  // namespace dsv4::gateway
