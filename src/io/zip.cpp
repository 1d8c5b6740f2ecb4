#include "io/zip.hpp"

#include <zip.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <kerasrt/kerasrt.hpp>

#include "io/npy.hpp"

namespace kerasrt::io {

namespace {
constexpr uint64_t kMaxArchiveBytes = uint64_t{16} << 30;

uint64_t le(std::span<const uint8_t> b, uint64_t at, unsigned n) {
  uint64_t v = 0;
  for (unsigned i = 0; i < n; ++i) v |= static_cast<uint64_t>(b[at + i]) << (8 * i);
  return v;
}

bool within(std::span<const uint8_t> b, uint64_t at, uint64_t n) { return at <= b.size() && n <= b.size() - at; }

// Where entry `index` of the central directory keeps its data: the offset of its local header as
// the directory records it (zip64 included), read with every offset checked. libzip, which has
// already checked the archive, does not say where an entry's bytes are; nullopt sends the caller
// back to libzip's copying read.
std::optional<uint64_t> local_header_offset(std::span<const uint8_t> b, uint64_t index, const std::string& name) {
  if (b.size() < 22) return std::nullopt;
  // The end record is the last 22 bytes plus a comment of at most 65535.
  uint64_t eocd = b.size() - 22;
  const uint64_t lowest = b.size() >= 22 + 65535 ? b.size() - 22 - 65535 : 0;
  while (le(b, eocd, 4) != 0x06054b50) {
    if (eocd == lowest) return std::nullopt;
    --eocd;
  }
  uint64_t entries = le(b, eocd + 10, 2), cd_size = le(b, eocd + 12, 4), cd_at = le(b, eocd + 16, 4);
  if (entries == 0xFFFF || cd_size == 0xFFFFFFFF || cd_at == 0xFFFFFFFF) {
    if (eocd < 20 || le(b, eocd - 20, 4) != 0x07064b50) return std::nullopt;
    uint64_t z64 = le(b, eocd - 20 + 8, 8);
    if (!within(b, z64, 56) || le(b, z64, 4) != 0x06064b50) return std::nullopt;
    entries = le(b, z64 + 32, 8), cd_size = le(b, z64 + 40, 8), cd_at = le(b, z64 + 48, 8);
  }
  if (index >= entries || !within(b, cd_at, cd_size)) return std::nullopt;
  const uint64_t cd_end = cd_at + cd_size;
  uint64_t at = cd_at;
  for (uint64_t i = 0;; ++i) {
    if (at > cd_end || cd_end - at < 46 || le(b, at, 4) != 0x02014b50) return std::nullopt;
    const uint64_t n = le(b, at + 28, 2), e = le(b, at + 30, 2), c = le(b, at + 32, 2);
    if (cd_end - at - 46 < n + e + c) return std::nullopt;
    if (i == index) {
      if (n != name.size() || std::memcmp(b.data() + at + 46, name.data(), n) != 0) return std::nullopt;
      uint64_t offset = le(b, at + 42, 4);
      if (offset != 0xFFFFFFFF) return offset;
      // zip64 extra field: the 8-byte values present are those whose 4-byte fields are all ones.
      uint64_t x = at + 46 + n;
      const uint64_t x_end = x + e;
      while (x_end - x >= 4) {
        const uint64_t id = le(b, x, 2), len = le(b, x + 2, 2);
        if (x_end - x - 4 < len) return std::nullopt;
        if (id == 1) {
          uint64_t skip = (le(b, at + 24, 4) == 0xFFFFFFFF ? 8 : 0) + (le(b, at + 20, 4) == 0xFFFFFFFF ? 8 : 0);
          if (len < skip + 8) return std::nullopt;
          return le(b, x + 4 + skip, 8);
        }
        x += 4 + len;
      }
      return std::nullopt;
    }
    at += 46 + n + e + c;
  }
}
}  // namespace

struct ZipReader::State {
  std::shared_ptr<const ByteBuffer> bytes;  // the whole archive
  zip_t* archive = nullptr;
  ZipLimits limits;
  mutable uint64_t total_read = 0;
  ~State() {
    if (archive) zip_discard(archive);
  }
};

ZipReader::~ZipReader() = default;
ZipReader::ZipReader(ZipReader&&) noexcept = default;
ZipReader& ZipReader::operator=(ZipReader&&) noexcept = default;

ZipReader ZipReader::from_memory(std::span<const uint8_t> bytes, const std::string& name, const ZipLimits& limits) {
  auto copy = std::make_shared<ByteBuffer>(bytes.size());
  if (!bytes.empty()) std::memcpy(copy->data(), bytes.data(), bytes.size());
  return from_bytes(std::move(copy), name, limits);
}

ZipReader ZipReader::from_bytes(std::shared_ptr<const ByteBuffer> bytes, const std::string& name, const ZipLimits& limits) {
  ZipReader z;
  z.name_ = name;
  z.state_ = std::make_unique<State>();
  z.state_->bytes = std::move(bytes);
  z.state_->limits = limits;
  // libzip takes an empty buffer for an empty archive; a real one has at least its end record.
  if (z.state_->bytes->size() == 0) throw Error(name + ": the file is empty, not a zip archive");
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* src = zip_source_buffer_create(z.state_->bytes->data(), z.state_->bytes->size(), 0, &err);
  if (!src) {
    std::string msg = zip_error_strerror(&err);
    zip_error_fini(&err);
    throw Error(name + ": not a readable zip archive: " + msg);
  }
  z.state_->archive = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err);
  if (!z.state_->archive) {
    std::string msg = zip_error_strerror(&err);
    zip_source_free(src);
    zip_error_fini(&err);
    throw Error(name + ": not a readable zip archive: " + msg);
  }
  zip_error_fini(&err);
  return z;
}

ZipReader ZipReader::from_shared(std::shared_ptr<const ByteBuffer> bytes, const std::string& name, const ZipLimits& limits) {
  return from_bytes(std::move(bytes), name, limits);
}

ZipReader ZipReader::from_file(const std::string& path, const ZipLimits& limits) {
  return from_bytes(read_file_buffer(path, kMaxArchiveBytes), path, limits);
}

std::vector<std::string> ZipReader::entries() const {
  std::vector<std::string> out;
  zip_int64_t n = zip_get_num_entries(state_->archive, 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    const char* nm = zip_get_name(state_->archive, static_cast<zip_uint64_t>(i), 0);
    if (nm) out.emplace_back(nm);
  }
  return out;
}

bool ZipReader::has(const std::string& entry) const {
  return zip_name_locate(state_->archive, entry.c_str(), 0) >= 0;
}

struct ZipReader::Stat {
  zip_uint64_t index = 0;
  uint64_t size = 0, comp_size = 0;
  bool stored = false;
  bool has_crc = false;
  uint32_t crc = 0;
};

ZipReader::Stat ZipReader::checked_stat(const std::string& entry, uint64_t max_bytes) const {
  zip_stat_t st;
  zip_stat_init(&st);
  std::string what = name_ + ": entry '" + entry + "'";
  if (zip_stat(state_->archive, entry.c_str(), 0, &st) != 0)
    throw Error(name_ + ": the archive has no entry '" + entry + "'");
  if (!(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE) || !(st.valid & ZIP_STAT_INDEX))
    throw Error(what + " has no recorded size (corrupt archive)");
  if (st.size > max_bytes)
    throw Error(what + " is too large (" + std::to_string(st.size) + " bytes; the limit is " + std::to_string(max_bytes) +
                ", LoadLimits::max_entry_bytes, --max-entry-mb)");
  // The directory can lie: the compressed bytes must fit in the archive, and expand plausibly.
  uint64_t archive = state_->bytes->size();
  if (st.comp_size > archive) throw Error(what + " claims more bytes than the archive holds (truncated or corrupt)");
  bool stored = (st.valid & ZIP_STAT_COMP_METHOD) && st.comp_method == ZIP_CM_STORE;
  if (stored && st.size != st.comp_size) throw Error(what + " has inconsistent sizes (corrupt archive)");
  if (!stored && st.size / 1100 > st.comp_size + 1024)
    throw Error(what + " claims an implausible compression ratio (corrupt archive)");
  const ZipLimits& lim = state_->limits;
  if (!stored && st.size > lim.ratio_floor && static_cast<double>(st.size) > lim.max_ratio * static_cast<double>(st.comp_size))
    throw Error(what + " would expand " + std::to_string(st.comp_size) + " bytes to " + std::to_string(st.size) +
                ", a compression ratio above the limit of " + std::to_string(static_cast<int>(lim.max_ratio)) +
                " (LoadLimits::max_compression_ratio, --max-ratio)");
  if (st.size > lim.max_total_bytes - std::min(lim.max_total_bytes, state_->total_read))
    throw Error(what + ": the archive's entries would take more than the limit of " +
                std::to_string(lim.max_total_bytes >> 20) + " MiB (LoadLimits::max_archive_bytes, --max-archive-mb)");
  state_->total_read += st.size;
  return {st.index, st.size, st.comp_size, stored, (st.valid & ZIP_STAT_CRC) != 0, st.crc};
}

std::vector<uint8_t> ZipReader::read(const std::string& entry, uint64_t max_bytes) const {
  const Stat st = checked_stat(entry, max_bytes);
  std::string what = name_ + ": entry '" + entry + "'";
  zip_file_t* f = zip_fopen_index(state_->archive, st.index, 0);
  if (!f) throw Error(what + " cannot be opened: " + zip_strerror(state_->archive));
  // The declared size is bounded above (a stored entry lies within the archive, a compressed one
  // within the ratio checked), so the buffer is allocated once; reading one byte more than declared
  // notices an entry longer than its directory says.
  std::vector<uint8_t> out(static_cast<size_t>(st.size) + 1);
  std::string err;
  uint64_t have = 0;
  while (have < out.size()) {
    zip_int64_t got = zip_fread(f, out.data() + have, out.size() - have);
    if (got < 0) {
      err = zip_file_strerror(f);
      break;
    }
    if (got == 0) break;
    have += static_cast<uint64_t>(got);
  }
  out.resize(static_cast<size_t>(have));
  zip_fclose(f);
  if (!err.empty() || out.size() != st.size)
    throw Error(what + " is truncated or corrupt" + (err.empty() ? "" : ": " + err));
  return out;
}

std::span<const uint8_t> ZipReader::stored_bytes(const std::string& entry, const Stat& st) const {
  std::span<const uint8_t> b = state_->bytes->bytes();
  if (!st.stored || !st.has_crc) return {};
  auto header = local_header_offset(b, st.index, entry);
  if (!header || !within(b, *header, 30) || le(b, *header, 4) != 0x04034b50) return {};
  const uint64_t data = *header + 30 + le(b, *header + 26, 2) + le(b, *header + 28, 2);
  if (!within(b, data, st.size)) return {};
  return b.subspan(static_cast<size_t>(data), static_cast<size_t>(st.size));
}

SharedBytes ZipReader::read_shared(const std::string& entry, uint64_t max_bytes) const {
  const Stat st = checked_stat(entry, max_bytes);
  std::span<const uint8_t> view = stored_bytes(entry, st);
  if (view.empty() && st.size > 0) {
    state_->total_read -= st.size;  // read() counts it again
    auto bytes = std::make_shared<std::vector<uint8_t>>(read(entry, max_bytes));
    std::span<const uint8_t> all(*bytes);
    return {std::move(bytes), all};
  }
  if (crc32_z(0, view.data(), view.size()) != st.crc)
    throw Error(name_ + ": entry '" + entry + "' is corrupt (its CRC-32 does not match)");
  return {state_->bytes, view};
}

void write_zip(const std::string& path,
               const std::vector<std::pair<std::string, std::vector<uint8_t>>>& entries) {
  int code = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
  if (!z) throw Error(path + ": cannot create file (libzip error " + std::to_string(code) + ")");
  for (const auto& [name, bytes] : entries) {
    zip_source_t* src = zip_source_buffer(z, bytes.data(), bytes.size(), 0);
    zip_int64_t idx = src ? zip_file_add(z, name.c_str(), src, ZIP_FL_OVERWRITE | ZIP_FL_ENC_UTF_8) : -1;
    if (idx < 0) {
      if (src) zip_source_free(src);
      std::string msg = zip_strerror(z);
      zip_discard(z);
      throw Error(path + ": cannot add '" + name + "': " + msg);
    }
    zip_set_file_compression(z, static_cast<zip_uint64_t>(idx), ZIP_CM_STORE, 0);
  }
  if (zip_close(z) != 0) {
    std::string msg = zip_strerror(z);
    zip_discard(z);
    throw Error(path + ": cannot write: " + msg);
  }
}

}  // namespace kerasrt::io
