#include "wire/codec.h"

#include <cmath>
#include <limits>

namespace dsv4::protocol {

namespace {

const char* TypeName(msgpack::type::object_type t) {
  switch (t) {
    case msgpack::type::NIL: return "nil";
    case msgpack::type::BOOLEAN: return "bool";
    case msgpack::type::POSITIVE_INTEGER: return "integer";
    case msgpack::type::NEGATIVE_INTEGER: return "negative integer";
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: return "float";
    case msgpack::type::STR: return "string";
    case msgpack::type::BIN: return "binary";
    case msgpack::type::ARRAY: return "array";
    case msgpack::type::MAP: return "map";
    case msgpack::type::EXT: return "ext";
  }
  return "unknown";
}

[[noreturn]] void Bad(const std::string& what) { throw ProtocolError(ErrorCode::kBadRequest, what); }

// Counts the elements arrays and maps announce, stopping the parse (without allocating) as soon
// as they pass the limit. An array announces its length before its items, so a hostile header
// costs nothing.
struct ElementCounter : msgpack::null_visitor {
  size_t limit = 0;
  size_t count = 0;
  bool over = false;
  bool Add(uint64_t n) {
    count += n;
    over = count > limit;
    return !over;
  }
  bool start_array(uint32_t n) { return Add(n); }
  bool start_map(uint32_t n) { return Add(uint64_t{2} * n); }
};

[[noreturn]] void WrongType(const char* key, const msgpack::object& o, const char* expected) {
  Bad(std::string("field '") + key + "' must be " + expected + ", got " + TypeName(o.type));
}

bool IsInt(const msgpack::object& o) {
  return o.type == msgpack::type::POSITIVE_INTEGER || o.type == msgpack::type::NEGATIVE_INTEGER;
}

int64_t AsInt(const char* key, const msgpack::object& o) {
  if (o.type == msgpack::type::POSITIVE_INTEGER) {
    if (o.via.u64 > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      Bad(std::string("field '") + key + "' is out of range");
    return static_cast<int64_t>(o.via.u64);
  }
  if (o.type == msgpack::type::NEGATIVE_INTEGER) return o.via.i64;
  WrongType(key, o, "an integer");
}

double AsNumber(const char* key, const msgpack::object& o) {
  if (o.type == msgpack::type::FLOAT32 || o.type == msgpack::type::FLOAT64) return o.via.f64;
  if (IsInt(o)) return static_cast<double>(AsInt(key, o));
  WrongType(key, o, "a number");
}

std::string AsStr(const char* key, const msgpack::object& o) {
  if (o.type != msgpack::type::STR) WrongType(key, o, "a string");
  return std::string(o.via.str.ptr, o.via.str.size);
}

}  // namespace

// ---- Message ------------------------------------------------------------------------------

Message Message::Decode(const void* data, size_t size, const char* kind_key, size_t max_elements) {
  Message m;
  {
    ElementCounter counter;
    counter.limit = max_elements;
    size_t offset = 0;
    try {
      msgpack::parse(static_cast<const char*>(data), size, offset, counter);
    } catch (const std::exception&) {
      // Malformed input is reported by the decoding below, with its reason.
    }
    if (counter.over)
      Bad("message holds more than " + std::to_string(max_elements) +
          " elements (array items and map entries), more than any request may hold; refused before decoding");
  }
  try {
    // Limits stop a hostile length prefix from making the decoder allocate gigabytes.
    msgpack::unpack_limit limit(/*array=*/1 << 20, /*map=*/4096, /*str=*/16 << 20, /*bin=*/16 << 20,
                                /*ext=*/1 << 10, /*depth=*/16);
    size_t offset = 0;
    m.handle_ = std::make_shared<msgpack::object_handle>(
        msgpack::unpack(static_cast<const char*>(data), size, offset, nullptr, nullptr, limit));
    // One message is one object: trailing bytes mean the sender is not speaking msgpack (plain
    // text often starts with a byte that happens to be a valid small integer).
    if (offset != size) Bad("message is not valid msgpack (" + std::to_string(size - offset) + " bytes after the first object)");
  } catch (const ProtocolError&) {
    throw;
  } catch (const std::exception& e) {
    Bad(std::string("message is not valid msgpack (") + e.what() + ")");
  }
  m.map_ = &m.handle_->get();
  if (m.map_->type != msgpack::type::MAP) Bad(std::string("message must be a msgpack map, got ") + TypeName(m.map_->type));
  const msgpack::object* proto = m.Find("proto");
  if (!proto) Bad("missing field 'proto' (expected \"dsv4\")");
  if (AsStr("proto", *proto) != kProtocolTag) Bad("field 'proto' must be \"dsv4\", got \"" + AsStr("proto", *proto) + "\"");
  const int64_t v = m.Int("v");
  if (v != kProtocolVersion)
    Bad("unsupported protocol version " + std::to_string(v) + " (this peer speaks " + std::to_string(kProtocolVersion) + ")");
  m.kind_ = m.Str(kind_key);
  return m;
}

const msgpack::object* Message::Find(const char* key) const {
  const msgpack::object_map& map = map_->via.map;
  const std::string_view k(key);
  for (uint32_t i = 0; i < map.size; ++i) {
    const msgpack::object& kk = map.ptr[i].key;
    if (kk.type == msgpack::type::STR && std::string_view(kk.via.str.ptr, kk.via.str.size) == k) return &map.ptr[i].val;
  }
  return nullptr;
}

std::string Message::Str(const char* key) const {
  const msgpack::object* o = Find(key);
  if (!o) Bad(std::string("missing field '") + key + "'");
  return AsStr(key, *o);
}

std::string Message::StrOr(const char* key, const std::string& fallback) const {
  const msgpack::object* o = Find(key);
  return o ? AsStr(key, *o) : fallback;
}

int64_t Message::Int(const char* key) const {
  const msgpack::object* o = Find(key);
  if (!o) Bad(std::string("missing field '") + key + "'");
  return AsInt(key, *o);
}

int64_t Message::IntOr(const char* key, int64_t fallback) const {
  const msgpack::object* o = Find(key);
  return o ? AsInt(key, *o) : fallback;
}

uint64_t Message::UintOr(const char* key, uint64_t fallback) const {
  const msgpack::object* o = Find(key);
  if (!o) return fallback;
  if (o->type != msgpack::type::POSITIVE_INTEGER) WrongType(key, *o, "a non-negative integer");
  return o->via.u64;
}

double Message::NumberOr(const char* key, double fallback) const {
  const msgpack::object* o = Find(key);
  return o ? AsNumber(key, *o) : fallback;
}

bool Message::BoolOr(const char* key, bool fallback) const {
  const msgpack::object* o = Find(key);
  if (!o) return fallback;
  if (o->type != msgpack::type::BOOLEAN) WrongType(key, *o, "a bool");
  return o->via.boolean;
}

std::vector<int32_t> Message::Tokens(const char* key) const {
  const msgpack::object* o = Find(key);
  if (!o) Bad(std::string("missing field '") + key + "'");
  if (o->type != msgpack::type::ARRAY) WrongType(key, *o, "an array of token ids");
  std::vector<int32_t> out;
  out.reserve(o->via.array.size);
  for (uint32_t i = 0; i < o->via.array.size; ++i) {
    const msgpack::object& e = o->via.array.ptr[i];
    if (!IsInt(e)) Bad(std::string("field '") + key + "' item " + std::to_string(i) + " must be an integer, got " + TypeName(e.type));
    const int64_t v = AsInt(key, e);
    if (v < 0 || v > std::numeric_limits<int32_t>::max())
      Bad(std::string("field '") + key + "' item " + std::to_string(i) + " = " + std::to_string(v) + " is not a token id");
    out.push_back(static_cast<int32_t>(v));
  }
  return out;
}

std::vector<float> Message::Floats(const char* key) const {
  const msgpack::object* o = Find(key);
  if (!o) Bad(std::string("missing field '") + key + "'");
  if (o->type != msgpack::type::ARRAY) WrongType(key, *o, "an array of numbers");
  std::vector<float> out;
  out.reserve(o->via.array.size);
  for (uint32_t i = 0; i < o->via.array.size; ++i) out.push_back(static_cast<float>(AsNumber(key, o->via.array.ptr[i])));
  return out;
}

Message Message::Sub(const char* key) const {
  const msgpack::object* o = Find(key);
  if (!o) Bad(std::string("missing field '") + key + "'");
  if (o->type != msgpack::type::MAP) WrongType(key, *o, "a map");
  Message m;
  m.handle_ = handle_;
  m.map_ = o;
  return m;
}


std::vector<std::string> Message::Strings(const char* key) const {
  const msgpack::object* o = Find(key);
  if (!o) Bad(std::string("missing field '") + key + "'");
  if (o->type != msgpack::type::ARRAY) WrongType(key, *o, "an array of strings");
  std::vector<std::string> out;
  out.reserve(o->via.array.size);
  for (uint32_t i = 0; i < o->via.array.size; ++i) {
    const msgpack::object& e = o->via.array.ptr[i];
    if (e.type != msgpack::type::STR) Bad(std::string("field '") + key + "' item " + std::to_string(i) + " must be a string, got " + TypeName(e.type));
    out.emplace_back(e.via.str.ptr, e.via.str.size);
  }
  return out;
}

std::optional<double> Message::OptNumber(const char* key) const {
  const msgpack::object* o = Find(key);
  if (!o) return std::nullopt;
  return AsNumber(key, *o);
}

bool Message::Bool(const char* key) const {
  const msgpack::object* o = Find(key);
  if (!o) Bad(std::string("missing field '") + key + "'");
  return BoolOr(key, false);
}

double Message::Number(const char* key) const {
  const msgpack::object* o = Find(key);
  if (!o) Bad(std::string("missing field '") + key + "'");
  return AsNumber(key, *o);
}

std::vector<Message> Message::SubArray(const char* key) const {
  const msgpack::object* o = Find(key);
  if (!o) return {};
  if (o->type != msgpack::type::ARRAY) WrongType(key, *o, "an array of maps");
  std::vector<Message> out;
  out.reserve(o->via.array.size);
  for (uint32_t i = 0; i < o->via.array.size; ++i) {
    const msgpack::object& e = o->via.array.ptr[i];
    if (e.type != msgpack::type::MAP) Bad(std::string("field '") + key + "' item " + std::to_string(i) + " must be a map, got " + TypeName(e.type));
    Message m;
    m.handle_ = handle_;
    m.map_ = &e;
    out.push_back(std::move(m));
  }
  return out;
}

// ---- Writer -------------------------------------------------------------------------------

Writer::Writer(const char* kind_key, const std::string& kind) {
  Field("proto", kProtocolTag);
  Field("v", kProtocolVersion);
  Field(kind_key, kind);
}

Writer::Writer() = default;

void Writer::Key(const char* key) {
  Pk().pack(std::string_view(key));
  ++count_;
}

Writer& Writer::Field(const char* key, const std::string& v) {
  Key(key);
  Pk().pack(v);
  return *this;
}
Writer& Writer::Field(const char* key, const char* v) { return Field(key, std::string(v)); }
Writer& Writer::Field(const char* key, int64_t v) {
  Key(key);
  Pk().pack(v);
  return *this;
}
Writer& Writer::Field(const char* key, uint64_t v) {
  Key(key);
  Pk().pack(v);
  return *this;
}
Writer& Writer::Field(const char* key, double v) {
  Key(key);
  Pk().pack(v);
  return *this;
}
Writer& Writer::Field(const char* key, bool v) {
  Key(key);
  Pk().pack(v);
  return *this;
}
Writer& Writer::Field(const char* key, const std::vector<int32_t>& v) {
  Key(key);
  Pk().pack(v);
  return *this;
}
Writer& Writer::Field(const char* key, const std::vector<float>& v) {
  Key(key);
  Pk().pack(v);
  return *this;
}
Writer& Writer::Field(const char* key, const std::vector<std::string>& v) {
  Key(key);
  Pk().pack(v);
  return *this;
}
Writer& Writer::Raw(const char* key, const std::string& packed) {
  Key(key);
  body_.write(packed.data(), packed.size());
  return *this;
}
Writer& Writer::RawArray(const char* key, const std::vector<std::string>& packed) {
  Key(key);
  Pk().pack_array(static_cast<uint32_t>(packed.size()));
  for (const std::string& p : packed) body_.write(p.data(), p.size());
  return *this;
}

std::string Writer::Finish() const {
  msgpack::sbuffer head;
  msgpack::packer<msgpack::sbuffer>(head).pack_map(count_);
  std::string out(head.data(), head.size());
  out.append(body_.data(), body_.size());
  return out;
}

}  // namespace dsv4::protocol
