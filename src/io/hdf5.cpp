#include "io/hdf5.hpp"

#include <cstring>
#include <kerasrt/kerasrt.hpp>

#include "io/hdf5_snapshot.hpp"
#include "io/npy.hpp"

namespace kerasrt::io {
namespace {

using namespace h5limits;

// ---- parsing the snapshot --------------------------------------------------------------------------

class Reader {
 public:
  Reader(const std::vector<uint8_t>& b, size_t image_size, const std::string& what)
      : begin_(b.data()), p_(b.data()), end_(b.data() + b.size()), image_size_(image_size), what_(what) {}
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
    if (static_cast<size_t>(end_ - p_) < sizeof kSnapshotMagic || std::memcmp(p_, kSnapshotMagic, sizeof kSnapshotMagic) != 0) return false;
    p_ += sizeof kSnapshotMagic;
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
      if (n->data_count & kSnapshotInPlace) {
        n->data_count &= ~kSnapshotInPlace;
        uint64_t at = u64();
        if (n->data_count > static_cast<uint64_t>(kMaxElements) || at > image_size_ ||
            n->data_count * sizeof(float) > image_size_ - at)
          need(UINT64_MAX);
        n->data_offset = static_cast<size_t>(at);
        n->data_in_image = true;
      } else {
        n->data_offset = floats(n->data_count);
      }
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
  size_t image_size_;
  std::string what_;
};

}  // namespace

struct H5File::State {
  std::string name;
  std::vector<uint8_t> snapshot;  // the stream the nodes point into
  SharedBytes image;              // held when datasets are read from it in place
  std::unique_ptr<H5Node> root;
};

bool H5File::looks_like_hdf5(std::span<const uint8_t> head) {
  static const uint8_t sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  return head.size() >= 8 && std::memcmp(head.data(), sig, 8) == 0;
}

H5File H5File::open_file(const std::string& path) {
  std::shared_ptr<const ByteBuffer> bytes = read_file_buffer(path, uint64_t{16} << 30);
  std::span<const uint8_t> all = bytes->bytes();
  return open_shared({std::move(bytes), all}, path);
}

H5File H5File::open_memory(std::span<const uint8_t> bytes, const std::string& name) {
  return open_shared({nullptr, bytes}, name);
}

H5File H5File::open_shared(SharedBytes image, const std::string& name) {
  // HDF5 also finds a file whose superblock sits at 512, 1024, ... (a user block); Keras never
  // writes one, so the signature must be at the start.
  if (!looks_like_hdf5(image.bytes)) throw Error(name + ": not an HDF5 file (bad signature)");
  // Without an owner the bytes are not kept, so the values are copied into the snapshot.
  const bool keep = image.owner != nullptr;
  auto state = std::make_shared<State>();
  state->name = name;
  state->snapshot = hdf5_snapshot(image.bytes, !keep);
  if (keep) state->image = std::move(image);
  Reader in(state->snapshot, state->image.bytes.size(), name);
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

const uint8_t* H5Group::values(const std::string& name, const H5Node*& node) const {
  const H5Node* n = find(name);
  std::string what = file_->name + ": dataset '" + full(name) + "'";
  if (!n || n->kind != H5Node::Kind::dataset) throw Error(what + " is missing");
  if (!n->problem.empty()) throw Error(what + " " + n->problem);
  int64_t count = 1;
  for (int64_t d : n->shape) count *= d;
  if (count != static_cast<int64_t>(n->data_count)) throw Error(what + " is inconsistent (corrupt file)");
  node = n;
  const uint8_t* base = n->data_in_image ? file_->image.bytes.data() : file_->snapshot.data();
  return base + n->data_offset;
}

H5Array H5Group::read(const std::string& name) const {
  const H5Node* n = nullptr;
  const void* from = values(name, n);
  H5Array out{n->shape, std::vector<float>(static_cast<size_t>(n->data_count))};
  if (n->data_count > 0) std::memcpy(out.data.data(), from, out.data.size() * sizeof(float));
  return out;
}

std::shared_ptr<const Tensor> H5Group::read_tensor(const std::string& name) const {
  const H5Node* n = nullptr;
  const void* from = values(name, n);
  auto out = std::make_shared<Tensor>(n->shape, DType::kFloat32);
  if (n->data_count > 0) std::memcpy(out->raw(), from, static_cast<size_t>(n->data_count) * sizeof(float));
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
