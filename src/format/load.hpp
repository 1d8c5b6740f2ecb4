// Entry points from bytes to the neutral graph, one per Keras file form.
#pragma once

#include <span>

#include <kerasrt/kerasrt.hpp>

#include "ir/graph.hpp"

namespace kerasrt::format {

// `limits` bounds what reading may allocate (archive entries, their total, compression ratios).
ir::Graph load_keras_archive(std::span<const uint8_t> bytes, const std::string& name, const LoadLimits& limits = {});
ir::Graph load_legacy_h5(std::span<const uint8_t> bytes, const std::string& name, const LoadLimits& limits = {});
ir::Graph load_config_json(const std::string& json, std::span<const uint8_t> weights, const std::string& name,
                           const std::string& weights_name, const LoadLimits& limits = {});
// Picks the form from the path's extension and the file's first bytes.
ir::Graph load_path(const std::string& path, const std::string& weights_path, const LoadLimits& limits = {});

}  // namespace kerasrt::format
