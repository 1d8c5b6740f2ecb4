// Builds small HDF5 files with the HDF5 C library, laid out the way h5py writes them, for tests of
// the readers and of bad input.
#pragma once

#include <hdf5.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace kerasrt::testing {

class H5Writer {
 public:
  // Creates `path`, or with `existing` opens it for changes.
  explicit H5Writer(const std::string& path, bool existing = false) : path_(path) {
    file_ = existing ? H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)
                     : H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  }
  bool ok() const { return file_ >= 0; }
  // Unlinks a group or dataset; returns false if it was not there.
  bool remove(const std::string& path) { return H5Ldelete(file_, path.c_str(), H5P_DEFAULT) >= 0; }
  bool remove_attr(const std::string& obj, const std::string& name) {
    return H5Adelete_by_name(file_, obj.c_str(), name.c_str(), H5P_DEFAULT) >= 0;
  }
  ~H5Writer() { close(); }
  void close() {
    if (file_ >= 0) H5Fclose(file_);
    file_ = -1;
  }
  hid_t id() const { return file_; }

  void group(const std::string& path) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    H5Gclose(H5Gcreate2(file_, path.c_str(), lcpl, H5P_DEFAULT, H5P_DEFAULT));
    H5Pclose(lcpl);
  }
  template <typename T>
  void dataset(const std::string& path, const std::vector<hsize_t>& dims, const std::vector<T>& values, hid_t type) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t space = dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    hid_t d = H5Dcreate2(file_, path.c_str(), type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (!values.empty()) H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
    H5Dclose(d);
    H5Sclose(space);
    H5Pclose(lcpl);
  }
  void floats(const std::string& path, const std::vector<hsize_t>& dims, const std::vector<float>& v) {
    dataset(path, dims, v, H5T_NATIVE_FLOAT);
  }
  // A fixed-length string array attribute (numpy 'S' arrays, as Keras 2 writes layer_names).
  void fixed_strings(const std::string& obj, const std::string& name, const std::vector<std::string>& values) {
    size_t width = 1;
    for (const auto& v : values) width = std::max(width, v.size());
    std::vector<char> buf(width * values.size(), 0);
    for (size_t i = 0; i < values.size(); ++i) std::memcpy(buf.data() + i * width, values[i].data(), values[i].size());
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, width);
    H5Tset_strpad(type, H5T_STR_NULLPAD);
    hsize_t n = values.size();
    hid_t space = H5Screate_simple(1, &n, nullptr);
    hid_t o = H5Oopen(file_, obj.c_str(), H5P_DEFAULT);
    hid_t a = H5Acreate2(o, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, type, buf.data());
    H5Aclose(a);
    H5Oclose(o);
    H5Sclose(space);
    H5Tclose(type);
  }
  // A scalar variable-length UTF-8 string attribute (h5py's str, as Keras 3 writes model_config).
  void vlen_string(const std::string& obj, const std::string& name, const std::string& value) {
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t o = H5Oopen(file_, obj.c_str(), H5P_DEFAULT);
    hid_t a = H5Acreate2(o, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
    const char* p = value.c_str();
    H5Awrite(a, type, &p);
    H5Aclose(a);
    H5Oclose(o);
    H5Sclose(space);
    H5Tclose(type);
  }
  void number_attr(const std::string& obj, const std::string& name, double value) {
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t o = H5Oopen(file_, obj.c_str(), H5P_DEFAULT);
    hid_t a = H5Acreate2(o, name.c_str(), H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_DOUBLE, &value);
    H5Aclose(a);
    H5Oclose(o);
    H5Sclose(space);
  }

 private:
  std::string path_;
  hid_t file_ = -1;
};

}  // namespace kerasrt::testing
