#include "io/hdf5.hpp"

#include <hdf5.h>
#include <hdf5_hl.h>

#include <cstring>
#include <kerasrt/kerasrt.hpp>
#include <mutex>

namespace kerasrt::io {
namespace {

// The HDF5 library is not built thread-safe on Debian: serialise every call into it.
std::recursive_mutex& h5_mutex() {
  static std::recursive_mutex m;
  return m;
}

void silence_hdf5() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

// The largest array we agree to allocate for one dataset (float32 elements).
constexpr int64_t kMaxElements = int64_t{1} << 30;

struct Handle {
  hid_t id;
  herr_t (*close)(hid_t);
  ~Handle() {
    std::lock_guard lock(h5_mutex());
    if (id >= 0) close(id);
  }
};

}  // namespace

struct H5File::State {
  std::vector<uint8_t> image;  // backing bytes when opened from memory
  hid_t file = -1;
  std::string name;
  ~State() {
    std::lock_guard lock(h5_mutex());
    if (file >= 0) H5Fclose(file);
  }
};

bool H5File::looks_like_hdf5(std::span<const uint8_t> head) {
  static const uint8_t sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  return head.size() >= 8 && std::memcmp(head.data(), sig, 8) == 0;
}

H5File H5File::open_file(const std::string& path) {
  std::lock_guard lock(h5_mutex());
  silence_hdf5();
  H5File f;
  f.state_ = std::make_shared<State>();
  f.state_->name = path;
  if (H5Fis_hdf5(path.c_str()) <= 0)
    throw Error(path + ": not a readable HDF5 file (missing, truncated or corrupt)");
  f.state_->file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f.state_->file < 0) throw Error(path + ": cannot open as HDF5 (truncated or corrupt)");
  return f;
}

H5File H5File::open_memory(std::span<const uint8_t> bytes, const std::string& name) {
  std::lock_guard lock(h5_mutex());
  silence_hdf5();
  H5File f;
  f.state_ = std::make_shared<State>();
  f.state_->name = name;
  if (!looks_like_hdf5(bytes)) throw Error(name + ": not an HDF5 file (bad signature)");
  f.state_->image.assign(bytes.begin(), bytes.end());
  f.state_->file = H5LTopen_file_image(f.state_->image.data(), f.state_->image.size(),
                                       H5LT_FILE_IMAGE_DONT_COPY | H5LT_FILE_IMAGE_DONT_RELEASE);
  if (f.state_->file < 0) throw Error(name + ": cannot open as HDF5 (truncated or corrupt)");
  return f;
}

const std::string& H5File::name() const { return state_->name; }

H5Group H5File::root() const {
  std::lock_guard lock(h5_mutex());
  hid_t g = H5Gopen2(state_->file, "/", H5P_DEFAULT);
  if (g < 0) throw Error(state_->name + ": cannot open the root group");
  return H5Group(state_, g, "");
}

H5Group::H5Group(std::shared_ptr<H5File::State> file, int64_t id, std::string path)
    : file_(std::move(file)),
      handle_(nullptr,
              [id](void*) {
                std::lock_guard lock(h5_mutex());
                H5Gclose(static_cast<hid_t>(id));
              }),
      id_(id),
      path_(std::move(path)) {}

namespace {
herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* out) {
  static_cast<std::vector<std::string>*>(out)->emplace_back(name);
  return 0;
}

// H5Lexists on a multi-part path fails if an intermediate link is missing; check each part.
bool path_exists(hid_t loc, const std::string& path) {
  size_t pos = 0;
  while (true) {
    size_t slash = path.find('/', pos);
    std::string prefix = path.substr(0, slash);
    if (prefix.empty() || H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (slash == std::string::npos) return true;
    pos = slash + 1;
  }
}

H5O_type_t object_type(hid_t loc, const std::string& name) {
  if (!path_exists(loc, name)) return H5O_TYPE_UNKNOWN;
  H5O_info_t info;
  if (H5Oget_info_by_name2(loc, name.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
    return H5O_TYPE_UNKNOWN;
  return info.type;
}
}  // namespace

std::vector<std::string> H5Group::children() const {
  std::lock_guard lock(h5_mutex());
  std::vector<std::string> names;
  hsize_t idx = 0;
  if (H5Literate(static_cast<hid_t>(id_), H5_INDEX_NAME, H5_ITER_INC, &idx, collect_name, &names) < 0)
    throw Error(file_->name + ": cannot list group '" + path_ + "' (corrupt file)");
  return names;
}

bool H5Group::has_group(const std::string& name) const {
  std::lock_guard lock(h5_mutex());
  return object_type(static_cast<hid_t>(id_), name) == H5O_TYPE_GROUP;
}

bool H5Group::has_dataset(const std::string& name) const {
  std::lock_guard lock(h5_mutex());
  return object_type(static_cast<hid_t>(id_), name) == H5O_TYPE_DATASET;
}

H5Group H5Group::group(const std::string& name) const {
  std::lock_guard lock(h5_mutex());
  std::string full = path_.empty() ? name : path_ + "/" + name;
  if (object_type(static_cast<hid_t>(id_), name) != H5O_TYPE_GROUP)
    throw Error(file_->name + ": no group '" + full + "'");
  hid_t g = H5Gopen2(static_cast<hid_t>(id_), name.c_str(), H5P_DEFAULT);
  if (g < 0) throw Error(file_->name + ": cannot open group '" + full + "'");
  return H5Group(file_, g, full);
}

namespace {
std::vector<int64_t> space_shape(hid_t space, const std::string& what) {
  int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0 || rank > 32) throw Error(what + ": bad dataspace");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  std::vector<int64_t> shape(dims.begin(), dims.end());
  return shape;
}
}  // namespace

std::vector<int64_t> H5Group::dataset_shape(const std::string& name) const {
  std::lock_guard lock(h5_mutex());
  std::string what = file_->name + ": dataset '" + (path_.empty() ? name : path_ + "/" + name) + "'";
  hid_t d = H5Dopen2(static_cast<hid_t>(id_), name.c_str(), H5P_DEFAULT);
  if (d < 0) throw Error(what + " is missing or unreadable");
  Handle dh{d, H5Dclose};
  Handle sh{H5Dget_space(d), H5Sclose};
  return space_shape(sh.id, what);
}

H5Array H5Group::read(const std::string& name) const {
  std::lock_guard lock(h5_mutex());
  std::string what = file_->name + ": dataset '" + (path_.empty() ? name : path_ + "/" + name) + "'";
  if (object_type(static_cast<hid_t>(id_), name) != H5O_TYPE_DATASET) throw Error(what + " is missing");
  hid_t d = H5Dopen2(static_cast<hid_t>(id_), name.c_str(), H5P_DEFAULT);
  if (d < 0) throw Error(what + " is unreadable");
  Handle dh{d, H5Dclose};
  Handle sh{H5Dget_space(d), H5Sclose};
  Handle th{H5Dget_type(d), H5Tclose};
  H5T_class_t cls = H5Tget_class(th.id);
  if (cls != H5T_FLOAT && cls != H5T_INTEGER)
    throw Error(what + " is not numeric (HDF5 type class " + std::to_string(cls) + ")");
  H5Array out;
  out.shape = space_shape(sh.id, what);
  int64_t n = 1;
  for (int64_t d : out.shape) {
    if (d < 0 || (d > 0 && n > kMaxElements / d)) throw Error(what + " is implausibly large");
    n *= d;
  }
  // A corrupt header can claim a huge array: the file must hold at least one byte per element
  // unless the data is compressed, in which case HDF5 checks the chunks itself.
  Handle ph{H5Dget_create_plist(d), H5Pclose};
  bool filtered = ph.id >= 0 && H5Pget_nfilters(ph.id) > 0;
  hsize_t stored = H5Dget_storage_size(d);
  if (!filtered && n > 0 && stored < static_cast<hsize_t>(n) * H5Tget_size(th.id) &&
      H5Pget_layout(ph.id) != H5D_COMPACT && stored != 0)
    throw Error(what + " is truncated");
  out.data.resize(static_cast<size_t>(n));
  if (n > 0 && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data.data()) < 0)
    throw Error(what + " cannot be read (truncated or corrupt)");
  return out;
}

bool H5Group::has_attr(const std::string& name) const {
  std::lock_guard lock(h5_mutex());
  return H5Aexists(static_cast<hid_t>(id_), name.c_str()) > 0;
}

std::vector<std::string> H5Group::attr_strings(const std::string& name) const {
  std::lock_guard lock(h5_mutex());
  std::string what = file_->name + ": attribute '" + name + "' of '/" + path_ + "'";
  hid_t a = H5Aopen(static_cast<hid_t>(id_), name.c_str(), H5P_DEFAULT);
  if (a < 0) throw Error(what + " is missing");
  Handle ah{a, H5Aclose};
  Handle th{H5Aget_type(a), H5Tclose};
  Handle sh{H5Aget_space(a), H5Sclose};
  hssize_t count = H5Sget_simple_extent_npoints(sh.id);
  if (count == 0) return {};  // numpy writes an empty list as an empty float array
  if (H5Tget_class(th.id) != H5T_STRING) throw Error(what + " is not a string");
  if (count < 0 || count > (1 << 24)) throw Error(what + " has a bad size");
  std::vector<std::string> out;
  if (H5Tis_variable_str(th.id) > 0) {
    std::vector<char*> ptrs(static_cast<size_t>(count), nullptr);
    Handle mt{H5Tcopy(H5T_C_S1), H5Tclose};
    H5Tset_size(mt.id, H5T_VARIABLE);
    H5Tset_cset(mt.id, H5Tget_cset(th.id));
    if (count > 0 && H5Aread(a, mt.id, ptrs.data()) < 0) throw Error(what + " cannot be read");
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    if (count > 0) H5Dvlen_reclaim(mt.id, sh.id, H5P_DEFAULT, ptrs.data());
  } else {
    size_t width = H5Tget_size(th.id);
    if (width == 0 || width > (size_t{1} << 28) / static_cast<size_t>(std::max<hssize_t>(count, 1)))
      throw Error(what + " has a bad size");
    std::vector<char> buf(width * static_cast<size_t>(count) + 1, 0);
    if (count > 0 && H5Aread(a, th.id, buf.data()) < 0) throw Error(what + " cannot be read");
    for (hssize_t i = 0; i < count; ++i) {
      const char* p = buf.data() + static_cast<size_t>(i) * width;
      out.emplace_back(p, strnlen(p, width));
    }
  }
  return out;
}

std::optional<std::string> H5Group::attr_string(const std::string& name) const {
  if (!has_attr(name)) return std::nullopt;
  auto all = attr_strings(name);
  if (all.size() != 1) throw Error(file_->name + ": attribute '" + name + "' is not a single string");
  return all[0];
}

}  // namespace kerasrt::io
