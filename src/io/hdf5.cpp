#include "io/hdf5.hpp"

#include <fcntl.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <kerasrt/kerasrt.hpp>
#include <mutex>
#include <set>
#include <string_view>

#include "io/npy.hpp"

namespace kerasrt::io {
namespace {

// ---- limits ------------------------------------------------------------------------------------
constexpr int64_t kMaxElements = int64_t{1} << 30;  // one dataset, float32 elements
constexpr int kMaxDepth = 64;
constexpr int64_t kMaxObjects = int64_t{1} << 20;
constexpr size_t kMaxAttrs = 1 << 16;                // per object
constexpr size_t kMaxNameBytes = 1 << 16;
constexpr uint64_t kMaxAttrBytes = uint64_t{1} << 28;  // one attribute's strings, all together
constexpr uint64_t kMaxFileBytes = uint64_t{16} << 30;

// The HDF5 library is not built thread-safe on Debian: serialise every call into it.
std::recursive_mutex& h5_mutex() {
  static std::recursive_mutex m;
  return m;
}

// ---- the snapshot stream -------------------------------------------------------------------------
// magic, then 'X' + message (the file could not be read) or a node, then 'E'.
// node: kind; u32 #attrs, each name + ('S' u32 #strings, strings | 'N' problem);
//   group: u32 #children, each name + node; dataset: problem, u32 rank, i64 dims, u64 n, n floats;
//   other: note.
constexpr char kMagic[8] = {'K', 'R', 'H', '5', 'S', 'N', 'P', '1'};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual bool write(const void* p, size_t n) = 0;  // false once the reader is gone
  void u8(uint8_t v) { write(&v, 1); }
  void u32(uint32_t v) { write(&v, 4); }
  void u64(uint64_t v) { write(&v, 8); }
  void str(const std::string& s) {
    u64(s.size());
    write(s.data(), s.size());
  }
};

class VectorSink : public Sink {
 public:
  bool write(const void* p, size_t n) override {
    const auto* b = static_cast<const uint8_t*>(p);
    bytes.insert(bytes.end(), b, b + n);
    return true;
  }
  std::vector<uint8_t> bytes;
};

class FdSink : public Sink {
 public:
  explicit FdSink(int fd) : fd_(fd) { buf_.reserve(kChunk); }
  bool write(const void* p, size_t n) override {
    const auto* b = static_cast<const uint8_t*>(p);
    while (n > 0) {
      size_t take = std::min(n, kChunk - buf_.size());
      buf_.insert(buf_.end(), b, b + take);
      b += take;
      n -= take;
      if (buf_.size() == kChunk && !flush()) return false;
    }
    return true;
  }
  bool flush() {
    size_t done = 0;
    while (done < buf_.size()) {
      ssize_t w = ::write(fd_, buf_.data() + done, buf_.size() - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      done += static_cast<size_t>(w);
    }
    buf_.clear();
    return true;
  }

 private:
  static constexpr size_t kChunk = size_t{1} << 20;
  int fd_;
  std::vector<uint8_t> buf_;
};

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
bool usable_link_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.size() <= kMaxNameBytes;
}

class Walker {
 public:
  explicit Walker(Sink& sink) : out_(sink) {}

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

  Sink& out_;
  std::vector<float> buffer_;
  std::set<haddr_t> seen_;
  int64_t objects_ = 0;
};

void silence_hdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

// Writes the snapshot of the file image to `out`. Never throws; returns 0, or kFailed /
// kOutOfMemory when the stream is left incomplete.
constexpr int kFailed = 3, kOutOfMemory = 4;
int write_snapshot(std::span<const uint8_t> image, Sink& out) {
  try {
    out.write(kMagic, sizeof kMagic);
    silence_hdf5();
    hid_t file = H5LTopen_file_image(const_cast<uint8_t*>(image.data()), image.size(),
                                     H5LT_FILE_IMAGE_DONT_COPY | H5LT_FILE_IMAGE_DONT_RELEASE);
    if (file < 0) {
      out.u8('X');
      out.str("cannot open as HDF5 (truncated or corrupt)");
    } else {
      Closer fc{file, H5Fclose};
      Walker(out).object(file, "/", 0);
    }
    out.u8('E');
    return 0;
  } catch (const std::bad_alloc&) {
    return kOutOfMemory;
  } catch (...) {
    return kFailed;
  }
}

std::string failure_for_status(int code) {
  return code == kOutOfMemory ? "reading it needs more memory than allowed" : "reading it failed";
}

// ---- running the walk in a child process ---------------------------------------------------------

struct ChildResult {
  std::vector<uint8_t> bytes;
  std::string failure;  // why the child gave no complete snapshot, when it did not
};

void limit_child(size_t image_bytes) {
  struct rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  // The child inherits the parent's address space; allow a bounded amount on top of it.
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    unsigned long long pages = 0;
    if (std::fscanf(f, "%llu", &pages) == 1) {
      uint64_t have = static_cast<uint64_t>(pages) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
      uint64_t budget = (uint64_t{2} << 30) + 8 * static_cast<uint64_t>(image_bytes);
      struct rlimit as{have + budget, have + budget};
      struct rlimit cur;
      if (getrlimit(RLIMIT_AS, &cur) == 0 && (cur.rlim_cur == RLIM_INFINITY || cur.rlim_cur > as.rlim_cur))
        setrlimit(RLIMIT_AS, &as);
    }
    std::fclose(f);
  }
}

ChildResult snapshot_in_child(std::span<const uint8_t> image) {
  ChildResult r;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    r.failure = "fork";
    return r;
  }
  pid_t pid;
  {
    // Nobody else is inside HDF5 while the child is made, so its copy of the library is consistent.
    std::lock_guard lock(h5_mutex());
    pid = fork();
  }
  if (pid == 0) {
    close(fds[0]);
    int out = fds[1];
    if (out <= STDERR_FILENO) out = fcntl(out, F_DUPFD, STDERR_FILENO + 1);
    // Pipes of loads running in other threads must not be held open by this child.
    if (out > 3) close_range(3, static_cast<unsigned>(out) - 1, 0);
    close_range(static_cast<unsigned>(out) + 1, ~0U, 0);
    // Whatever the library or the C runtime prints while failing stays out of the caller's output.
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) {
      dup2(devnull, STDOUT_FILENO);
      dup2(devnull, STDERR_FILENO);
      if (devnull > STDERR_FILENO) close(devnull);
    }
    signal(SIGPIPE, SIG_DFL);
    limit_child(image.size());
    FdSink sink(out);
    int code = write_snapshot(image, sink);
    sink.flush();
    _exit(code);
  }
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    r.failure = "fork";
    return r;
  }
  // Quiet for longer than this means the library is stuck (large datasets are read in one call).
  int idle_ms = 10000 + static_cast<int>(std::min<uint64_t>(image.size() / 10000, 600000));
  uint64_t cap = (uint64_t{256} << 20) + 8 * static_cast<uint64_t>(image.size());
  bool timed_out = false, too_big = false;
  // Weights are mostly float32 already: the snapshot is about as large as the file.
  r.bytes.reserve(image.size() + image.size() / 8 + (size_t{1} << 20));
  std::vector<uint8_t> chunk(size_t{1} << 18);
  while (true) {
    pollfd p{fds[0], POLLIN, 0};
    int ready = poll(&p, 1, idle_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      timed_out = true;
      break;
    }
    if (ready < 0) break;
    ssize_t got = read(fds[0], chunk.data(), chunk.size());
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    r.bytes.insert(r.bytes.end(), chunk.begin(), chunk.begin() + got);
    if (r.bytes.size() > cap) {
      too_big = true;
      break;
    }
  }
  close(fds[0]);
  if (timed_out || too_big) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out)
    r.failure = "reading it did not finish within " + std::to_string(idle_ms / 1000) + " s";
  else if (too_big)
    r.failure = "reading it produced implausibly much data";
  else if (WIFSIGNALED(status))
    r.failure = "the HDF5 library crashed reading it: " + std::string(strsignal(WTERMSIG(status)));
  else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    r.failure = failure_for_status(WIFEXITED(status) ? WEXITSTATUS(status) : kFailed);
  return r;
}

// ---- parsing the snapshot --------------------------------------------------------------------------

class Reader {
 public:
  Reader(const std::vector<uint8_t>& b, const std::string& what)
      : begin_(b.data()), p_(b.data()), end_(b.data() + b.size()), what_(what) {}
  void need(uint64_t n) const {
    if (static_cast<uint64_t>(end_ - p_) < n) throw Error(what_ + ": corrupt HDF5 file (reading it stopped early)");
  }
  uint8_t u8() {
    need(1);
    return *p_++;
  }
  uint8_t peek() const {
    need(1);
    return *p_;
  }
  uint32_t u32() {
    uint32_t v;
    need(4);
    std::memcpy(&v, p_, 4);
    p_ += 4;
    return v;
  }
  uint64_t u64() {
    uint64_t v;
    need(8);
    std::memcpy(&v, p_, 8);
    p_ += 8;
    return v;
  }
  std::string str() {
    uint64_t n = u64();
    need(n);
    std::string s(reinterpret_cast<const char*>(p_), static_cast<size_t>(n));
    p_ += n;
    return s;
  }
  // Skips over n float32 values and says where they start.
  size_t floats(uint64_t n) {
    if (n > static_cast<uint64_t>(kMaxElements)) need(UINT64_MAX);
    need(n * sizeof(float));
    size_t at = static_cast<size_t>(p_ - begin_);
    p_ += n * sizeof(float);
    return at;
  }
  bool magic() {
    if (static_cast<size_t>(end_ - p_) < sizeof kMagic || std::memcmp(p_, kMagic, sizeof kMagic) != 0) return false;
    p_ += sizeof kMagic;
    return true;
  }
  std::unique_ptr<H5Node> node(int depth) {
    if (depth > kMaxDepth + 1) need(UINT64_MAX);
    auto n = std::make_unique<H5Node>();
    uint8_t kind = u8();
    uint32_t attrs = u32();
    for (uint32_t i = 0; i < attrs; ++i) {
      H5Node::Attr a;
      a.name = str();
      uint8_t t = u8();
      if (t == 'S') {
        a.is_string = true;
        uint32_t k = u32();
        for (uint32_t j = 0; j < k; ++j) a.strings.push_back(str());
      } else {
        a.problem = str();
      }
      n->attrs.push_back(std::move(a));
    }
    if (kind == static_cast<uint8_t>(H5Node::Kind::group)) {
      n->kind = H5Node::Kind::group;
      uint32_t count = u32();
      for (uint32_t i = 0; i < count; ++i) {
        std::string name = str();
        auto child = node(depth + 1);
        if (!usable_link_name(name) || n->index.count(name)) continue;
        n->index.emplace(name, child.get());
        n->children.emplace_back(std::move(name), std::move(child));
      }
    } else if (kind == static_cast<uint8_t>(H5Node::Kind::dataset)) {
      n->kind = H5Node::Kind::dataset;
      n->problem = str();
      uint32_t rank = u32();
      if (rank > 32) need(UINT64_MAX);
      for (uint32_t i = 0; i < rank; ++i) n->shape.push_back(static_cast<int64_t>(u64()));
      n->data_count = u64();
      n->data_offset = floats(n->data_count);
    } else if (kind == static_cast<uint8_t>(H5Node::Kind::other)) {
      n->note = str();
    } else {
      need(UINT64_MAX);
    }
    return n;
  }

 private:
  const uint8_t* begin_;
  const uint8_t* p_;
  const uint8_t* end_;
  std::string what_;
};

}  // namespace

struct H5File::State {
  std::string name;
  std::vector<uint8_t> snapshot;  // the stream the nodes point into
  std::unique_ptr<H5Node> root;
};

bool H5File::looks_like_hdf5(std::span<const uint8_t> head) {
  static const uint8_t sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  return head.size() >= 8 && std::memcmp(head.data(), sig, 8) == 0;
}

H5File H5File::open_file(const std::string& path) {
  auto bytes = read_file(path, kMaxFileBytes);
  return open_memory(bytes, path);
}

H5File H5File::open_memory(std::span<const uint8_t> bytes, const std::string& name) {
  // HDF5 also finds a file whose superblock sits at 512, 1024, ... (a user block); Keras never
  // writes one, so the signature must be at the start.
  if (!looks_like_hdf5(bytes)) throw Error(name + ": not an HDF5 file (bad signature)");
  ChildResult r = snapshot_in_child(bytes);
  if (r.failure == "fork") {
    // No child process to be had: read in this one.
    std::lock_guard lock(h5_mutex());
    VectorSink sink;
    int code = write_snapshot(bytes, sink);
    r = ChildResult{std::move(sink.bytes), code ? failure_for_status(code) : ""};
  }
  if (!r.failure.empty()) throw Error(name + ": corrupt HDF5 file (" + r.failure + ")");
  auto state = std::make_shared<State>();
  state->name = name;
  state->snapshot = std::move(r.bytes);
  Reader in(state->snapshot, name);
  if (!in.magic()) throw Error(name + ": corrupt HDF5 file (reading it failed)");
  if (in.peek() == 'X') {
    in.u8();
    throw Error(name + ": " + in.str());
  }
  state->root = in.node(0);
  if (in.u8() != 'E') throw Error(name + ": corrupt HDF5 file (reading it stopped early)");
  if (state->root->kind != H5Node::Kind::group) throw Error(name + ": corrupt HDF5 file (no root group)");
  H5File f;
  f.state_ = std::move(state);
  return f;
}

const std::string& H5File::name() const { return state_->name; }

H5Group H5File::root() const { return H5Group(state_, state_->root.get(), ""); }

// ---- H5Group over the snapshot -----------------------------------------------------------------------

H5Group::H5Group(std::shared_ptr<const H5File::State> file, const H5Node* node, std::string path)
    : file_(std::move(file)), node_(node), path_(std::move(path)) {}

std::string H5Group::full(const std::string& name) const { return path_.empty() ? name : path_ + "/" + name; }

const H5Node* H5Group::find(const std::string& name) const {
  const H5Node* n = node_;
  size_t pos = 0;
  while (n && pos <= name.size()) {
    size_t slash = name.find('/', pos);
    std::string part = name.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
    if (!part.empty() && part != ".") {
      if (n->kind != H5Node::Kind::group) return nullptr;
      auto it = n->index.find(part);
      n = it == n->index.end() ? nullptr : it->second;
    }
    if (slash == std::string::npos) break;
    pos = slash + 1;
  }
  return n;
}

std::vector<std::string> H5Group::children() const {
  std::vector<std::string> names;
  for (const auto& [name, child] : node_->children) names.push_back(name);
  return names;
}

bool H5Group::has_group(const std::string& name) const {
  const H5Node* n = find(name);
  return n && n->kind == H5Node::Kind::group;
}

bool H5Group::has_dataset(const std::string& name) const {
  const H5Node* n = find(name);
  return n && n->kind == H5Node::Kind::dataset;
}

H5Group H5Group::group(const std::string& name) const {
  const H5Node* n = find(name);
  if (!n || n->kind != H5Node::Kind::group) throw Error(file_->name + ": no group '" + full(name) + "'");
  return H5Group(file_, n, full(name));
}

std::vector<int64_t> H5Group::dataset_shape(const std::string& name) const {
  const H5Node* n = find(name);
  std::string what = file_->name + ": dataset '" + full(name) + "'";
  if (!n || n->kind != H5Node::Kind::dataset) throw Error(what + " is missing");
  if (!n->problem.empty() && n->shape.empty()) throw Error(what + " " + n->problem);
  return n->shape;
}

H5Array H5Group::read(const std::string& name) const {
  const H5Node* n = find(name);
  std::string what = file_->name + ": dataset '" + full(name) + "'";
  if (!n || n->kind != H5Node::Kind::dataset) throw Error(what + " is missing");
  if (!n->problem.empty()) throw Error(what + " " + n->problem);
  int64_t count = 1;
  for (int64_t d : n->shape) count *= d;
  if (count != static_cast<int64_t>(n->data_count)) throw Error(what + " is inconsistent (corrupt file)");
  H5Array out{n->shape, std::vector<float>(static_cast<size_t>(count))};
  if (count > 0) std::memcpy(out.data.data(), file_->snapshot.data() + n->data_offset, out.data.size() * sizeof(float));
  return out;
}

const H5Node::Attr* H5Group::find_attr(const std::string& name) const {
  for (const auto& a : node_->attrs)
    if (a.name == name) return &a;
  return nullptr;
}

bool H5Group::has_attr(const std::string& name) const { return find_attr(name) != nullptr; }

std::vector<std::string> H5Group::attr_names() const {
  std::vector<std::string> names;
  for (const auto& a : node_->attrs) names.push_back(a.name);
  return names;
}

std::vector<std::string> H5Group::attr_strings(const std::string& name) const {
  std::string what = file_->name + ": attribute '" + name + "' of '/" + path_ + "'";
  const H5Node::Attr* a = find_attr(name);
  if (!a) throw Error(what + " is missing");
  if (!a->is_string) throw Error(what + " " + a->problem);
  return a->strings;
}

std::optional<std::string> H5Group::attr_string(const std::string& name) const {
  if (!has_attr(name)) return std::nullopt;
  auto all = attr_strings(name);
  if (all.size() != 1) throw Error(file_->name + ": attribute '" + name + "' is not a single string");
  return all[0];
}

}  // namespace kerasrt::io
