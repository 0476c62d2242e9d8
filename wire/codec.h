// The msgpack layer of the wire: a decoded message map with typed accessors (Message) and a map
// builder (Writer). Every message of wire/client_messages.h and wire/worker_messages.h is read and
// written through these two, so the checks (types, limits, field names in errors) live here once.
#pragma once

#include <msgpack.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "wire/enums.h"

namespace dsv4::protocol {

inline constexpr char kProtocolTag[] = "dsv4";
inline constexpr int64_t kProtocolVersion = 1;

// Elements (array items, map keys and values) one message may hold before it is decoded. Each
// becomes a 24-byte msgpack::object, so a message of one-byte elements would take 24x its size:
// counting first (without allocating) bounds what any message costs. The default fits the
// largest legitimate message (a `done` or a resumed work request with kMaxMaxTokens tokens and
// a full prompt); a router reads client requests with the tighter kMaxRequestElements
// (wire/client_messages.h).
inline constexpr size_t kMaxMessageElements = size_t{1} << 22;

// Thrown by the decoders for a message that breaks the protocol; what() names the problem.
class ProtocolError : public std::runtime_error {
 public:
  ProtocolError(ErrorCode code, const std::string& what) : std::runtime_error(what), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// A decoded message: a msgpack map with typed accessors. Every accessor that fails throws
// ProtocolError(kBadRequest) naming the field, the type found and the type expected.
// Not thread-safe; cheap to copy (shares the decoded buffer).
class Message {
 public:
  // Decodes one message body: must be msgpack, a map, with proto "dsv4", v 1 and a string
  // `kind_key` ("op" from clients, "type" otherwise).
  // More than `max_elements` elements is refused before any allocation, naming the count.
  static Message Decode(const void* data, size_t size, const char* kind_key, size_t max_elements = kMaxMessageElements);

  const std::string& kind() const { return kind_; }
  bool Has(const char* key) const { return Find(key) != nullptr; }
  const msgpack::object* Find(const char* key) const;

  std::string Str(const char* key) const;
  std::string StrOr(const char* key, const std::string& fallback) const;
  int64_t Int(const char* key) const;
  int64_t IntOr(const char* key, int64_t fallback) const;
  uint64_t UintOr(const char* key, uint64_t fallback) const;
  double NumberOr(const char* key, double fallback) const;
  bool BoolOr(const char* key, bool fallback) const;
  std::vector<int32_t> Tokens(const char* key) const;  // non-negative int32 ids
  std::vector<float> Floats(const char* key) const;
  std::vector<std::string> Strings(const char* key) const;
  std::optional<double> OptNumber(const char* key) const;
  bool Bool(const char* key) const;
  double Number(const char* key) const;
  // A nested map (e.g. the `req` of a worker request), checked for nothing but being a map.
  Message Sub(const char* key) const;
  // The maps of an array field (missing = none), each checked for being a map.
  std::vector<Message> SubArray(const char* key) const;

  // An enum by its wire name (wire/enums.h); a name outside the set is refused naming the choices.
  template <typename E>
  E Enum(const char* key) const {
    return ToEnum<E>(key, Str(key));
  }
  template <typename E>
  E EnumOr(const char* key, E fallback) const {
    return Has(key) ? Enum<E>(key) : fallback;
  }

 private:
  template <typename E>
  static E ToEnum(const char* key, const std::string& name) {
    if (auto e = ParseName<E>(name)) return *e;
    throw ProtocolError(ErrorCode::kBadRequest,
                        std::string("field '") + key + "' must be " + NameChoices<E>() + ", got \"" + name + "\"");
  }

  std::shared_ptr<msgpack::object_handle> handle_;
  const msgpack::object* map_ = nullptr;
  std::string kind_;
};

// Builds one message map. Fields are packed as they are added; Finish() prepends the map header
// (so the field count is never written by hand). Movable; not thread-safe.
class Writer {
 public:
  // Starts a message of the given kind; `kind_key` is "op" or "type".
  Writer(const char* kind_key, const std::string& kind);
  // A bare map (no proto tag), for nested values such as the request inside `request`.
  Writer();

  Writer& Field(const char* key, const std::string& v);
  Writer& Field(const char* key, const char* v);
  Writer& Field(const char* key, int64_t v);
  Writer& Field(const char* key, uint64_t v);
  Writer& Field(const char* key, int v) { return Field(key, static_cast<int64_t>(v)); }
  Writer& Field(const char* key, double v);
  Writer& Field(const char* key, bool v);
  Writer& Field(const char* key, const std::vector<int32_t>& v);
  Writer& Field(const char* key, const std::vector<float>& v);
  Writer& Field(const char* key, const std::vector<std::string>& v);
  template <typename E>
  Writer& Enum(const char* key, E e) {
    return Field(key, NameOf(e));
  }
  // A value that is itself an encoded map (the output of another Writer's Finish()).
  Writer& Raw(const char* key, const std::string& packed);
  // An array of encoded maps.
  Writer& RawArray(const char* key, const std::vector<std::string>& packed);

  std::string Finish() const;
  // Appends one already-encoded value (a map from another Writer, an array) under `key`.
  msgpack::packer<msgpack::sbuffer> Value(const char* key) {
    Key(key);
    return Pk();
  }

 private:
  void Key(const char* key);
  msgpack::packer<msgpack::sbuffer> Pk() { return msgpack::packer<msgpack::sbuffer>(body_); }
  msgpack::sbuffer body_;
  uint32_t count_ = 0;
};

}  // namespace dsv4::protocol
