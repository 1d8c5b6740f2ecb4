// An HDF5 reader for the files Keras, tf.keras and h5py write, safe on hostile input: every offset
// and length is checked against the image before it is read, every walk is bounded, and nothing is
// allocated before its size is checked against the image. It covers superblocks 0-3, object headers
// 1 and 2 with continuations, symbol-table groups (v1 B-trees, local heaps) and link-message groups,
// compact attributes with fixed and variable-length strings (global heap), and contiguous, compact
// and chunked datasets (v1 B-tree or single-chunk index; deflate and shuffle) of little- or
// big-endian integers and IEEE floats. Dense (fractal-heap) link or attribute storage is refused by
// name. Layout facts come from the HDF5 File Format Specification, version 3.0.
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "io/hdf5_snapshot.hpp"

namespace kerasrt::io {
namespace {

using namespace h5limits;

// Deflate can reach ~1030:1 on zeros; weights do not come near 100:1 (LoadLimits keeps the same
// bound on archives), so more is taken as a file built to exhaust memory.
constexpr uint64_t kMaxInflateRatio = 100;

constexpr uint64_t kUndefined = ~uint64_t{0};

// A structural problem with the file: ends the object (or the file) being read.
struct Corrupt {
  std::string what;
};
[[noreturn]] void corrupt(std::string what) { throw Corrupt{std::move(what)}; }

// Checked reads of the image. Addresses are file offsets (the base address added).
class Image {
 public:
  explicit Image(std::span<const uint8_t> b) : b_(b) {}
  size_t size() const { return b_.size(); }
  void need(uint64_t at, uint64_t n) const {
    if (at > b_.size() || n > b_.size() - at) corrupt("reads past the end of the file");
  }
  uint64_t uint(uint64_t at, unsigned n) const {  // little-endian, 1..8 bytes
    need(at, n);
    uint64_t v = 0;
    for (unsigned i = 0; i < n; ++i) v |= static_cast<uint64_t>(b_[at + i]) << (8 * i);
    return v;
  }
  uint8_t u8(uint64_t at) const { return static_cast<uint8_t>(uint(at, 1)); }
  uint16_t u16(uint64_t at) const { return static_cast<uint16_t>(uint(at, 2)); }
  uint32_t u32(uint64_t at) const { return static_cast<uint32_t>(uint(at, 4)); }
  const uint8_t* ptr(uint64_t at, uint64_t n) const {
    need(at, n);
    return b_.data() + at;
  }
  bool matches(uint64_t at, const char* sig) const {
    const size_t n = std::strlen(sig);
    return at <= b_.size() && n <= b_.size() - at && std::memcmp(b_.data() + at, sig, n) == 0;
  }

 private:
  std::span<const uint8_t> b_;
};

// A cursor over a checked range of the image.
class Cursor {
 public:
  Cursor(const Image& img, uint64_t at, uint64_t end, unsigned offset_size, unsigned length_size)
      : img_(img), at_(at), end_(end), o_(offset_size), l_(length_size) {
    img.need(at, end - at);
  }
  uint64_t pos() const { return at_; }
  uint64_t left() const { return end_ - at_; }
  void skip(uint64_t n) {
    if (n > left()) corrupt("a message runs past its end");
    at_ += n;
  }
  uint64_t uint(unsigned n) {
    if (n > left()) corrupt("a message runs past its end");
    uint64_t v = img_.uint(at_, n);
    at_ += n;
    return v;
  }
  uint8_t u8() { return static_cast<uint8_t>(uint(1)); }
  uint16_t u16() { return static_cast<uint16_t>(uint(2)); }
  uint32_t u32() { return static_cast<uint32_t>(uint(4)); }
  uint64_t u64() { return uint(8); }
  uint64_t offset() { return uint(o_); }
  uint64_t length() { return uint(l_); }
  const uint8_t* bytes(uint64_t n) {
    if (n > left()) corrupt("a message runs past its end");
    const uint8_t* p = img_.ptr(at_, n);
    at_ += n;
    return p;
  }
  void align8(uint64_t from) { skip(std::min(left(), (8 - (at_ - from) % 8) % 8)); }

 private:
  const Image& img_;
  uint64_t at_, end_;
  unsigned o_, l_;
};

// ---- datatypes and dataspaces ---------------------------------------------------------------------

struct Datatype {
  int cls = -1;  // the format's class number (0 fixed-point, 1 float, 3 string, 9 variable-length, ...)
  uint32_t size = 0;
  bool big_endian = false, is_signed = false;
  bool vlen_string = false;
};

Datatype parse_datatype(Cursor& c) {
  Datatype t;
  const uint8_t cv = c.u8();
  t.cls = cv & 0x0F;
  const uint32_t bits = c.u8() | (c.u8() << 8) | (c.u8() << 16);
  t.size = c.u32();
  switch (t.cls) {
    case 0:  // fixed-point: byte order bit 0, signed bit 3; offset and precision
      t.big_endian = bits & 1;
      t.is_signed = bits & 8;
      c.skip(std::min<uint64_t>(4, c.left()));
      break;
    case 1:  // floating point: byte order bits 0 and 6 (6 set: VAX order, not supported)
      t.big_endian = bits & 1;
      if (bits & 0x40) t.cls = -2;
      c.skip(std::min<uint64_t>(12, c.left()));
      break;
    case 9:  // variable-length: bits 0-3 sequence (0) or string (1); the base type follows
      t.vlen_string = (bits & 0x0F) == 1;
      break;
    default:
      break;
  }
  return t;
}

// Dimensions of a dataspace message; nullopt for the null dataspace (no elements).
std::optional<std::vector<uint64_t>> parse_dataspace(Cursor& c) {
  const uint8_t version = c.u8();
  const uint8_t rank = c.u8();
  const uint8_t flags = c.u8();
  if (rank > 32) corrupt("a dataspace of rank " + std::to_string(rank));
  std::vector<uint64_t> dims;
  if (version == 1) {
    c.skip(5);  // reserved
  } else if (version == 2) {
    const uint8_t type = c.u8();
    if (type == 2) return std::nullopt;
  } else {
    corrupt("dataspace message version " + std::to_string(version));
  }
  for (uint8_t i = 0; i < rank; ++i) dims.push_back(c.length());
  (void)flags;
  return dims;
}

// ---- object headers ------------------------------------------------------------------------------

struct Message {
  uint16_t type;
  uint8_t flags;
  uint64_t at, size;
};

class File {
 public:
  explicit File(std::span<const uint8_t> bytes) : img_(bytes) {}

  // The superblock; returns the root object header address.
  uint64_t open() {
    if (!img_.matches(0, "\x89HDF\r\n\x1a\n")) corrupt("no HDF5 signature");
    const uint8_t version = img_.u8(8);
    uint64_t at = 0, root = kUndefined, eof = 0;
    if (version == 0 || version == 1) {
      o_ = img_.u8(13);
      l_ = img_.u8(14);
      check_sizes();
      at = version == 0 ? 24 : 28;
      Cursor c(img_, at, img_.size(), o_, l_);
      base_ = c.offset();
      c.offset();  // free space
      eof = c.offset();
      c.offset();  // driver info
      c.offset();  // root entry: link name offset
      root = c.offset();
    } else if (version == 2 || version == 3) {
      o_ = img_.u8(9);
      l_ = img_.u8(10);
      check_sizes();
      Cursor c(img_, 12, img_.size(), o_, l_);
      base_ = c.offset();
      c.offset();  // superblock extension
      eof = c.offset();
      root = c.offset();
    } else {
      corrupt("superblock version " + std::to_string(version));
    }
    if (base_ != 0) corrupt("a base address other than 0");
    // As the C library does, a file shorter than the superblock says is refused as truncated.
    if (eof != kUndefined && eof > img_.size())
      corrupt("truncated: the superblock gives " + std::to_string(eof) + " bytes, the file has " + std::to_string(img_.size()));
    return root;
  }

  const Image& image() const { return img_; }
  unsigned offset_size() const { return o_; }
  unsigned length_size() const { return l_; }
  Cursor at(uint64_t addr, uint64_t n) const {
    if (addr == kUndefined) corrupt("an undefined address is read");
    img_.need(addr, n);
    return Cursor(img_, addr, addr + n, o_, l_);
  }
  // From `addr` to the end of the file.
  Cursor from(uint64_t addr) const {
    if (addr == kUndefined || addr > img_.size()) corrupt("an address past the end of the file");
    return Cursor(img_, addr, img_.size(), o_, l_);
  }

  // The messages of the object header at `addr`, continuation blocks included.
  std::vector<Message> header(uint64_t addr) const {
    std::vector<Message> out;
    std::vector<std::pair<uint64_t, uint64_t>> blocks;  // continuation (address, length)
    int version = 0;
    if (img_.matches(addr, "OHDR")) {
      version = 2;
      Cursor c = from(addr + 4);
      if (c.u8() != 2) corrupt("object header version");
      const uint8_t flags = c.u8();
      if (flags & 0x20) c.skip(16);  // times
      if (flags & 0x10) c.skip(4);   // attribute phase change values
      const uint64_t size = c.uint(1u << (flags & 3));
      const uint64_t start = c.pos();
      if (size > c.left()) corrupt("an object header runs past the end of the file");
      messages_v2(start, size, flags, out, blocks);
    } else {
      version = 1;
      Cursor c = from(addr);
      if (c.u8() != 1) corrupt("object header version");
      c.u8();
      const uint16_t count = c.u16();
      c.u32();  // reference count
      const uint32_t size = c.u32();
      (void)count;
      const uint64_t start = addr + 16;  // the 12-byte prefix padded to 8
      img_.need(start, size);
      messages_v1(start, size, out, blocks);
    }
    std::set<uint64_t> seen{addr};
    for (size_t i = 0; i < blocks.size(); ++i) {
      auto [where, len] = blocks[i];
      if (!seen.insert(where).second || blocks.size() > 4096) corrupt("object header continuations loop");
      img_.need(where, len);
      if (version == 1) {
        messages_v1(where, len, out, blocks);
      } else {
        if (!img_.matches(where, "OCHK") || len < 8) corrupt("a bad object header continuation block");
        messages_v2(where + 4, len - 8, header_flags_, out, blocks);
      }
    }
    return out;
  }

 private:
  void check_sizes() const {
    auto ok = [](unsigned n) { return n == 2 || n == 4 || n == 8; };
    if (!ok(o_) || !ok(l_)) corrupt("offset or length size");
  }

  void messages_v1(uint64_t start, uint64_t size, std::vector<Message>& out,
                   std::vector<std::pair<uint64_t, uint64_t>>& blocks) const {
    Cursor c(img_, start, start + size, o_, l_);
    while (c.left() >= 8) {
      const uint16_t type = c.u16();
      const uint16_t msize = c.u16();
      const uint8_t flags = c.u8();
      c.skip(3);
      if (msize > c.left()) corrupt("a header message runs past its block");
      add(type, flags, c.pos(), msize, out, blocks);
      c.skip(msize);
    }
  }

  void messages_v2(uint64_t start, uint64_t size, uint8_t flags, std::vector<Message>& out,
                   std::vector<std::pair<uint64_t, uint64_t>>& blocks) const {
    header_flags_ = flags;
    Cursor c(img_, start, start + size, o_, l_);
    const unsigned prefix = (flags & 0x04) ? 6 : 4;
    while (c.left() >= prefix) {
      const uint8_t type = c.u8();
      const uint16_t msize = c.u16();
      const uint8_t mflags = c.u8();
      if (flags & 0x04) c.u16();  // creation order
      if (msize > c.left()) corrupt("a header message runs past its block");
      add(type, mflags, c.pos(), msize, out, blocks);
      c.skip(msize);
    }
  }

  void add(uint16_t type, uint8_t flags, uint64_t at, uint64_t size, std::vector<Message>& out,
           std::vector<std::pair<uint64_t, uint64_t>>& blocks) const {
    if (out.size() > 65536) corrupt("an object header with too many messages");
    if (type == 0x10) {  // continuation
      Cursor c(img_, at, at + size, o_, l_);
      const uint64_t where = c.offset(), len = c.length();
      blocks.emplace_back(where, len);
      return;
    }
    out.push_back({type, flags, at, size});
  }

  Image img_;
  unsigned o_ = 8, l_ = 8;
  uint64_t base_ = 0;
  mutable uint8_t header_flags_ = 0;
};

// ---- the tree ------------------------------------------------------------------------------------

struct Attr {
  std::string name;
  bool is_string = false;
  std::vector<std::string> strings;
  std::string problem;
};

struct Layout {
  int cls = -1;  // 0 compact, 1 contiguous, 2 chunked
  uint64_t address = kUndefined, size = 0;
  uint64_t compact_at = 0;          // compact: where the data sits
  std::vector<uint64_t> chunk;      // chunked: chunk dims (without the element size)
  int chunk_index = 0;              // 0: v1 B-tree; 1: single chunk; 2: implicit; 3: fixed array
  uint64_t single_chunk_size = 0;   // single chunk with filters: its stored size
  std::vector<uint16_t> filters;    // filter ids, in pipeline order
};

struct Node {
  enum Kind { kGroup, kDataset, kOther } kind = kOther;
  std::string note;
  std::vector<Attr> attrs;
  std::vector<std::pair<std::string, std::unique_ptr<Node>>> children;
  // datasets
  std::string problem;
  std::vector<int64_t> shape;
  Datatype type;
  Layout layout;
};

class Walker {
 public:
  explicit Walker(const File& f) : f_(f) {}

  std::unique_ptr<Node> object(uint64_t addr, int depth) {
    auto n = std::make_unique<Node>();
    if (!seen_.insert(addr).second) {
      n->note = "a second link to an object already listed";
      return n;
    }
    if (++objects_ > kMaxObjects) {
      n->note = "an object past the limit on objects per file";
      return n;
    }
    std::vector<Message> msgs;
    try {
      msgs = f_.header(addr);
    } catch (const Corrupt&) {
      n->note = "an object that cannot be opened";
      return n;
    }
    bool group = false, dataset = false;
    for (const Message& m : msgs) {
      group = group || m.type == 0x11 || m.type == 0x02 || m.type == 0x06;
      dataset = dataset || m.type == 0x08;
    }
    if (group) {
      n->kind = Node::kGroup;
      attributes(msgs, *n);
      if (depth < kMaxDepth) links(msgs, *n, depth);
    } else if (dataset) {
      n->kind = Node::kDataset;
      attributes(msgs, *n);
      describe_dataset(msgs, *n);
    } else {
      n->note = "a named datatype or an unknown object";
    }
    return n;
  }

 private:
  // ---- groups ----
  struct Link {
    std::string name;
    int type = 0;  // 0 hard, else soft or external
    uint64_t address = kUndefined;
  };

  void links(const std::vector<Message>& msgs, Node& n, int depth) {
    std::vector<Link> found;
    for (const Message& m : msgs) {
      Cursor c(f_.image(), m.at, m.at + m.size, f_.offset_size(), f_.length_size());
      if (m.type == 0x11) {
        const uint64_t btree = c.offset(), heap = c.offset();
        symbol_table(btree, heap, found);
      } else if (m.type == 0x06) {
        found.push_back(link_message(c));
      } else if (m.type == 0x02) {
        c.u8();  // version
        const uint8_t flags = c.u8();
        if (flags & 1) c.u64();
        const uint64_t heap = c.offset();
        if (heap != kUndefined)
          throw Corrupt{"dense link storage (a fractal heap), which kerasrt does not read; re-save the file with h5py's default libver"};
      }
      if (found.size() > static_cast<size_t>(kMaxObjects)) break;
    }
    std::sort(found.begin(), found.end(), [](const Link& a, const Link& b) { return a.name < b.name; });
    for (const Link& l : found) {
      if (!usable_link_name(l.name)) continue;
      std::unique_ptr<Node> child;
      if (l.type != 0) {
        child = std::make_unique<Node>();
        child->note = "a soft or external link (not followed)";
      } else {
        child = object(l.address, depth + 1);
      }
      n.children.emplace_back(l.name, std::move(child));
    }
  }

  Link link_message(Cursor& c) {
    if (c.u8() != 1) corrupt("link message version");
    const uint8_t flags = c.u8();
    Link l;
    if (flags & 0x08) l.type = c.u8();
    if (flags & 0x04) c.u64();  // creation order
    if (flags & 0x10) c.u8();   // character set
    const uint64_t len = c.uint(1u << (flags & 3));
    if (len == 0 || len > kMaxNameBytes) corrupt("a link name length");
    l.name.assign(reinterpret_cast<const char*>(c.bytes(len)), static_cast<size_t>(len));
    if (l.type == 0) l.address = c.offset();
    return l;
  }

  // A v1 B-tree of group nodes over SNODs, names in the local heap.
  void symbol_table(uint64_t btree, uint64_t heap, std::vector<Link>& out) {
    if (!f_.image().matches(heap, "HEAP")) corrupt("a symbol table without its local heap");
    Cursor h = f_.from(heap + 4);
    h.u8();
    h.skip(3);
    const uint64_t data_size = h.length();
    h.length();  // free list
    const uint64_t data = h.offset();
    f_.image().need(data, data_size);
    auto name_at = [&](uint64_t off) {
      if (off >= data_size) corrupt("a name outside the local heap");
      const char* p = reinterpret_cast<const char*>(f_.image().ptr(data + off, data_size - off));
      return std::string(p, strnlen(p, static_cast<size_t>(std::min<uint64_t>(data_size - off, kMaxNameBytes + 1))));
    };
    std::vector<std::pair<uint64_t, int>> todo{{btree, 0}};
    std::set<uint64_t> visited;
    while (!todo.empty()) {
      auto [node, level] = todo.back();
      todo.pop_back();
      if (!visited.insert(node).second || visited.size() > 1 << 20 || level > 64) corrupt("a group B-tree loops");
      if (f_.image().matches(node, "SNOD")) {
        Cursor s = f_.from(node + 4);
        s.u8();
        s.u8();
        const uint16_t count = s.u16();
        for (uint16_t i = 0; i < count; ++i) {
          const uint64_t name = s.offset(), obj = s.offset();
          const uint32_t cache = s.u32();
          s.u32();
          s.skip(16);
          out.push_back({name_at(name), cache == 2 ? 1 : 0, obj});
        }
        continue;
      }
      if (!f_.image().matches(node, "TREE")) corrupt("a group B-tree node without its signature");
      Cursor t = f_.from(node + 4);
      if (t.u8() != 0) corrupt("a group B-tree of the wrong type");
      t.u8();  // level
      const uint16_t entries = t.u16();
      t.offset();
      t.offset();
      t.length();  // key 0
      for (uint16_t i = 0; i < entries; ++i) {
        const uint64_t child = t.offset();
        t.length();
        todo.emplace_back(child, level + 1);
      }
    }
  }

  // ---- attributes ----
  void attributes(const std::vector<Message>& msgs, Node& n) {
    for (const Message& m : msgs) {
      if (m.type == 0x15) {  // attribute info: dense storage when its fractal heap is defined
        Cursor c(f_.image(), m.at, m.at + m.size, f_.offset_size(), f_.length_size());
        c.u8();
        const uint8_t flags = c.u8();
        if (flags & 1) c.u16();
        if (c.offset() != kUndefined)
          throw Corrupt{"dense attribute storage (a fractal heap), which kerasrt does not read"};
      }
      if (m.type != 0x0C || n.attrs.size() >= kMaxAttrs) continue;
      try {
        n.attrs.push_back(attribute(m));
      } catch (const Corrupt&) {
        // libhdf5 would fail to open it: it is left out, as the C library's walk leaves it.
      }
    }
    std::sort(n.attrs.begin(), n.attrs.end(), [](const Attr& a, const Attr& b) { return a.name < b.name; });
  }

  Attr attribute(const Message& m) {
    if (m.flags & 0x02) corrupt("a shared attribute message");
    Cursor c(f_.image(), m.at, m.at + m.size, f_.offset_size(), f_.length_size());
    const uint8_t version = c.u8();
    const uint8_t flags = c.u8();
    const uint16_t name_size = c.u16(), type_size = c.u16(), space_size = c.u16();
    if (version == 3) c.u8();  // name encoding
    if (version < 1 || version > 3) corrupt("attribute message version");
    const bool pad = version == 1;
    auto padded = [&](uint64_t n) { return pad ? (n + 7) / 8 * 8 : n; };
    Attr a;
    if (name_size == 0) corrupt("an attribute name size");
    const char* name = reinterpret_cast<const char*>(c.bytes(padded(name_size)));
    a.name.assign(name, strnlen(name, name_size));
    if (a.name.empty()) corrupt("an empty attribute name");
    if ((flags & 0x03) != 0) {  // a shared (committed) datatype or dataspace
      c.skip(std::min(c.left(), padded(type_size) + padded(space_size)));
      a.problem = "is not a string";
      return a;
    }
    const uint64_t type_at = c.pos();
    Cursor tc = f_.at(type_at, type_size);
    const Datatype t = parse_datatype(tc);
    c.skip(padded(type_size));
    Cursor sc = f_.at(c.pos(), space_size);
    const auto dims = parse_dataspace(sc);
    c.skip(padded(space_size));
    uint64_t count = dims ? 1 : 0;
    if (dims)
      for (uint64_t d : *dims) {
        if (d != 0 && count > static_cast<uint64_t>(kMaxAttrStrings) / d) count = static_cast<uint64_t>(kMaxAttrStrings) + 1;
        else count *= d;
      }
    if (count > static_cast<uint64_t>(kMaxAttrStrings)) {
      a.problem = "has a bad size";
      return a;
    }
    a.is_string = true;
    if (count == 0) return a;  // numpy writes an empty list as an empty float array
    if (t.cls == 3) {
      if (t.size == 0 || t.size > kMaxAttrBytes / count) return problem(a, "has a bad size");
      const uint8_t* data = c.bytes(t.size * count);
      for (uint64_t i = 0; i < count; ++i) {
        const char* p = reinterpret_cast<const char*>(data + i * t.size);
        a.strings.emplace_back(p, strnlen(p, t.size));
      }
      return a;
    }
    if (t.cls == 9 && t.vlen_string) {
      const uint64_t elem = 4 + f_.offset_size() + 4;
      if (count > c.left() / elem) corrupt("variable-length strings past the attribute's end");
      uint64_t total = 0;
      for (uint64_t i = 0; i < count; ++i) {
        const uint32_t len = c.u32();
        const uint64_t collection = c.offset();
        const uint32_t index = c.u32();
        std::string s = len == 0 ? std::string() : global_heap_object(collection, index);
        s.resize(strnlen(s.data(), s.size()));  // the C library returns C strings
        total += s.size();
        if (total > kMaxAttrBytes) return problem(a, "is implausibly large");
        a.strings.push_back(std::move(s));
      }
      return a;
    }
    return problem(a, "is not a string");
  }

  static Attr problem(Attr& a, const std::string& why) {
    a.is_string = false;
    a.strings.clear();
    a.problem = why;
    return a;
  }

  std::string global_heap_object(uint64_t collection, uint32_t index) {
    if (!f_.image().matches(collection, "GCOL")) corrupt("a global heap collection without its signature");
    Cursor c = f_.from(collection + 4);
    c.u8();
    c.skip(3);
    const uint64_t size = c.length();
    if (size < 16 || size > f_.image().size() - collection) corrupt("a global heap collection's size");
    Cursor objs = f_.at(collection + 16, size - 16);
    while (objs.left() >= 8 + f_.length_size()) {
      const uint16_t idx = objs.u16();
      objs.u16();
      objs.u32();
      const uint64_t osize = objs.length();
      if (idx == 0) break;  // free space
      if (osize > objs.left()) corrupt("a global heap object past its collection");
      const uint8_t* p = objs.bytes(osize);
      if (idx == index) return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(osize));
      objs.skip(std::min(objs.left(), (8 - osize % 8) % 8));
    }
    corrupt("a global heap object that is missing");
  }

  // ---- datasets ----
  void describe_dataset(const std::vector<Message>& msgs, Node& n) {
    std::optional<std::vector<uint64_t>> dims;
    std::vector<uint16_t> filters;  // the pipeline may come before or after the layout
    bool have_space = false, have_type = false;
    try {
      for (const Message& m : msgs) {
        Cursor c(f_.image(), m.at, m.at + m.size, f_.offset_size(), f_.length_size());
        if (m.type == 0x01) {
          dims = parse_dataspace(c);
          have_space = true;
        } else if (m.type == 0x03) {
          if (m.flags & 0x02) corrupt("a shared datatype");
          n.type = parse_datatype(c);
          have_type = true;
        } else if (m.type == 0x08) {
          n.layout = parse_layout(c);
        } else if (m.type == 0x0B) {
          filters = parse_filters(c);
        }
      }
      n.layout.filters = std::move(filters);
    } catch (const Corrupt&) {
      n.problem = "has unreadable metadata";
      return;
    }
    if (!have_space || !have_type || n.layout.cls < 0) {
      n.problem = "has unreadable metadata";
      return;
    }
    if (dims)
      for (uint64_t d : *dims) {
        if (d > static_cast<uint64_t>(kMaxElements)) {
          n.problem = "is implausibly large";
          n.shape.clear();
          return;
        }
        n.shape.push_back(static_cast<int64_t>(d));
      }
  }

  Layout parse_layout(Cursor& c) {
    Layout l;
    const uint8_t version = c.u8();
    if (version == 1 || version == 2) {
      const uint8_t rank = c.u8();
      l.cls = c.u8();
      c.skip(5);
      if (l.cls != 0) l.address = c.offset();
      for (uint8_t i = 0; i < rank; ++i) l.chunk.push_back(c.u32());
      if (l.cls == 2) {
        c.u32();  // element size
        if (!l.chunk.empty()) l.chunk.pop_back();
      }
      if (l.cls == 0) {
        l.size = c.u32();
        l.compact_at = c.pos();
      } else if (l.cls == 1) {
        l.chunk.clear();
      }
      return l;
    }
    if (version != 3 && version != 4) corrupt("data layout message version");
    l.cls = c.u8();
    if (l.cls == 0) {
      l.size = c.u16();
      l.compact_at = c.pos();
      c.skip(l.size);
    } else if (l.cls == 1) {
      l.address = c.offset();
      l.size = c.length();
    } else if (l.cls == 2 && version == 3) {
      const uint8_t rank = c.u8();
      l.address = c.offset();
      if (rank < 2 || rank > 33) corrupt("a chunked layout's rank");
      for (uint8_t i = 0; i < rank; ++i) l.chunk.push_back(c.u32());
      l.chunk.pop_back();  // the element size
    } else if (l.cls == 2) {
      const uint8_t flags = c.u8();
      const uint8_t rank = c.u8();
      const uint8_t width = c.u8();
      if (rank < 2 || rank > 33 || width < 1 || width > 8) corrupt("a chunked layout's dimensions");
      for (uint8_t i = 0; i < rank; ++i) l.chunk.push_back(c.uint(width));
      l.chunk.pop_back();
      l.chunk_index = c.u8();
      if (l.chunk_index == 1) {  // single chunk
        if (flags & 0x02) {
          l.single_chunk_size = c.length();
          c.u32();  // filter mask
        }
      } else if (l.chunk_index == 3) {  // fixed array: page bits
        c.u8();
      } else if (l.chunk_index != 2) {  // 2: implicit; 4, 5: only for unlimited dimensions
        corrupt("a chunk index of type " + std::to_string(l.chunk_index));
      }
      l.address = c.offset();
    } else {
      corrupt("data layout class " + std::to_string(l.cls));
    }
    return l;
  }

  std::vector<uint16_t> parse_filters(Cursor& c) {
    const uint8_t version = c.u8();
    const uint8_t count = c.u8();
    if (count > 32) corrupt("a filter pipeline of " + std::to_string(count));
    if (version == 1) c.skip(6);
    std::vector<uint16_t> ids;
    for (uint8_t i = 0; i < count; ++i) {
      const uint16_t id = c.u16();
      const uint16_t name_len = (version == 1 || id >= 256) ? c.u16() : 0;
      c.u16();  // flags
      const uint16_t values = c.u16();
      c.skip(version == 1 ? (name_len + 7) / 8 * 8 : name_len);
      c.skip(uint64_t{4} * values);
      if (version == 1 && values % 2) c.skip(4);
      ids.push_back(id);
    }
    return ids;
  }

  const File& f_;
  std::set<uint64_t> seen_;
  int64_t objects_ = 0;
};

// ---- reading values ------------------------------------------------------------------------------

float half_to_float(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      int e = -1;
      uint32_t m = mant;
      do {
        ++e;
        m <<= 1;
      } while (!(m & 0x400));
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (m & 0x3FF) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | mant << 13;
  } else {
    bits = sign | (exp - 15 + 127) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// `n` elements of type `t` at `src` as float32, as the C library converts them.
bool convert(const Datatype& t, const uint8_t* src, uint64_t n, float* out) {
  const uint32_t w = t.size;
  auto load = [&](uint64_t i) {
    uint64_t v = 0;
    const uint8_t* p = src + i * w;
    for (uint32_t b = 0; b < w; ++b) v |= static_cast<uint64_t>(p[t.big_endian ? w - 1 - b : b]) << (8 * b);
    return v;
  };
  if (t.cls == 1 && w == 4 && !t.big_endian) {
    std::memcpy(out, src, n * 4);
    return true;
  }
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t v = load(i);
    if (t.cls == 1) {
      if (w == 2) {
        out[i] = half_to_float(static_cast<uint16_t>(v));
      } else if (w == 4) {
        uint32_t b = static_cast<uint32_t>(v);
        std::memcpy(&out[i], &b, 4);
      } else if (w == 8) {
        double d;
        std::memcpy(&d, &v, 8);
        out[i] = static_cast<float>(d);
      } else {
        return false;
      }
    } else if (t.cls == 0) {
      if (w > 8 || w == 0) return false;
      if (t.is_signed) {
        const unsigned shift = 64 - 8 * w;
        const int64_t s = static_cast<int64_t>(v << shift) >> shift;
        out[i] = static_cast<float>(s);
      } else {
        out[i] = static_cast<float>(v);
      }
    } else {
      return false;
    }
  }
  return true;
}

// Undoes HDF5's shuffle filter: bytes were grouped by their position within an element.
std::vector<uint8_t> unshuffle(const std::vector<uint8_t>& in, uint32_t elem) {
  if (elem <= 1) return in;
  std::vector<uint8_t> out(in.size());
  const size_t n = in.size() / elem;
  for (size_t b = 0; b < elem; ++b)
    for (size_t i = 0; i < n; ++i) out[i * elem + b] = in[b * n + i];
  std::copy(in.begin() + static_cast<std::ptrdiff_t>(n * elem), in.end(), out.begin() + static_cast<std::ptrdiff_t>(n * elem));
  return out;
}

class DataReader {
 public:
  explicit DataReader(const File& f) : f_(f) {}

  // Reads the dataset's values into `out` (n floats); returns a problem or "".
  std::string read(const Node& d, int64_t n, std::vector<float>& out) {
    const Datatype& t = d.type;
    if (t.size == 0 || t.size > 64) return "has a bad element size";
    const uint64_t want = static_cast<uint64_t>(n) * t.size;
    if (n == 0) {
      out.clear();
      return "";
    }
    const Layout& l = d.layout;
    // The stored bytes must hold the array before a buffer is allocated for it.
    try {
      if (l.cls == 0) {
        if (want > 65536) return "is implausibly large for a compact dataset";
        if (l.size < want) return "cannot be read (truncated or corrupt)";
        out.assign(static_cast<size_t>(n), 0.f);
        return convert(t, f_.image().ptr(l.compact_at, want), static_cast<uint64_t>(n), out.data()) ? "" : "cannot be read (truncated or corrupt)";
      }
      if (l.cls == 1) {
        if (l.address == kUndefined) {  // never written: the fill value, 0
          if (want > 65536) return "has no stored data";
          out.assign(static_cast<size_t>(n), 0.f);
          return "";
        }
        if (l.size < want) return "is truncated";
        if (l.address > f_.image().size() || want > f_.image().size() - l.address) return "cannot be read (truncated or corrupt)";
        out.assign(static_cast<size_t>(n), 0.f);
        return convert(t, f_.image().ptr(l.address, want), static_cast<uint64_t>(n), out.data()) ? "" : "cannot be read (truncated or corrupt)";
      }
      return chunked(d, n, out);
    } catch (const Corrupt&) {
      return "cannot be read (truncated or corrupt)";
    }
  }

 private:
  std::string chunked(const Node& d, int64_t n, std::vector<float>& out) {
    const Layout& l = d.layout;
    const Datatype& t = d.type;
    const size_t rank = d.shape.size();
    if (l.chunk.size() != rank) return "has unreadable metadata";
    uint64_t chunk_elems = 1;
    for (uint64_t c : l.chunk) {
      if (c == 0 || c > static_cast<uint64_t>(kMaxElements) || chunk_elems > static_cast<uint64_t>(kMaxElements) / c)
        return "has unreadable metadata";
      chunk_elems *= c;
    }
    for (uint16_t id : l.filters)
      if (id != 1 && id != 2 && id != 3) return "is compressed with HDF5 filter " + std::to_string(id) + ", which kerasrt does not read";
    struct Chunk {
      std::vector<uint64_t> offset;
      uint64_t address, size;
      uint32_t mask;
    };
    std::vector<Chunk> chunks;
    if (l.address == kUndefined) return static_cast<uint64_t>(n) * t.size <= 65536 ? "" : "has no stored data";
    // Chunk-grid coordinates of the i-th chunk in row-major order (implicit and fixed-array indexes).
    std::vector<uint64_t> grid(rank);
    uint64_t grid_count = 1;
    for (size_t k = 0; k < rank; ++k) {
      grid[k] = (static_cast<uint64_t>(d.shape[k]) + l.chunk[k] - 1) / l.chunk[k];
      if (grid[k] != 0 && grid_count > (uint64_t{1} << 32) / grid[k]) corrupt("too many chunks");
      grid_count *= grid[k];
    }
    auto grid_offset = [&](uint64_t i) {
      std::vector<uint64_t> at(rank);
      for (size_t k = rank; k-- > 0;) {
        at[k] = i % grid[k] * l.chunk[k];
        i /= grid[k];
      }
      return at;
    };
    const uint64_t chunk_bytes = chunk_elems * t.size;
    if (l.chunk_index == 1) {
      chunks.push_back({std::vector<uint64_t>(rank, 0), l.address, l.filters.empty() ? chunk_bytes : l.single_chunk_size, 0});
    } else if (l.chunk_index == 2) {
      if (!l.filters.empty()) corrupt("an implicit chunk index with filters");
      for (uint64_t i = 0; i < grid_count; ++i) chunks.push_back({grid_offset(i), l.address + i * chunk_bytes, chunk_bytes, 0});
    } else if (l.chunk_index == 3) {
      fixed_array(l.address, grid_count, !l.filters.empty(), [&](uint64_t i, uint64_t addr, uint64_t size, uint32_t mask) {
        if (addr != kUndefined) chunks.push_back({grid_offset(i), addr, size ? size : chunk_bytes, mask});
      });
    } else {
      std::vector<std::pair<uint64_t, int>> todo{{l.address, 0}};
      std::set<uint64_t> visited;
      while (!todo.empty()) {
        auto [node, depth] = todo.back();
        todo.pop_back();
        if (!visited.insert(node).second || depth > 64 || visited.size() > (1 << 20)) corrupt("a chunk B-tree loops");
        if (!f_.image().matches(node, "TREE")) corrupt("a chunk B-tree node without its signature");
        Cursor c = f_.from(node + 4);
        if (c.u8() != 1) corrupt("a chunk B-tree of the wrong type");
        const uint8_t level = c.u8();
        const uint16_t entries = c.u16();
        c.offset();
        c.offset();
        for (uint16_t i = 0; i < entries; ++i) {
          Chunk ch;
          ch.size = c.u32();
          ch.mask = c.u32();
          for (size_t k = 0; k <= rank; ++k) ch.offset.push_back(c.u64());
          ch.offset.pop_back();
          ch.address = c.offset();
          if (level > 0) todo.emplace_back(ch.address, depth + 1);
          else chunks.push_back(std::move(ch));
          if (chunks.size() > (1u << 24)) corrupt("too many chunks");
        }
      }
    }
    // Stored bytes must plausibly hold the array before it is unpacked (deflate: ~1032:1 at most).
    uint64_t stored = 0;
    for (const Chunk& ch : chunks) stored += ch.size;
    const uint64_t want = static_cast<uint64_t>(n) * t.size;
    if (chunks.empty()) {
      if (want > 65536) return "has no stored data";
    } else if (l.filters.empty() ? stored < want / 2 : want / kMaxInflateRatio > stored) {
      // Unfiltered chunks hold at least the array (edge chunks are stored whole); deflated ones
      // expand by at most the limit.
      return "is implausibly large for its stored size";
    }
    out.assign(static_cast<size_t>(n), 0.f);
    std::vector<uint8_t> raw;
    std::vector<float> values;
    for (const Chunk& ch : chunks) {
      if (ch.address > f_.image().size() || ch.size > f_.image().size() - ch.address) corrupt("a chunk past the end");
      // What a chunk unpacks to must plausibly come from its stored bytes before it is allocated.
      if (l.filters.empty() ? ch.size < chunk_bytes : ch.size * kMaxInflateRatio < chunk_bytes)
        return "is implausibly large for its stored size";
      if (values.empty()) values.resize(static_cast<size_t>(chunk_elems));
      raw.assign(f_.image().ptr(ch.address, ch.size), f_.image().ptr(ch.address, ch.size) + ch.size);
      for (size_t k = l.filters.size(); k-- > 0;) {
        if (ch.mask & (1u << k)) continue;  // this filter was skipped for this chunk
        const uint16_t id = l.filters[k];
        if (id == 1) raw = inflate(raw, chunk_elems * t.size);
        else if (id == 2) raw = unshuffle(raw, t.size);
        else if (id == 3) raw.resize(raw.size() >= 4 ? raw.size() - 4 : 0);  // fletcher32 checksum
      }
      if (raw.size() < chunk_elems * t.size) corrupt("a chunk shorter than its dimensions");
      if (!convert(t, raw.data(), chunk_elems, values.data())) return "cannot be read (truncated or corrupt)";
      scatter(d.shape, l.chunk, ch.offset, values, out);
    }
    return "";
  }

  // The entries of a fixed-array chunk index ("FAHD" header, "FADB" data block holding the entries
  // before its checksum, or, with more entries than one page of 2^bits, a page bitmap and checksum
  // followed by the pages, each entries then a checksum).
  template <class F>
  void fixed_array(uint64_t header, uint64_t expected, bool filtered, F&& each) {
    if (!f_.image().matches(header, "FAHD")) corrupt("a fixed-array chunk index without its signature");
    Cursor h = f_.from(header + 4);
    h.u8();
    h.u8();  // client
    const uint8_t entry = h.u8();
    const uint8_t page_bits = h.u8();
    const uint64_t count = h.length();
    const uint64_t block = h.offset();
    const unsigned o = f_.offset_size();
    if (count != expected || page_bits > 32 || entry < o || entry > o + 8 + 4) corrupt("a fixed-array chunk index's sizes");
    if (!f_.image().matches(block, "FADB")) corrupt("a fixed-array data block without its signature");
    const uint64_t page = uint64_t{1} << page_bits;
    const bool paged = count > page;
    const uint64_t pages = (count + page - 1) / page;
    Cursor c = f_.from(block + 4);
    c.u8();
    c.u8();
    c.offset();  // header address
    if (paged) {
      c.skip((pages + 7) / 8);  // which pages are initialised
      c.u32();                  // the block's checksum; the pages follow
    }
    for (uint64_t i = 0; i < count; ++i) {
      const uint64_t addr = c.offset();
      uint64_t size = 0;
      uint32_t mask = 0;
      if (filtered) {
        size = c.uint(entry - o - 4);
        mask = c.u32();
      }
      each(i, addr, size, mask);
      if (paged && ((i + 1) % page == 0 || i + 1 == count)) c.u32();  // each page's checksum
    }
  }

  static std::vector<uint8_t> inflate(const std::vector<uint8_t>& in, uint64_t expect) {
    std::vector<uint8_t> out(static_cast<size_t>(expect));
    uLongf len = static_cast<uLongf>(expect);
    if (::uncompress(out.data(), &len, in.data(), static_cast<uLong>(in.size())) != Z_OK) corrupt("a chunk that does not inflate");
    out.resize(len);
    return out;
  }

  // Copies one chunk's values into the dataset, clipped at the dataset's edges.
  static void scatter(const std::vector<int64_t>& shape, const std::vector<uint64_t>& chunk,
                      const std::vector<uint64_t>& at, const std::vector<float>& values, std::vector<float>& out) {
    const size_t rank = shape.size();
    for (size_t k = 0; k < rank; ++k)
      if (at[k] >= static_cast<uint64_t>(shape[k]) || at[k] % chunk[k] != 0) corrupt("a chunk outside the dataset");
    if (rank == 0) {
      out[0] = values[0];
      return;
    }
    std::vector<uint64_t> idx(rank, 0);
    const uint64_t inner = std::min<uint64_t>(chunk[rank - 1], static_cast<uint64_t>(shape[rank - 1]) - at[rank - 1]);
    while (true) {
      bool inside = true;
      uint64_t src = 0, dst = 0;
      for (size_t k = 0; k < rank; ++k) {
        if (at[k] + idx[k] >= static_cast<uint64_t>(shape[k])) inside = false;
        src = src * chunk[k] + idx[k];
        dst = dst * static_cast<uint64_t>(shape[k]) + at[k] + idx[k];
      }
      if (inside) std::copy_n(values.begin() + static_cast<std::ptrdiff_t>(src), inner, out.begin() + static_cast<std::ptrdiff_t>(dst));
      // next row (all but the innermost index)
      size_t k = rank - 1;
      while (k-- > 0) {
        if (++idx[k] < chunk[k]) break;
        idx[k] = 0;
      }
      if (k == static_cast<size_t>(-1)) return;
    }
  }

  const File& f_;
};

// ---- the stream -----------------------------------------------------------------------------------

class Writer {
 public:
  Writer(const File& f, SnapshotSink& out, bool values_inline) : out_(out), data_(f), file_(f), inline_(values_inline) {}

  void node(const Node& n) {
    out_.u8(n.kind == Node::kGroup ? 'G' : n.kind == Node::kDataset ? 'D' : 'O');
    if (n.kind == Node::kOther) {
      out_.u32(0);
      out_.str(n.note);
      return;
    }
    out_.u32(static_cast<uint32_t>(n.attrs.size()));
    for (const Attr& a : n.attrs) {
      out_.str(a.name);
      if (a.is_string) {
        out_.u8('S');
        out_.u32(static_cast<uint32_t>(a.strings.size()));
        for (const auto& s : a.strings) out_.str(s);
      } else {
        out_.u8('N');
        out_.str(a.problem);
      }
    }
    if (n.kind == Node::kGroup) {
      out_.u32(static_cast<uint32_t>(n.children.size()));
      for (const auto& [name, child] : n.children) {
        out_.str(name);
        node(*child);
      }
      return;
    }
    dataset(n);
  }

 private:
  void dataset(const Node& n) {
    std::string problem = n.problem;
    int64_t count = 1;
    for (int64_t dim : n.shape) {
      if (dim > 0 && count > kMaxElements / dim) problem = "is implausibly large";
      if (!problem.empty()) break;
      count *= dim;
    }
    if (problem.empty() && n.type.cls != 0 && n.type.cls != 1)
      problem = "is not numeric (HDF5 type class " + std::to_string(n.type.cls < 0 ? 1 : n.type.cls) + ")";
    if (problem.empty() && !inline_ && count > 0 && in_place(n, static_cast<uint64_t>(count))) {
      out_.str(problem);
      out_.u32(static_cast<uint32_t>(n.shape.size()));
      for (int64_t dim : n.shape) out_.u64(static_cast<uint64_t>(dim));
      out_.u64(static_cast<uint64_t>(count) | kSnapshotInPlace);
      out_.u64(n.layout.address);
      return;
    }
    size_t stored = 0;
    if (problem.empty()) {
      problem = data_.read(n, count, buffer_);
      if (problem.empty()) stored = static_cast<size_t>(count);
    }
    out_.str(problem);
    out_.u32(static_cast<uint32_t>(n.shape.size()));
    for (int64_t dim : n.shape) out_.u64(static_cast<uint64_t>(dim));
    out_.u64(stored);
    out_.write(buffer_.data(), stored * sizeof(float));
  }

  // Contiguous little-endian float32 values, wholly inside the image: the stream says where.
  bool in_place(const Node& n, uint64_t count) const {
    const Layout& l = n.layout;
    const uint64_t want = count * 4;
    return l.cls == 1 && l.address != kUndefined && n.type.cls == 1 && n.type.size == 4 && !n.type.big_endian &&
           l.size >= want && l.address <= file_.image().size() && want <= file_.image().size() - l.address;
  }

  SnapshotSink& out_;
  DataReader data_;
  const File& file_;
  bool inline_;
  std::vector<float> buffer_;
};

}  // namespace

std::vector<uint8_t> hdf5_snapshot(std::span<const uint8_t> image, bool values_inline) {
  SnapshotSink out;
  out.write(kSnapshotMagic, sizeof kSnapshotMagic);
  std::unique_ptr<Node> root;
  File f(image);
  try {
    const uint64_t root_addr = f.open();
    Walker w(f);
    root = w.object(root_addr, 0);
    if (root->kind != Node::kGroup) corrupt("no root group");
  } catch (const Corrupt& c) {
    out.u8('X');
    out.str("cannot open as HDF5 (" + c.what + ")");
    out.u8('E');
    return std::move(out.bytes);
  }
  // Inline values take about the file's size: reserving it spares the stream its regrowth copies.
  if (values_inline) out.bytes.reserve(image.size() + (size_t{1} << 20));
  Writer(f, out, values_inline).node(*root);
  out.u8('E');
  return std::move(out.bytes);
}

}  // namespace kerasrt::io
