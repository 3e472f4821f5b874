// SafetensorsWriter: lays the whole file out up front, then takes tensors in
// any order (pwrite at their offsets) so a model is written tensor by tensor.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <nlohmann/json.hpp>
#include <set>

#include "io/file_util.h"
#include "w4a8/io.h"

namespace w4a8::io {

using detail::errno_status;

namespace {
// The safetensors package orders tensors by dtype, in the order of its dtype
// enum, largest first, then by name; doing the same keeps files we write
// byte-identical to its own and every tensor aligned to its element size.
int dtype_rank(StDType t) {
  switch (t) {
    case StDType::BOOL: return 0;
    case StDType::U8: return 1;
    case StDType::I8: return 2;
    case StDType::F8_E5M2: return 3;
    case StDType::F8_E4M3: return 4;
    case StDType::I16: return 5;
    case StDType::U16: return 6;
    case StDType::F16: return 7;
    case StDType::BF16: return 8;
    case StDType::I32: return 9;
    case StDType::U32: return 10;
    case StDType::F32: return 11;
    case StDType::F64: return 12;
    case StDType::I64: return 13;
    case StDType::U64: return 14;
  }
  return 0;
}
}  // namespace

struct SafetensorsWriter::State {
  std::string path, partial;
  int fd = -1;
  std::vector<TensorInfo> layout;
  std::vector<bool> written;
  uint64_t data_start = 0, total = 0;
  bool committed = false;
  ~State() {
    if (fd >= 0) ::close(fd);
    if (!committed && !partial.empty()) ::unlink(partial.c_str());
  }
};

Result<SafetensorsWriter> SafetensorsWriter::create(const std::string& path, std::vector<TensorSpec> specs,
                                                    const std::map<std::string, std::string>& metadata) {
  std::set<std::string> names;
  auto s = std::make_unique<State>();
  for (const TensorSpec& spec : specs) {
    if (spec.name.empty() || spec.name == "__metadata__")
      return invalid_argument(path + ": '" + spec.name + "' cannot name a tensor");
    if (!names.insert(spec.name).second) return invalid_argument(path + ": tensor '" + spec.name + "' given twice");
    uint64_t bytes = st_dtype_size(spec.dtype);
    for (int64_t d : spec.shape) {
      if (d < 0 || __builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes))
        return invalid_argument(path + ": tensor '" + spec.name + "' has a bad shape");
    }
  }
  std::stable_sort(specs.begin(), specs.end(), [](const TensorSpec& a, const TensorSpec& b) {
    const int ra = dtype_rank(a.dtype), rb = dtype_rank(b.dtype);
    return ra != rb ? ra > rb : a.name < b.name;
  });
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const TensorSpec& spec : specs) {
    TensorInfo t;
    t.name = spec.name;
    t.dtype = spec.dtype;
    t.shape = spec.shape;
    t.begin = offset;
    t.end = offset + static_cast<uint64_t>(t.numel()) * st_dtype_size(t.dtype);
    offset = t.end;
    nlohmann::ordered_json e;
    e["dtype"] = st_dtype_name(t.dtype);
    e["shape"] = t.shape;
    e["data_offsets"] = {t.begin, t.end};
    header[t.name] = std::move(e);
    s->layout.push_back(std::move(t));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data buffer starts 8-byte aligned
  s->path = path;
  s->partial = path + ".partial";
  s->written.assign(s->layout.size(), false);
  s->data_start = 8 + text.size();
  s->total = s->data_start + offset;
  s->fd = ::open(s->partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (s->fd < 0) {
    Status e = errno_status("cannot create", s->partial);
    s->partial.clear();
    return e;
  }
  std::string head(8, '\0');
  for (int i = 0; i < 8; ++i) head[i] = static_cast<char>((text.size() >> (8 * i)) & 0xFF);
  head += text;
  W4A8_RETURN_IF_ERROR(detail::pwrite_all(s->fd, head.data(), head.size(), 0, s->partial));
  if (::ftruncate(s->fd, static_cast<off_t>(s->total)) != 0) return errno_status("cannot size", s->partial);
  SafetensorsWriter w;
  w.s_ = std::move(s);
  return w;
}

Status SafetensorsWriter::write(const std::string& name, const void* data, size_t nbytes) {
  if (!s_ || s_->committed) return invalid_argument("SafetensorsWriter: write after commit");
  for (size_t i = 0; i < s_->layout.size(); ++i) {
    const TensorInfo& t = s_->layout[i];
    if (t.name != name) continue;
    if (s_->written[i]) return invalid_argument(s_->path + ": tensor '" + name + "' written twice");
    if (nbytes != t.nbytes())
      return invalid_argument(s_->path + ": tensor '" + name + "' is " + std::to_string(t.nbytes()) +
                              " bytes, got " + std::to_string(nbytes));
    W4A8_RETURN_IF_ERROR(detail::pwrite_all(s_->fd, data, nbytes, s_->data_start + t.begin, s_->partial));
    s_->written[i] = true;
    return Status::ok();
  }
  return invalid_argument(s_->path + ": no tensor '" + name + "' was declared");
}

Status SafetensorsWriter::commit() {
  if (!s_ || s_->committed) return invalid_argument("SafetensorsWriter: committed twice");
  for (size_t i = 0; i < s_->layout.size(); ++i) {
    if (!s_->written[i])
      return invalid_argument(s_->path + ": tensor '" + s_->layout[i].name + "' was never written");
  }
  if (::fsync(s_->fd) != 0) return errno_status("cannot flush", s_->partial);
  const int fd = s_->fd;
  s_->fd = -1;
  if (::close(fd) != 0) return errno_status("cannot close", s_->partial);
  if (::rename(s_->partial.c_str(), s_->path.c_str()) != 0) return errno_status("cannot rename to " + s_->path, s_->partial);
  s_->committed = true;
  detail::sync_dir(detail::parent_dir(s_->path));
  return Status::ok();
}

uint64_t SafetensorsWriter::file_size() const { return s_ ? s_->total : 0; }

SafetensorsWriter::SafetensorsWriter(SafetensorsWriter&&) noexcept = default;
SafetensorsWriter& SafetensorsWriter::operator=(SafetensorsWriter&&) noexcept = default;
SafetensorsWriter::~SafetensorsWriter() = default;

Status write_safetensors(const std::string& path, const std::vector<NamedBytes>& tensors,
                         const std::map<std::string, std::string>& metadata) {
  std::vector<TensorSpec> specs;
  for (const NamedBytes& t : tensors) specs.push_back(t.spec);
  auto w = SafetensorsWriter::create(path, specs, metadata);
  if (!w) return w.status();
  for (const NamedBytes& t : tensors) W4A8_RETURN_IF_ERROR(w->write(t.spec.name, t.data, t.nbytes));
  return w->commit();
}

}  // namespace w4a8::io
