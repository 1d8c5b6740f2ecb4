#include "io/zip.hpp"

#include <zip.h>

#include <algorithm>
#include <kerasrt/kerasrt.hpp>

#include "io/npy.hpp"

namespace kerasrt::io {

namespace {
constexpr uint64_t kMaxArchiveBytes = uint64_t{16} << 30;
}

struct ZipReader::State {
  std::vector<uint8_t> bytes;  // backing store when opened from memory
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
  return from_bytes(std::vector<uint8_t>(bytes.begin(), bytes.end()), name, limits);
}

ZipReader ZipReader::from_bytes(std::vector<uint8_t> bytes, const std::string& name, const ZipLimits& limits) {
  ZipReader z;
  z.name_ = name;
  z.state_ = std::make_unique<State>();
  z.state_->bytes = std::move(bytes);
  z.state_->limits = limits;
  // libzip takes an empty buffer for an empty archive; a real one has at least its end record.
  if (z.state_->bytes.empty()) throw Error(name + ": the file is empty, not a zip archive");
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* src = zip_source_buffer_create(z.state_->bytes.data(), z.state_->bytes.size(), 0, &err);
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

ZipReader ZipReader::from_owned(std::vector<uint8_t> bytes, const std::string& name, const ZipLimits& limits) {
  return from_bytes(std::move(bytes), name, limits);
}

ZipReader ZipReader::from_file(const std::string& path, const ZipLimits& limits) {
  return from_bytes(read_file(path, kMaxArchiveBytes), path, limits);
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

std::vector<uint8_t> ZipReader::read(const std::string& entry, uint64_t max_bytes) const {
  zip_stat_t st;
  zip_stat_init(&st);
  std::string what = name_ + ": entry '" + entry + "'";
  if (zip_stat(state_->archive, entry.c_str(), 0, &st) != 0)
    throw Error(name_ + ": the archive has no entry '" + entry + "'");
  if (!(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE))
    throw Error(what + " has no recorded size (corrupt archive)");
  if (st.size > max_bytes)
    throw Error(what + " is too large (" + std::to_string(st.size) + " bytes; the limit is " + std::to_string(max_bytes) +
                ", LoadLimits::max_entry_bytes, --max-entry-mb)");
  // The directory can lie: the compressed bytes must fit in the archive, and expand plausibly.
  uint64_t archive = state_->bytes.size();
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
  zip_file_t* f = zip_fopen(state_->archive, entry.c_str(), 0);
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
