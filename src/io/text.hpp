// Text taken from files (names, JSON snippets) on its way into a one-line error message.
#pragma once

#include <string>
#include <string_view>

namespace kerasrt::io {

// Control characters (newlines included) and bytes that are not valid UTF-8 become '?';
// text longer than `max_bytes` is cut with "...".
std::string printable(std::string_view text, size_t max_bytes = 2000);

}  // namespace kerasrt::io
