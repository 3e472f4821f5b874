// Small file helpers shared by the readers and writers: errno messages,
// whole-file reads, and atomic writes (temporary file, fsync, rename).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "w4a8/status.h"

namespace w4a8::io::detail {

// "path: No such file or directory" as an io_error Status.
Status errno_status(const std::string& what, const std::string& path);
Status io_error(const std::string& message);

// pwrite()s all n bytes at `offset` (retrying short writes).
Status pwrite_all(int fd, const void* data, size_t n, uint64_t offset, const std::string& path);

Result<std::string> read_text_file(const std::string& path);
// Writes `text` to "<path>.partial", flushes it to disk, then renames it to
// `path`: readers see the old file or the new one, never half of one.
Status write_file_atomic(const std::string& path, const std::string& text);
Status copy_file_atomic(const std::string& from, const std::string& to);
// Makes the rename of a file in `dir` durable.
void sync_dir(const std::string& dir);

// The index file of a sharded model (weight_map: tensor -> shard file).
inline constexpr const char* kIndexFileName = "model.safetensors.index.json";

inline bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Text that came from a file, made safe to print in a message: control
// characters and bytes that are not well-formed UTF-8 become \xNN, so a
// corrupted or hostile file cannot put raw bytes (or terminal escape
// sequences) on the user's screen. Well-formed UTF-8 stays as it is.
std::string printable(const std::string& text);

bool is_regular_file(const std::string& path);
bool is_directory(const std::string& path);
std::string parent_dir(const std::string& path);
std::string join_path(const std::string& dir, const std::string& name);

}  // namespace w4a8::io::detail
