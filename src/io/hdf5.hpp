// Read-only HDF5: groups, string attributes and numeric datasets.
//
// A file is read once, whole, by kerasrt's own bounds-checked reader (hdf5_reader.cpp) into a
// snapshot of its tree (hdf5_snapshot.hpp); everything below works on that snapshot. The HDF5 C
// library (1.10) is not used: it trusts a file's metadata, and fuzzing found it reading out of
// bounds, looping and allocating without limit on hostile files.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <kerasrt/kerasrt.hpp>

#include "io/byte_buffer.hpp"

namespace kerasrt::io {

struct H5Array {
  std::vector<int64_t> shape;
  std::vector<float> data;  // converted to float32 whatever the stored type
};

// One object of the snapshot.
struct H5Node {
  enum class Kind : uint8_t { group = 'G', dataset = 'D', other = 'O' };
  struct Attr {
    std::string name;
    bool is_string = false;
    std::vector<std::string> strings;
    std::string problem;  // why it is not readable as strings, when it is not
  };
  Kind kind = Kind::other;
  std::string note;          // for `other`: what the object is
  std::vector<Attr> attrs;   // in name order
  std::vector<std::pair<std::string, std::unique_ptr<H5Node>>> children;  // in name order
  std::map<std::string, const H5Node*> index;
  std::vector<int64_t> shape;  // datasets
  size_t data_offset = 0;      // where the float32 values sit in the snapshot's bytes, or in the image
  uint64_t data_count = 0;
  bool data_in_image = false;
  std::string problem;         // why the dataset's values could not be read, when they could not
};

class H5Group;

class H5File {
 public:
  static H5File open_file(const std::string& path);
  // `bytes` must hold a whole HDF5 file; it is not kept.
  static H5File open_memory(std::span<const uint8_t> bytes, const std::string& name);
  // Keeps the image and reads float32 datasets stored contiguously from it, without a copy.
  static H5File open_shared(SharedBytes image, const std::string& name);
  static bool looks_like_hdf5(std::span<const uint8_t> head);  // checks the signature

  H5Group root() const;
  const std::string& name() const;

  struct State;

 private:
  std::shared_ptr<const State> state_;
};

class H5Group {
 public:
  H5Group(std::shared_ptr<const H5File::State> file, const H5Node* node, std::string path);

  const std::string& path() const { return path_; }
  std::vector<std::string> children() const;  // link names, in name order
  // `name` may be a relative path "a/b/c" in all of these.
  bool has_group(const std::string& name) const;
  bool has_dataset(const std::string& name) const;
  H5Group group(const std::string& name) const;  // throws if missing
  H5Array read(const std::string& name) const;
  // The same values in a tensor (made where tensors made now live: a load's arena).
  std::shared_ptr<const Tensor> read_tensor(const std::string& name) const;
  std::vector<int64_t> dataset_shape(const std::string& name) const;

  bool has_attr(const std::string& name) const;
  std::vector<std::string> attr_names() const;
  // A string attribute, or an array of strings (fixed or variable length), as strings.
  std::vector<std::string> attr_strings(const std::string& name) const;
  std::optional<std::string> attr_string(const std::string& name) const;

 private:
  const H5Node* find(const std::string& name) const;
  // Where the dataset's float32 values are (maybe unaligned), after checks; sets `node`.
  const uint8_t* values(const std::string& name, const H5Node*& node) const;
  const H5Node::Attr* find_attr(const std::string& name) const;
  std::string full(const std::string& name) const;

  std::shared_ptr<const H5File::State> file_;
  const H5Node* node_;
  std::string path_;
};

}  // namespace kerasrt::io
