// SafetensorsFile: maps a file read-only and validates every rule of the
// format (SPEC.md "safetensors") before any tensor can be reached.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "io/file_util.h"
#include "w4a8/io.h"

namespace w4a8::io {

using detail::errno_status;
using json = nlohmann::json;

struct SafetensorsFile::Mapping {
  const std::byte* data = nullptr;
  size_t size = 0;
  void* mapped = nullptr;  // munmap'ed on destruction when set
  std::vector<std::byte> owned;
  ~Mapping() {
    if (mapped) ::munmap(mapped, size);
  }
};

namespace {
// serde's limit in the reference implementation: a bigger header is an attack.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr int kMaxJsonDepth = 8;  // the format nests three levels deep

// Names and parse errors come from the file: printed escaped (printable()).
Status bad(const std::string& label, const std::string& what) {
  return invalid_argument(label + ": not a valid safetensors file: " + detail::printable(what));
}
Status bad_tensor(const std::string& label, const std::string& name, const std::string& what) {
  return invalid_argument(label + ": tensor '" + detail::printable(name) + "': " + detail::printable(what));
}

// Parses the header JSON, refusing duplicate keys at any level and deep nesting
// (nlohmann keeps the last duplicate silently).
Result<json> parse_header_json(const char* begin, const char* end, const std::string& label) {
  std::vector<std::set<std::string>> keys;
  std::string problem;
  auto cb = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth > kMaxJsonDepth && problem.empty()) problem = "JSON nested deeper than the format allows";
    switch (event) {
      case json::parse_event_t::object_start: keys.emplace_back(); break;
      case json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case json::parse_event_t::key:
        if (!keys.empty() && parsed.is_string() && !keys.back().insert(parsed.get<std::string>()).second &&
            problem.empty())
          problem = "duplicate key '" + parsed.get<std::string>() + "' in the header";
        break;
      default: break;
    }
    return true;
  };
  json j;
  try {
    j = json::parse(begin, end, cb);
  } catch (const json::exception& e) {
    // nlohmann's lexer also rejects ill-formed UTF-8 here.
    return bad(label, std::string("header is not valid UTF-8 JSON (") + e.what() + ")");
  }
  if (!problem.empty()) return bad(label, problem);
  if (!j.is_object()) return bad(label, "header is a JSON " + std::string(j.type_name()) + ", not an object");
  return j;
}

Result<uint64_t> read_u64(const json& v, const std::string& label, const std::string& name, const char* what) {
  if (!v.is_number_unsigned()) {
    if (v.is_number_integer() && v.get<int64_t>() >= 0) return static_cast<uint64_t>(v.get<int64_t>());
    return bad_tensor(label, name, std::string(what) + " must be non-negative integers, got " + v.dump());
  }
  return v.get<uint64_t>();
}

Result<TensorInfo> parse_entry(const std::string& name, const json& e, uint64_t buffer_size,
                               const std::string& label) {
  if (!e.is_object()) return bad_tensor(label, name, "entry is not an object");
  for (auto it = e.begin(); it != e.end(); ++it) {
    if (it.key() != "dtype" && it.key() != "shape" && it.key() != "data_offsets")
      return bad_tensor(label, name, "unknown field '" + it.key() + "'");
  }
  if (!e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
    return bad_tensor(label, name, "needs dtype, shape and data_offsets");
  TensorInfo t;
  t.name = name;
  const json& dt = e["dtype"];
  if (!dt.is_string() || !parse_st_dtype(dt.get<std::string>(), &t.dtype))
    return bad_tensor(label, name, "unknown dtype " + dt.dump());
  const json& shape = e["shape"];
  if (!shape.is_array()) return bad_tensor(label, name, "shape is not an array");
  uint64_t numel = 1;
  for (const json& d : shape) {
    auto dim = read_u64(d, label, name, "shape entries");
    if (!dim) return dim.status();
    if (*dim > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(numel, *dim, &numel))
      return bad_tensor(label, name, "shape " + shape.dump() + " has more elements than a file can hold");
    t.shape.push_back(static_cast<int64_t>(*dim));
  }
  const json& off = e["data_offsets"];
  if (!off.is_array() || off.size() != 2) return bad_tensor(label, name, "data_offsets must be [begin, end]");
  auto b = read_u64(off[0], label, name, "data_offsets");
  if (!b) return b.status();
  auto en = read_u64(off[1], label, name, "data_offsets");
  if (!en) return en.status();
  t.begin = *b;
  t.end = *en;
  if (t.begin > t.end) return bad_tensor(label, name, "data_offsets " + off.dump() + " end before they begin");
  if (t.end > buffer_size)
    return bad_tensor(label, name, "data_offsets " + off.dump() + " run past the data buffer (" +
                                       std::to_string(buffer_size) + " bytes)");
  uint64_t nbytes = 0;
  if (__builtin_mul_overflow(numel, st_dtype_size(t.dtype), &nbytes) || nbytes != t.nbytes())
    return bad_tensor(label, name, std::string(st_dtype_name(t.dtype)) + " " + t.shape_string() + " needs " +
                                       std::to_string(numel) + " x " + std::to_string(st_dtype_size(t.dtype)) +
                                       " bytes but data_offsets " + off.dump() + " hold " +
                                       std::to_string(t.nbytes()));
  return t;
}
}  // namespace

Result<SafetensorsFile> SafetensorsFile::from_bytes(const void* data, size_t size, const std::string& label) {
  auto m = std::make_shared<Mapping>();
  m->owned.resize(size);
  if (size) std::memcpy(m->owned.data(), data, size);
  m->data = m->owned.data();
  m->size = size;
  return parse(std::move(m), label);
}

Result<SafetensorsFile> SafetensorsFile::parse(std::shared_ptr<const Mapping> m, const std::string& label) {
  const size_t size = m->size;
  SafetensorsFile f;
  f.map_ = m;
  f.path_ = label;
  f.size_ = size;
  const std::byte* p = m->data;
  if (size < 8) return bad(label, "the file is " + std::to_string(size) + " bytes, shorter than its 8-byte header length");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<uint8_t>(p[i]);
  if (header_len > size - 8)
    return bad(label, "header length " + std::to_string(header_len) + " runs past the end of the file (" +
                          std::to_string(size) + " bytes)");
  if (header_len > kMaxHeaderBytes)
    return bad(label, "header length " + std::to_string(header_len) + " is over the 100 MB limit");
  if (header_len == 0 || static_cast<char>(p[8]) != '{')
    return bad(label, "header does not start with '{'");
  auto j = parse_header_json(reinterpret_cast<const char*>(p + 8), reinterpret_cast<const char*>(p + 8 + header_len),
                             label);
  if (!j) return j.status();
  f.data_start_ = 8 + header_len;
  const uint64_t buffer_size = size - f.data_start_;

  for (auto it = j->begin(); it != j->end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) return bad(label, "__metadata__ is not an object");
      for (auto m2 = it->begin(); m2 != it->end(); ++m2) {
        if (!m2->is_string())
          return bad(label, "__metadata__ value of '" + m2.key() + "' is not a string");
        f.metadata_[m2.key()] = m2->get<std::string>();
      }
      continue;
    }
    auto t = parse_entry(it.key(), *it, buffer_size, label);
    if (!t) return t.status();
    f.index_[t->name] = f.tensors_.size();
    f.tensors_.push_back(std::move(*t));
  }

  // Offsets must tile the buffer exactly: no overlap, no hole, nothing after.
  std::vector<const TensorInfo*> by_offset;
  for (const TensorInfo& t : f.tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t expected = 0;
  const TensorInfo* prev = nullptr;
  for (const TensorInfo* t : by_offset) {
    if (t->begin < expected)
      return bad_tensor(label, t->name, "data [" + std::to_string(t->begin) + ", " + std::to_string(t->end) +
                                            ") overlaps tensor '" + prev->name + "'");
    if (t->begin > expected)
      return bad_tensor(label, t->name, "a hole of " + std::to_string(t->begin - expected) +
                                            " bytes precedes its data at offset " + std::to_string(t->begin));
    expected = t->end;
    prev = t;
  }
  if (expected != buffer_size)
    return bad(label, std::to_string(buffer_size - expected) + " bytes after the last tensor belong to no tensor");
  return f;
}

Result<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_status("cannot open", path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Status s = errno_status("cannot stat", path);
    ::close(fd);
    return s;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return invalid_argument(path + ": not a regular file");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  auto m = std::make_shared<Mapping>();
  m->size = size;
  if (size > 0) {
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      Status s = errno_status("cannot map", path);
      ::close(fd);
      return s;
    }
    m->mapped = p;
    m->data = static_cast<const std::byte*>(p);
  }
  ::close(fd);  // the mapping keeps the file's pages
  return parse(std::move(m), path);
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const std::byte* SafetensorsFile::bytes(const TensorInfo& t) const { return map_->data + data_start_ + t.begin; }

namespace {
// The tensor `name` of `f` when it is one w4a8 can hold in a TensorView
// (a known dtype, rank <= kMaxRank); its DType in `dt`.
Result<const TensorInfo*> computable(const SafetensorsFile& f, const std::string& name, DType& dt) {
  const TensorInfo* t = f.find(name);
  if (!t) return invalid_argument(f.path() + ": no tensor named '" + detail::printable(name) + "'");
  if (!to_dtype(t->dtype, &dt))
    return unsupported(f.path() + ": tensor '" + name + "': dtype " + st_dtype_name(t->dtype) +
                       " is not one w4a8 computes with");
  if (t->shape.size() > static_cast<size_t>(kMaxRank))
    return unsupported(f.path() + ": tensor '" + name + "': rank " + std::to_string(t->shape.size()) +
                       " is over the maximum of " + std::to_string(kMaxRank));
  return t;
}
}  // namespace

Result<TensorView> SafetensorsFile::view(const std::string& name) const {
  DType dt{};
  auto t = computable(*this, name, dt);
  if (!t) return t.status();
  const std::byte* p = bytes(**t);
  if (reinterpret_cast<uintptr_t>(p) % dtype_size(dt) != 0)
    return unsupported(path_ + ": tensor '" + name + "' is not aligned to its element size in the file; use read()");
  return TensorView(p, dt, (*t)->shape);
}

Result<Tensor> SafetensorsFile::read(const std::string& name) const {
  DType dt{};
  auto t = computable(*this, name, dt);
  if (!t) return t.status();
  Tensor out(dt, (*t)->shape);
  if ((*t)->nbytes()) std::memcpy(out.data(), bytes(**t), (*t)->nbytes());
  return out;
}

}  // namespace w4a8::io
