// ModelFiles: a model as one safetensors file or a folder of shards with
// model.safetensors.index.json, checked for consistency when opened.
#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "io/file_util.h"
#include "w4a8/io.h"

namespace w4a8::io {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {
constexpr const char* kSingleName = "model.safetensors";

Result<std::map<std::string, std::string>> read_index(const std::string& path) {
  auto text = detail::read_text_file(path);
  if (!text) return text.status();
  json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return invalid_argument(path + ": not a JSON object");
  if (!j.contains("weight_map") || !j["weight_map"].is_object())
    return invalid_argument(path + ": has no \"weight_map\" object");
  std::map<std::string, std::string> map;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    if (!it->is_string()) return invalid_argument(path + ": weight_map entry '" + it.key() + "' is not a file name");
    const std::string file = it->get<std::string>();
    if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..")
      return invalid_argument(path + ": weight_map entry '" + it.key() + "' names '" + file +
                              "', not a file in the model's folder");
    map[it.key()] = file;
  }
  return map;
}
}  // namespace

Result<ModelFiles> ModelFiles::open(const std::string& path) {
  ModelFiles m;
  std::vector<std::string> shard_files;
  std::map<std::string, std::string> index;
  if (detail::is_regular_file(path)) {
    m.dir_ = detail::parent_dir(path);
    shard_files.push_back(fs::path(path).filename().string());
  } else if (detail::is_directory(path)) {
    m.dir_ = path;
    const std::string index_path = detail::join_path(path, detail::kIndexFileName);
    if (detail::is_regular_file(index_path)) {
      auto idx = read_index(index_path);
      if (!idx) return idx.status();
      index = std::move(*idx);
      m.sharded_ = true;
      for (const auto& [name, file] : index) shard_files.push_back(file);
      std::sort(shard_files.begin(), shard_files.end());
      shard_files.erase(std::unique(shard_files.begin(), shard_files.end()), shard_files.end());
    } else if (detail::is_regular_file(detail::join_path(path, kSingleName))) {
      shard_files.push_back(kSingleName);
    } else {
      std::error_code ec;
      for (const auto& e : fs::directory_iterator(path, ec)) {
        const std::string name = e.path().filename().string();
        if (e.is_regular_file() && detail::ends_with(name, ".safetensors")) shard_files.push_back(name);
      }
      if (ec) return detail::io_error(path + ": cannot list the folder: " + ec.message());
      if (shard_files.size() != 1)
        return invalid_argument(path + ": " +
                                (shard_files.empty() ? std::string("holds no .safetensors file")
                                                     : "holds " + std::to_string(shard_files.size()) +
                                                           " .safetensors files but no " + detail::kIndexFileName));
    }
  } else {
    return detail::io_error(path + ": no such file or folder");
  }

  for (const std::string& file : shard_files) {
    auto f = SafetensorsFile::open(detail::join_path(m.dir_, file));
    if (!f) return f.status();
    for (const TensorInfo& t : f->tensors()) {
      auto [it, fresh] = m.shard_of_.emplace(t.name, file);
      if (!fresh) return invalid_argument(m.dir_ + ": tensor '" + t.name + "' is in both " + it->second + " and " + file);
      if (m.sharded_) {
        auto listed = index.find(t.name);
        if (listed == index.end() || listed->second != file)
          return invalid_argument(detail::join_path(m.dir_, detail::kIndexFileName) + ": tensor '" + t.name + "' is in " + file +
                                  (listed == index.end() ? " but not in the weight_map" : " but the weight_map says " + listed->second));
      }
    }
    m.shards_.emplace(file, std::move(*f));
  }
  for (const auto& [name, file] : index) {
    if (!m.shard_of_.count(name))
      return invalid_argument(detail::join_path(m.dir_, detail::kIndexFileName) + ": weight_map lists '" + name + "' in " + file +
                              ", which has no such tensor");
  }
  for (const auto& [name, file] : m.shard_of_) m.names_.push_back(name);

  const std::string config = detail::join_path(m.dir_, "config.json");
  if (detail::is_regular_file(config)) {
    auto text = detail::read_text_file(config);
    if (!text) return text.status();
    m.config_json_ = std::move(*text);
  }
  return m;
}

std::vector<std::string> ModelFiles::shard_names() const {
  std::vector<std::string> names;
  for (const auto& [file, f] : shards_) names.push_back(file);
  return names;
}

const SafetensorsFile& ModelFiles::shard(const std::string& file_name) const { return shards_.at(file_name); }

ModelFiles::Located ModelFiles::find(const std::string& name) const {
  auto it = shard_of_.find(name);
  if (it == shard_of_.end()) return {};
  const SafetensorsFile& f = shards_.at(it->second);
  return {&f, f.find(name)};
}

Status write_index_json(const std::string& path, uint64_t total_size,
                        const std::map<std::string, std::string>& weight_map) {
  nlohmann::ordered_json j;
  j["metadata"]["total_size"] = total_size;
  j["weight_map"] = weight_map;
  return detail::write_file_atomic(path, j.dump(2) + "\n");
}

}  // namespace w4a8::io
