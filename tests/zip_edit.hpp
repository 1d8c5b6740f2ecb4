// Rewrites one entry of a copy of a zip archive with libzip, for tests that need a .keras file
// changed in one place (a bad entry, another metadata.json).
#pragma once

#include <zip.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

namespace kerasrt::testing {

// Replaces (or with `remove`, deletes) `entry` in a copy of `from` written to `to`; returns "" or
// what failed.
inline std::string rewrite_entry(const std::string& from, const std::string& to, const std::string& entry,
                                 const std::string& content, bool remove = false) {
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
  int err = 0;
  zip_t* z = zip_open(to.c_str(), 0, &err);
  if (!z) return "cannot open";
  zip_int64_t idx = zip_name_locate(z, entry.c_str(), 0);
  if (remove) {
    if (idx < 0 || zip_delete(z, static_cast<zip_uint64_t>(idx)) != 0) return "cannot delete";
  } else {
    void* copy = std::malloc(content.size() + 1);
    std::memcpy(copy, content.data(), content.size());
    zip_source_t* src = zip_source_buffer(z, copy, content.size(), 1);
    if (zip_file_add(z, entry.c_str(), src, ZIP_FL_OVERWRITE) < 0) return "cannot add";
  }
  return zip_close(z) == 0 ? "" : "cannot write";
}

}  // namespace kerasrt::testing
