#include "io/model_tree.h"

#include <filesystem>

#include "io/file_util.h"

namespace w4a8::io::detail {

namespace fs = std::filesystem;

namespace {
// Whether `p` (canonical) lies inside `root` (canonical).
bool inside(const fs::path& p, const fs::path& root) {
  const fs::path rel = p.lexically_relative(root);
  return !rel.empty() && *rel.begin() != ".." && rel != ".";
}

bool is_top_level_weight_or_config(const fs::path& rel) {
  if (rel.has_parent_path()) return false;
  const std::string name = rel.string();
  return ends_with(name, ".safetensors") || ends_with(name, ".partial") || name == kIndexFileName ||
         name == "config.json";
}
}  // namespace

Result<ModelTree> list_model_tree(const std::string& dir, const std::string& skip_dir) {
  std::error_code ec;
  const fs::path root = fs::canonical(dir, ec);
  if (ec) return io_error(dir + ": cannot resolve the folder: " + ec.message());
  fs::path skip;
  if (!skip_dir.empty()) skip = fs::weakly_canonical(skip_dir, ec);
  ModelTree tree;
  // Links to folders are not followed (directory_options::none).
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end;
  if (ec) return io_error(dir + ": cannot list the folder: " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return io_error(dir + ": cannot list the folder: " + ec.message());
    const fs::directory_entry& e = *it;
    const fs::path rel = e.path().lexically_relative(root);
    const std::string shown = rel.string();
    if (rel.filename().string().rfind('.', 0) == 0) {
      tree.skipped.push_back(shown + ": hidden");
      if (e.is_directory(ec) && !e.is_symlink(ec)) it.disable_recursion_pending();
      continue;
    }
    if (e.is_symlink(ec)) {
      const fs::path target = fs::canonical(e.path(), ec);
      if (ec) return invalid_argument(dir + "/" + shown + ": a symbolic link whose target does not exist");
      if (fs::is_directory(target, ec))
        return invalid_argument(dir + "/" + shown + ": a symbolic link to a folder (" + target.string() +
                                "); links to folders are not followed - copy the model with them resolved (cp -rL)");
      if (!inside(target, root))
        return invalid_argument(dir + "/" + shown + ": a symbolic link to " + target.string() +
                                ", outside the model folder; nothing outside it is followed - copy the model with "
                                "its links resolved (cp -rL) and quantize that");
      if (!is_top_level_weight_or_config(rel)) tree.files.push_back(shown);
      continue;
    }
    if (e.is_directory(ec)) {
      if (!skip.empty() && fs::equivalent(e.path(), skip, ec)) {
        tree.skipped.push_back(shown + ": the output folder");
        it.disable_recursion_pending();
        continue;
      }
      tree.dirs.push_back(shown);
      continue;
    }
    if (!e.is_regular_file(ec)) return invalid_argument(dir + "/" + shown + ": not a regular file, folder or link");
    if (!is_top_level_weight_or_config(rel)) tree.files.push_back(shown);
  }
  return tree;
}

Status copy_model_tree(const std::string& dir, const ModelTree& tree, const std::string& out) {
  std::error_code ec;
  for (const std::string& d : tree.dirs) {
    fs::create_directories(join_path(out, d), ec);
    if (ec) return io_error(join_path(out, d) + ": cannot create the folder: " + ec.message());
  }
  for (const std::string& f : tree.files) W4A8_RETURN_IF_ERROR(copy_file_atomic(join_path(dir, f), join_path(out, f)));
  return Status::ok();
}

}  // namespace w4a8::io::detail
