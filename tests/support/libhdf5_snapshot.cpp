// The test oracle: the snapshot stream (src/io/hdf5_snapshot.hpp) of an HDF5 file as the HDF5 C
// library reads it, to compare kerasrt's own reader with, byte for byte.
#include "libhdf5_snapshot.hpp"

#include <hdf5.h>
#include <hdf5_hl.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <set>

namespace kerasrt::testing {
namespace {

using namespace io::h5limits;
using io::H5Node;
using io::SnapshotSink;
using io::usable_link_name;

// ---- walking a file with the HDF5 library (in the child) ---------------------------------------

struct Closer {
  hid_t id;
  herr_t (*close)(hid_t);
  ~Closer() {
    if (id >= 0) close(id);
  }
};

std::vector<int64_t> space_shape(hid_t space, std::string& problem) {
  int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0 || rank > 32) {
    problem = "has a bad dataspace";
    return {};
  }
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0 && H5Sget_simple_extent_dims(space, dims.data(), nullptr) < 0) {
    problem = "has a bad dataspace";
    return {};
  }
  std::vector<int64_t> shape;
  for (hsize_t d : dims) {
    if (d > static_cast<hsize_t>(kMaxElements)) {
      problem = "is implausibly large";
      return {};
    }
    shape.push_back(static_cast<int64_t>(d));
  }
  return shape;
}

// A link name that cannot be mistaken for a path: "." or "a/b" would lead back into the tree.

class Walker {
 public:
  explicit Walker(SnapshotSink& sink) : out_(sink) {}

  void object(hid_t loc, const char* name, int depth) {
    hid_t obj = H5Oopen(loc, name, H5P_DEFAULT);
    if (obj < 0) return other("an object that cannot be opened");
    Closer oc{obj, H5Oclose};
    H5O_info_t info;
    if (H5Oget_info2(obj, &info, H5O_INFO_BASIC) < 0) return other("an object without readable info");
    if (!seen_.insert(info.addr).second) return other("a second link to an object already listed");
    if (++objects_ > kMaxObjects) return other("an object past the limit on objects per file");
    if (info.type == H5O_TYPE_GROUP) {
      out_.u8(static_cast<uint8_t>(H5Node::Kind::group));
      attributes(obj);
      group_children(obj, depth);
    } else if (info.type == H5O_TYPE_DATASET) {
      out_.u8(static_cast<uint8_t>(H5Node::Kind::dataset));
      attributes(obj);
      dataset(obj);
    } else {
      other("a named datatype or an unknown object");
    }
  }

 private:
  void other(const std::string& note) {
    out_.u8(static_cast<uint8_t>(H5Node::Kind::other));
    out_.u32(0);
    out_.str(note);
  }

  struct Link {
    std::string name;
    bool hard;
  };
  static herr_t collect_link(hid_t, const char* name, const H5L_info_t* info, void* data) {
    auto* links = static_cast<std::vector<Link>*>(data);
    if (links->size() >= static_cast<size_t>(kMaxObjects)) return 1;  // stop iterating
    if (!usable_link_name(name)) return 0;  // only a corrupt file has these
    links->push_back({name, info->type == H5L_TYPE_HARD});
    return 0;
  }

  void group_children(hid_t group, int depth) {
    std::vector<Link> links;
    hsize_t idx = 0;
    if (depth < kMaxDepth)
      H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_link, &links);  // partial list on error
    out_.u32(static_cast<uint32_t>(links.size()));
    for (const Link& l : links) {
      out_.str(l.name);
      if (!l.hard) other("a soft or external link (not followed)");
      else object(group, l.name.c_str(), depth + 1);
    }
  }

  void attributes(hid_t obj) {
    H5O_info_t info;
    hsize_t n = 0;
    if (H5Oget_info2(obj, &info, H5O_INFO_NUM_ATTRS) >= 0) n = info.num_attrs;
    n = std::min<hsize_t>(n, kMaxAttrs);
    // Collect first: an attribute that cannot even be opened is left out.
    std::vector<std::pair<std::string, hid_t>> opened;
    for (hsize_t i = 0; i < n; ++i) {
      hid_t a = H5Aopen_by_idx(obj, ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT);
      if (a < 0) continue;
      ssize_t len = H5Aget_name(a, 0, nullptr);
      if (len <= 0 || static_cast<size_t>(len) > kMaxNameBytes) {
        H5Aclose(a);
        continue;
      }
      std::string name(static_cast<size_t>(len) + 1, '\0');
      H5Aget_name(a, name.size(), name.data());
      name.resize(static_cast<size_t>(len));
      opened.emplace_back(std::move(name), a);
    }
    out_.u32(static_cast<uint32_t>(opened.size()));
    for (auto& [name, a] : opened) {
      Closer ac{a, H5Aclose};
      out_.str(name);
      std::vector<std::string> strings;
      std::string problem = attribute_strings(a, strings);
      if (problem.empty()) {
        out_.u8('S');
        out_.u32(static_cast<uint32_t>(strings.size()));
        for (const auto& s : strings) out_.str(s);
      } else {
        out_.u8('N');
        out_.str(problem);
      }
    }
  }

  // Reads a string attribute; returns why not when it is not one.
  static std::string attribute_strings(hid_t a, std::vector<std::string>& out) {
    Closer th{H5Aget_type(a), H5Tclose};
    Closer sh{H5Aget_space(a), H5Sclose};
    if (th.id < 0 || sh.id < 0) return "is unreadable";
    hssize_t count = H5Sget_simple_extent_npoints(sh.id);
    if (count < 0 || count > (1 << 24)) return "has a bad size";
    if (count == 0) return "";  // numpy writes an empty list as an empty float array
    if (H5Tget_class(th.id) != H5T_STRING) return "is not a string";
    if (H5Tis_variable_str(th.id) > 0) {
      std::vector<char*> ptrs(static_cast<size_t>(count), nullptr);
      Closer mt{H5Tcopy(H5T_C_S1), H5Tclose};
      H5Tset_size(mt.id, H5T_VARIABLE);
      H5Tset_cset(mt.id, H5Tget_cset(th.id));
      if (H5Aread(a, mt.id, ptrs.data()) < 0) return "cannot be read";
      uint64_t total = 0;
      for (char* p : ptrs) {
        size_t len = p ? strlen(p) : 0;
        total += len;
        if (total > kMaxAttrBytes) break;
        out.emplace_back(p ? p : "", len);
      }
      H5Dvlen_reclaim(mt.id, sh.id, H5P_DEFAULT, ptrs.data());
      if (total > kMaxAttrBytes) return "is implausibly large";
      return "";
    }
    size_t width = H5Tget_size(th.id);
    if (width == 0 || width > kMaxAttrBytes / static_cast<uint64_t>(count)) return "has a bad size";
    std::vector<char> buf(width * static_cast<size_t>(count), 0);
    if (H5Aread(a, th.id, buf.data()) < 0) return "cannot be read";
    for (hssize_t i = 0; i < count; ++i) {
      const char* p = buf.data() + static_cast<size_t>(i) * width;
      out.emplace_back(p, strnlen(p, width));
    }
    return "";
  }

  void dataset(hid_t d) {
    Closer sh{H5Dget_space(d), H5Sclose};
    Closer th{H5Dget_type(d), H5Tclose};
    Closer ph{H5Dget_create_plist(d), H5Pclose};
    std::string problem;
    std::vector<int64_t> shape;
    if (sh.id < 0 || th.id < 0 || ph.id < 0) problem = "has unreadable metadata";
    if (problem.empty()) shape = space_shape(sh.id, problem);
    int64_t n = 1;
    for (int64_t dim : shape) {
      if (dim > 0 && n > kMaxElements / dim) problem = "is implausibly large";
      if (!problem.empty()) break;
      n *= dim;
    }
    if (problem.empty()) {
      H5T_class_t cls = H5Tget_class(th.id);
      if (cls != H5T_FLOAT && cls != H5T_INTEGER)
        problem = "is not numeric (HDF5 type class " + std::to_string(static_cast<int>(cls)) + ")";
    }
    if (problem.empty()) problem = check_storage(d, th.id, ph.id, n);
    size_t count = 0;
    if (problem.empty() && n > 0) {
      // One buffer for all datasets: fresh pages are costly.
      if (buffer_.size() < static_cast<size_t>(n)) buffer_.resize(static_cast<size_t>(n));
      if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer_.data()) < 0)
        problem = "cannot be read (truncated or corrupt)";
      else
        count = static_cast<size_t>(n);
    }
    out_.str(problem);
    out_.u32(static_cast<uint32_t>(shape.size()));
    for (int64_t dim : shape) out_.u64(static_cast<uint64_t>(dim));
    out_.u64(count);
    out_.write(buffer_.data(), count * sizeof(float));
  }

  // A corrupt header can claim a huge array; the stored bytes must plausibly hold it before any
  // buffer is allocated for it.
  static std::string check_storage(hid_t d, hid_t type, hid_t plist, int64_t n) {
    if (n == 0) return "";
    uint64_t elem = H5Tget_size(type);
    if (elem == 0 || elem > 64) return "has a bad element size";
    uint64_t want = static_cast<uint64_t>(n) * elem;
    uint64_t stored = H5Dget_storage_size(d);
    H5D_layout_t layout = H5Pget_layout(plist);
    if (layout == H5D_COMPACT) return want <= 65536 ? "" : "is implausibly large for a compact dataset";
    if (stored == 0) return want <= 65536 ? "" : "has no stored data";
    int filters = H5Pget_nfilters(plist);
    if (filters > 0) {
      // deflate cannot expand more than about 1032:1
      if (want / 1100 > stored) return "is implausibly large for its compressed size";
      return "";
    }
    if (stored < want) return "is truncated";
    return "";
  }

  SnapshotSink& out_;
  std::vector<float> buffer_;
  std::set<haddr_t> seen_;
  int64_t objects_ = 0;
};

}  // namespace

std::vector<uint8_t> libhdf5_snapshot(std::span<const uint8_t> image) {
  static std::mutex m;  // Debian's HDF5 is not built thread-safe
  std::lock_guard lock(m);
  SnapshotSink out;
  out.write(io::kSnapshotMagic, sizeof io::kSnapshotMagic);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  hid_t file = H5LTopen_file_image(const_cast<uint8_t*>(image.data()), image.size(),
                                   H5LT_FILE_IMAGE_DONT_COPY | H5LT_FILE_IMAGE_DONT_RELEASE);
  if (file < 0) {
    out.u8('X');
    out.str("cannot open as HDF5");
  } else {
    Walker(out).object(file, "/", 0);
    H5Fclose(file);
  }
  out.u8('E');
  return std::move(out.bytes);
}

}  // namespace kerasrt::testing
