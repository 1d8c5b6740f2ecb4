// The snapshot stream of an HDF5 image as the HDF5 C library reads it (the oracle for kerasrt's
// own reader in the tests).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "io/hdf5.hpp"
#include "io/hdf5_snapshot.hpp"

namespace kerasrt::testing {

std::vector<uint8_t> libhdf5_snapshot(std::span<const uint8_t> image);

}  // namespace kerasrt::testing
