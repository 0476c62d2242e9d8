// Typed reads of a JSON request body for the API mappings. Every failure is an ApiError(400)
// naming the field by its path ("messages[2].content"), the type found and the type expected,
// which is what the SDKs show their users.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace dsv4::gateway {

using Json = nlohmann::ordered_json;

// The body as a JSON object.
Json ParseBody(const std::string& body);

class Fields {
 public:
  Fields(const Json& obj, std::string path);  // obj must be an object (ApiError otherwise)

  // The field, or nullptr when absent or null (both APIs treat null as "not given").
  const Json* Get(const char* key) const;
  std::string Path(const char* key) const;

  std::string Str(const char* key, const std::string& fallback) const;
  std::string RequiredStr(const char* key) const;
  double Number(const char* key, double fallback, double min, double max) const;
  int64_t Int(const char* key, int64_t fallback, int64_t min, int64_t max) const;
  bool Bool(const char* key, bool fallback) const;
  const Json& RequiredArray(const char* key) const;

  [[noreturn]] void Fail(const char* key, const std::string& why) const;

 private:
  const Json& obj_;
  std::string path_;
};

// "object", "array", "string", "number", ... for messages.
const char* TypeName(const Json& j);

}  // namespace dsv4::gateway
