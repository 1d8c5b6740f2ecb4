// Read-only HDF5 through the HDF5 C library: groups, string attributes and numeric datasets.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace kerasrt::io {

struct H5Array {
  std::vector<int64_t> shape;
  std::vector<float> data;  // converted to float32 by HDF5 whatever the stored type
};

class H5Group;

class H5File {
 public:
  static H5File open_file(const std::string& path);
  // `bytes` is copied and must hold a whole HDF5 file.
  static H5File open_memory(std::span<const uint8_t> bytes, const std::string& name);
  static bool looks_like_hdf5(std::span<const uint8_t> head);  // checks the signature

  H5Group root() const;
  const std::string& name() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

class H5Group {
 public:
  H5Group(std::shared_ptr<H5File::State> file, int64_t id, std::string path);

  const std::string& path() const { return path_; }
  std::vector<std::string> children() const;  // link names, in name order
  bool has_group(const std::string& name) const;
  bool has_dataset(const std::string& name) const;
  H5Group group(const std::string& name) const;  // throws if missing
  // `name` may be a relative path "a/b/c".
  H5Array read(const std::string& name) const;
  std::vector<int64_t> dataset_shape(const std::string& name) const;

  bool has_attr(const std::string& name) const;
  // A string attribute, or an array of strings (fixed or variable length), as strings.
  std::vector<std::string> attr_strings(const std::string& name) const;
  std::optional<std::string> attr_string(const std::string& name) const;

 private:
  std::shared_ptr<H5File::State> file_;
  std::shared_ptr<void> handle_;
  int64_t id_;
  std::string path_;
};

}  // namespace kerasrt::io
